"""Offers and prices: what a shopper pays for a product, and why. Plain Python, no I/O.

The rules, in the order they are applied:

* An offer **applies** to a shopper at a moment when it is inside its validity
  window (``starts <= now < ends``; whole days are resolved in the store's time
  zone when the offer is built, see :func:`offer_from_record`), targets the
  shopper (everyone; or any of the shopper's tier, price groups, segments, or
  the shopper by name: an anonymous shopper only gets offers for everyone),
  has uses left for this customer, is activated when it needs activation, and
  its code was entered when it is a promo-code offer. :func:`status` says which
  of these failed first.
* An offer **covers** a product when the product is among its GTINs or in one
  of its categories; an offer naming neither covers the whole assortment.
  GTINs of products the store does not sell are simply never matched.
* The **best price** is the lowest of the shelf price, the shopper's price
  groups' prices and the prices of the offers that apply and cover the product.
  Offers do not stack: each candidate is computed from the shelf price. A
  candidate is never below zero, and a candidate that is not below the shelf
  price loses to it, so the best price is never worse than the shelf price.
  Ties go to the shelf price, then to the higher priority, then to a price
  group before an offer, then to the smaller id: the answer never depends on
  the order things were stored or pushed in.
* The **reason** is the title of the winning offer or the name of the winning
  price group, in the shopper's language (falling back to nl, en, fr).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from .contract import DATE_WINDOW, LANGUAGES, OfferKind

PRICE_KINDS = frozenset({OfferKind.PERCENTAGE_OFF, OfferKind.AMOUNT_OFF, OfferKind.PERSONAL_PRICE,
                         OfferKind.PROMO_CODE})
_EMPTY: Mapping = MappingProxyType({})


def text_in(texts: Mapping[str, str] | None, language: str | None) -> str | None:
    """``texts`` in ``language``, else in the first of nl, en, fr it has; None without texts."""
    if not texts:
        return None
    if language and texts.get(language):
        return texts[language]
    for candidate in LANGUAGES:
        if texts.get(candidate):
            return texts[candidate]
    return None


class Skip(StrEnum):
    """Why an offer does not apply to a shopper now (the first reason found)."""

    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"
    NOT_FOR_THIS_CUSTOMER = "not-for-this-customer"
    USED_UP = "used-up"
    NEEDS_ACTIVATION = "needs-activation"
    NEEDS_CODE = "needs-code"


class Item(NamedTuple):
    """A product as matching sees it (a tuple: whole catalogues are read into these)."""

    gtin: str
    price_cents: int
    category: str


@dataclass(frozen=True, slots=True)
class Shopper:
    """The customer as matching sees them; the default is the anonymous shopper.

    :param uses: times each offer was used (by offer id), as central counts.
    :param activated: ids of the offers activated on the account.
    :param group_prices: whether the price groups' own prices count (the screen
        may target offers by price group without showing personal prices).
    """

    customer: str | None = None
    tier: str | None = None
    price_groups: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    uses: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    activated: frozenset[str] = frozenset()
    language: str = "nl"
    group_prices: bool = True


ANONYMOUS = Shopper()


@dataclass(frozen=True, slots=True)
class GroupPrice:
    """A price group's price for one product."""

    price_group: str
    price_cents: int
    name: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer ready for matching: validity as aware instants, targeting and scope as sets.

    ``ends`` is exclusive. Build from central's record with :func:`offer_from_record`.
    """

    id: str
    version: int
    kind: OfferKind
    title: Mapping[str, str]
    starts: datetime
    ends: datetime
    everyone: bool = False
    tiers: frozenset[str] = frozenset()
    price_groups: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    customers: frozenset[str] = frozenset()
    gtins: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    priority: int = 0
    uses_per_customer: int | None = None
    requires_activation: bool = False
    percent: Decimal | None = None
    amount_cents: int | None = None
    price_cents: int | None = None
    gift: str | None = None
    min_spend_cents: int | None = None
    code: str | None = None
    description: Mapping[str, str] | None = None
    # What a percentage leaves of the price, as an exact integer fraction
    # (numerator, denominator): whole catalogues are priced with it.
    _kept: tuple[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.percent is not None:
            kept = (Decimal(100) - self.percent) / 100
            object.__setattr__(self, "_kept", kept.as_integer_ratio())

    @property
    def assortment_wide(self) -> bool:
        return not self.gtins and not self.categories

    @property
    def personal(self) -> bool:
        """Targeted at some customers rather than everyone."""
        return not self.everyone

    @property
    def changes_price(self) -> bool:
        return self.kind in PRICE_KINDS

    def covers(self, item: Item) -> bool:
        return (not self.gtins and not self.categories) or item.gtin in self.gtins or item.category in self.categories

    def targets(self, shopper: Shopper) -> bool:
        """True when the offer is meant for ``shopper`` (validity and uses aside)."""
        if self.everyone:
            return True
        if shopper.customer is None:
            return False
        return (shopper.tier in self.tiers or shopper.customer in self.customers
                or not self.price_groups.isdisjoint(shopper.price_groups)
                or not self.segments.isdisjoint(shopper.segments))

    def uses_left(self, shopper: Shopper) -> int | None:
        if self.uses_per_customer is None:
            return None
        return max(0, self.uses_per_customer - shopper.uses.get(self.id, 0))

    def price_for(self, shelf_cents: int) -> int | None:
        """The price of a product on this offer (never below zero), or None when it is no price offer.

        A percentage is rounded half up to the cent: 10 % off 12.95 is 11.66.
        """
        if self._kept is not None:
            numerator, denominator = self._kept
            return (shelf_cents * numerator + denominator // 2) // denominator
        if self.amount_cents is not None:
            return max(0, shelf_cents - self.amount_cents)
        if self.price_cents is not None:
            return self.price_cents
        return None


def status(offer: Offer, shopper: Shopper, now: datetime, codes: frozenset[str] = frozenset()) -> Skip | None:
    """None when ``offer`` applies to ``shopper`` at ``now`` with promo ``codes`` entered; else why not."""
    if now < offer.starts:
        return Skip.NOT_YET_VALID
    if now >= offer.ends:
        return Skip.EXPIRED
    if not offer.targets(shopper):
        return Skip.NOT_FOR_THIS_CUSTOMER
    if offer.uses_per_customer is not None and shopper.uses.get(offer.id, 0) >= offer.uses_per_customer:
        return Skip.USED_UP
    if offer.requires_activation and offer.id not in shopper.activated:
        return Skip.NEEDS_ACTIVATION
    if offer.code is not None and offer.code not in codes:
        return Skip.NEEDS_CODE
    return None


def listing_order(offer: Offer) -> tuple:
    """Offers are listed by priority (highest first), then id."""
    return (-offer.priority, offer.id)


# --------------------------------------------------------------------------- building offers


def _bound(value: str, zone: tzinfo, end: bool) -> datetime:
    """One end of a validity window as an aware instant.

    :raises ValueError: for a bound that is no date or instant with its offset, or one
        outside the contract's :data:`~edge_agent.contract.DATE_WINDOW` (which the contract
        refuses; an older agent stored such values): inside it, the day after, the store's
        time zone and UTC never leave what ``datetime`` holds.
    """
    whole_day = len(value) == 10  # a whole day in the store's time zone
    bound = datetime.combine(date.fromisoformat(value), time(0), tzinfo=zone) if whole_day \
        else datetime.fromisoformat(value)
    if bound.tzinfo is None:
        raise ValueError(f"{'valid_until' if end else 'valid_from'} {value!r} has no UTC offset")
    if not DATE_WINDOW[0] <= bound.date() <= DATE_WINDOW[1]:
        raise ValueError(f"{'valid_until' if end else 'valid_from'} {value} is outside "
                         f"{DATE_WINDOW[0].isoformat()}..{DATE_WINDOW[1].isoformat()}")
    return bound + timedelta(days=1) if whole_day and end else bound


def window(valid_from: str, valid_until: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """The validity of an offer as ``(starts, ends)``, ``ends`` exclusive.

    :param valid_from: an ISO date (from the start of that day in ``zone``) or
        an instant with its UTC offset.
    :param valid_until: an ISO date (through the end of that day in ``zone``)
        or an instant.
    :raises ValueError: for a bound :func:`_bound` cannot use.
    """
    return _bound(valid_from, zone, end=False), _bound(valid_until, zone, end=True)


def _texts(value: Mapping[str, str | None] | None) -> Mapping[str, str] | None:
    if not value:
        return None
    return MappingProxyType({language: text for language, text in value.items() if text})


def offer_from_record(record: Mapping, zone: tzinfo, customers: Iterable[str] = ()) -> Offer:
    """An :class:`Offer` from central's offer record (as JSON data, already validated by the contract).

    :param zone: the store's time zone, for validity given as dates.
    :param customers: the named customers, kept apart from the record (they are erased with the customer).
    :raises ValueError: for a validity bound outside the contract's window (a record stored by an older agent).
    """
    targeting = record["targeting"]
    starts, ends = window(str(record["valid_from"]), str(record["valid_until"]), zone)
    percent = record.get("percent")
    return Offer(
        id=record["offer"], version=record["version"], kind=OfferKind(record["kind"]),
        title=_texts(record["title"]) or MappingProxyType({"nl": record["offer"]}),
        description=_texts(record.get("description")), starts=starts, ends=ends,
        everyone=bool(targeting.get("everyone")), tiers=frozenset(targeting.get("tiers") or ()),
        price_groups=frozenset(targeting.get("price_groups") or ()),
        segments=frozenset(targeting.get("segments") or ()),
        customers=frozenset(customers) | frozenset(targeting.get("customers") or ()),
        gtins=frozenset(record.get("products") or ()), categories=frozenset(record.get("categories") or ()),
        priority=record.get("priority", 0), uses_per_customer=record.get("uses_per_customer"),
        requires_activation=bool(record.get("requires_activation")),
        percent=None if percent is None else Decimal(str(percent)), amount_cents=record.get("amount_cents"),
        price_cents=record.get("price_cents"), gift=record.get("gift"),
        min_spend_cents=record.get("min_spend_cents"), code=record.get("code"),
    )


# --------------------------------------------------------------------------- prices


class PriceMatch(NamedTuple):
    """The best price of one product for one shopper, and what else applies to it (a tuple: a
    catalogue match makes one per deal).

    :param source: ``shelf``, ``price-list`` or ``offer``.
    :param offers: the offers that apply to this product for this shopper (gifts too), in listing order.
    :param waiting: offers for this shopper and product that wait for an activation.
    :param skipped: every other offer covering the product, with why it does not apply
        (only when asked to explain).
    :param candidates: every price considered, as ``(price_cents, what)`` (only when asked to explain).
    """

    item: Item
    price_cents: int
    source: str = "shelf"
    offer: Offer | None = None
    group: GroupPrice | None = None
    offers: tuple[Offer, ...] = ()
    waiting: tuple[Offer, ...] = ()
    skipped: tuple[tuple[Offer, Skip], ...] = ()
    candidates: tuple[tuple[int, str], ...] = ()

    @property
    def saving_cents(self) -> int:
        return self.item.price_cents - self.price_cents

    def reason(self, language: str | None) -> str | None:
        """Why this price, e.g. 'Goud-prijs' or 'Voorjaarsactie -10%'; None at the shelf price."""
        if self.offer is not None:
            return text_in(self.offer.title, language) or self.offer.id
        if self.group is not None:
            return text_in(self.group.name, language) or self.group.price_group
        return None


def best_price(item: Item, shopper: Shopper, offers: Iterable[Offer], group_prices: Iterable[GroupPrice],
               now: datetime, codes: frozenset[str] = frozenset(), explain: bool = False) -> PriceMatch:
    """The best price of ``item`` for ``shopper`` at ``now``.

    :param offers: candidate offers; those not covering ``item`` are ignored.
    :param group_prices: prices of price groups for ``item``; only the shopper's groups count.
    :param codes: promo codes the shopper entered (upper case).
    :param explain: also report every candidate price and every skipped offer.
    """
    shelf = item.price_cents
    # (price, not shelf, -priority, offer after group, id) orders candidates: see the module's rules.
    best_key: tuple = (shelf, 0, 0, 0, "")
    best_offer: Offer | None = None
    best_group: GroupPrice | None = None
    applying: list[Offer] = []
    waiting: list[Offer] = []
    skipped: list[tuple[Offer, Skip]] = []
    candidates: list[tuple[int, str]] = [(shelf, "shelf")] if explain else []
    for group in group_prices:
        if not shopper.group_prices or group.price_group not in shopper.price_groups:
            continue
        key = (max(0, group.price_cents), 1, 0, 0, group.price_group)
        if explain:
            candidates.append((key[0], f"price-list:{group.price_group}"))
        if key < best_key:
            best_key, best_group, best_offer = key, group, None
    for offer in offers:
        if not offer.covers(item):
            continue
        why = status(offer, shopper, now, codes)
        if why is not None:
            if why is Skip.NEEDS_ACTIVATION:
                waiting.append(offer)
            if explain:
                skipped.append((offer, why))
            continue
        applying.append(offer)
        price = offer.price_for(shelf)
        if price is None:
            continue
        key = (price, 1, -offer.priority, 1, offer.id)
        if explain:
            candidates.append((price, f"offer:{offer.id}"))
        if key < best_key:
            best_key, best_offer, best_group = key, offer, None
    applying.sort(key=listing_order)
    waiting.sort(key=listing_order)
    skipped.sort(key=lambda pair: listing_order(pair[0]))
    source = "offer" if best_offer is not None else "price-list" if best_group is not None else "shelf"
    return PriceMatch(item, best_key[0], source, best_offer, best_group, tuple(applying), tuple(waiting),
                      tuple(skipped), tuple(sorted(candidates)))


def catalogue_deals(shopper: Shopper, offers: Iterable[Offer], items: Iterable[Item],
                    group_prices: Mapping[str, list[GroupPrice]], now: datetime,
                    codes: frozenset[str] = frozenset()) -> list[PriceMatch]:
    """The products ``shopper`` pays less than the shelf price for, biggest saving first (then GTIN).

    Each deal has the price, source, offer or group :func:`best_price` would give; its ``offers``
    are left empty (they are the product's own business).

    :param offers: candidate offers (e.g. those targeting the shopper); the ones that do not apply are ignored.
    :param items: the products to consider: at least those covered by the offers and priced by the groups.
    :param group_prices: the shopper's price groups' prices by GTIN.
    """
    by_gtin: dict[str, list[tuple]] = {}
    by_category: dict[str, list[tuple]] = {}
    wide: list[tuple] = []
    for offer in offers:
        if not offer.changes_price or status(offer, shopper, now, codes) is not None:
            continue
        entry = _pricing_entry(offer)
        if offer.assortment_wide:
            wide.append(entry)
        for gtin in offer.gtins:
            by_gtin.setdefault(gtin, []).append(entry)
        for category in offer.categories:
            by_category.setdefault(category, []).append(entry)
    allowed = shopper.price_groups if shopper.group_prices else frozenset()
    # The offers of a category with the assortment-wide ones, built once per call, not per product.
    per_category = {category: tuple(entries) + tuple(wide) for category, entries in by_category.items()}
    everywhere = tuple(wide)
    found = []
    # best_price's choice, unrolled (this loop runs for every product of a catalogue): the lowest
    # price; on a tie the shelf, then the higher priority (lower rank), then a group before an
    # offer, then the smaller id. No tuple per candidate: allocations wake the garbage collector,
    # which then walks every offer in memory.
    for item in items:
        gtin, shelf, category = item
        named = by_gtin.get(gtin)
        covering = per_category.get(category, everywhere)
        groups = group_prices.get(gtin) if group_prices else None
        if not (named or covering or groups):
            continue
        lowest, rank, is_offer, ident, winner = shelf, 0, 0, "", None
        if groups:
            for group in groups:
                price = group.price_cents
                if group.price_group not in allowed or price > lowest:
                    continue
                if price < lowest or (winner is not None and (rank > 0 or (rank == 0 and (
                        is_offer or group.price_group < ident)))):
                    lowest, rank, is_offer, ident, winner = price, 0, 0, group.price_group, group
        for candidates in (named, covering) if named else (covering,):
            for how, first, second, half, offer_rank, offer_id, offer in candidates:
                if how == _KEEP:  # a percentage: round half up to the cent
                    price = (shelf * first + half) // second
                elif how == _LESS:
                    price = shelf - first if shelf > first else 0
                else:
                    price = first
                if price > lowest:
                    continue
                if price < lowest or (winner is not None and (offer_rank < rank or (offer_rank == rank and (
                        is_offer and offer_id < ident)))):
                    lowest, rank, is_offer, ident, winner = price, offer_rank, 1, offer_id, offer
        if winner is not None:
            found.append((lowest - shelf, gtin, item, winner))
    found.sort()  # by saving (negative: biggest first), then GTIN, unique per item
    return [PriceMatch(item, item.price_cents + saving, "offer", winner, None) if isinstance(winner, Offer)
            else PriceMatch(item, item.price_cents + saving, "price-list", None, winner)
            for saving, _, item, winner in found]


_KEEP, _LESS, _FIXED = 0, 1, 2


def _pricing_entry(offer: Offer) -> tuple:
    """How ``offer`` prices a product, flattened for the catalogue loop (same results as Offer.price_for)."""
    if offer._kept is not None:
        numerator, denominator = offer._kept
        return _KEEP, numerator, denominator, denominator // 2, -offer.priority, offer.id, offer
    if offer.amount_cents is not None:
        return _LESS, offer.amount_cents, 1, 0, -offer.priority, offer.id, offer
    return _FIXED, offer.price_cents, 1, 0, -offer.priority, offer.id, offer


def offers_for(shopper: Shopper, offers: Iterable[Offer], now: datetime,
               codes: frozenset[str] = frozenset()) -> list[tuple[Offer, Skip | None]]:
    """The offers to show ``shopper``: those that apply and those waiting for an activation, in listing order.

    Promo-code offers are shown only once their code was entered.
    """
    shown: list[tuple[Offer, Skip | None]] = []
    for offer in offers:
        why = status(offer, shopper, now, codes)
        if why is None or why is Skip.NEEDS_ACTIVATION:
            shown.append((offer, why))
    shown.sort(key=lambda pair: listing_order(pair[0]))
    return shown


# --------------------------------------------------------------------------- the in-memory index


@dataclass
class OfferIndex:
    """Offers by id, by what they cover (GTIN, category, the whole assortment), by whom they target
    and by promo code, so a match looks at the few offers that can concern it."""

    _offers: dict[str, Offer] = field(default_factory=dict)
    _by_gtin: dict[str, dict[str, Offer]] = field(default_factory=dict)
    _by_category: dict[str, dict[str, Offer]] = field(default_factory=dict)
    _wide: dict[str, Offer] = field(default_factory=dict)
    _everyone: dict[str, Offer] = field(default_factory=dict)
    _by_tier: dict[str, dict[str, Offer]] = field(default_factory=dict)
    _by_group: dict[str, dict[str, Offer]] = field(default_factory=dict)
    _by_segment: dict[str, dict[str, Offer]] = field(default_factory=dict)
    _by_customer: dict[str, dict[str, Offer]] = field(default_factory=dict)
    _by_code: dict[str, dict[str, Offer]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._offers)

    def get(self, offer_id: str) -> Offer | None:
        return self._offers.get(offer_id)

    def _places(self, offer: Offer):
        for gtin in offer.gtins:
            yield self._by_gtin, gtin
        for category in offer.categories:
            yield self._by_category, category
        for tier in offer.tiers:
            yield self._by_tier, tier
        for group in offer.price_groups:
            yield self._by_group, group
        for segment in offer.segments:
            yield self._by_segment, segment
        for customer in offer.customers:
            yield self._by_customer, customer
        if offer.code is not None:
            yield self._by_code, offer.code

    def put(self, offer: Offer) -> None:
        """Add ``offer``, replacing the one with its id."""
        self.remove(offer.id)
        self._offers[offer.id] = offer
        for table, key in self._places(offer):
            table.setdefault(key, {})[offer.id] = offer
        if offer.assortment_wide:
            self._wide[offer.id] = offer
        if offer.everyone:
            self._everyone[offer.id] = offer

    def remove(self, offer_id: str) -> None:
        offer = self._offers.pop(offer_id, None)
        if offer is None:
            return
        for table, key in self._places(offer):
            bucket = table.get(key)
            if bucket is not None:
                bucket.pop(offer_id, None)
                if not bucket:
                    del table[key]
        self._wide.pop(offer_id, None)
        self._everyone.pop(offer_id, None)

    def for_item(self, item: Item) -> list[Offer]:
        """Every offer covering ``item``."""
        found = dict(self._wide)
        found.update(self._by_gtin.get(item.gtin, _EMPTY))
        found.update(self._by_category.get(item.category, _EMPTY))
        return list(found.values())

    def for_shopper(self, shopper: Shopper) -> list[Offer]:
        """Every offer targeting ``shopper`` (validity and uses aside)."""
        found = dict(self._everyone)
        if shopper.customer is not None:
            found.update(self._by_customer.get(shopper.customer, _EMPTY))
            if shopper.tier is not None:
                found.update(self._by_tier.get(shopper.tier, _EMPTY))
            for group in shopper.price_groups:
                found.update(self._by_group.get(group, _EMPTY))
            for segment in shopper.segments:
                found.update(self._by_segment.get(segment, _EMPTY))
        return list(found.values())

    def with_code(self, code: str) -> list[Offer]:
        """The offers unlocked by promo ``code`` (upper case), in listing order."""
        return sorted(self._by_code.get(code, _EMPTY).values(), key=listing_order)
