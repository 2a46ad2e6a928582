"""What a shopper gets, from the store: the offers in memory, the rest read from SQLite per call.

The rules are :mod:`edge_agent.offers`; this module feeds them. Offers (up to
tens of thousands) live in an :class:`~edge_agent.offers.OfferIndex` by GTIN,
category, target and promo code, so one product is matched against the few
offers that can concern it. The index follows the database: every push of
offers (and every erasure of a customer named by one) advances a change
counter in ``sync_state`` and stamps the rows it touched, and each call first
reads that counter (one indexed row) and reloads only the rows stamped since.
Products, price-group prices and the customer are read per call with primary
key lookups on this thread's read connection, so a million customers and the
whole catalogue never need to fit in memory.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

from .errors import EdgeAgentError
from .offers import (
    ANONYMOUS,
    GroupPrice,
    Item,
    Offer,
    OfferIndex,
    PriceMatch,
    Shopper,
    Skip,
    best_price,
    catalogue_deals,
    offer_from_record,
    offers_for,
)
from .store import Store

logger = logging.getLogger(__name__)

_CHUNK = 500


class UnknownProduct(EdgeAgentError):
    """The GTIN is not (or no longer) in the catalogue."""


@dataclass(frozen=True)
class CatalogueMatch:
    """What a shopper gets across the catalogue.

    :param offers: the offers to show, with None when they apply or ``Skip.NEEDS_ACTIVATION``.
    :param deals: products below their shelf price, biggest saving first.
    """

    offers: list[tuple[Offer, Skip | None]]
    deals: list[PriceMatch]


class MatchService:
    """Matching backed by the agent's database.

    :param store: the agent's database.
    :param timezone: the store's IANA time zone (offer validity given as dates).
    :param now: the clock (aware datetimes); replaceable in tests.
    :param on_unindexable: ``on_unindexable(offer_id, reason)`` is called (outside any
        lock or transaction) for each stored offer the index cannot hold; that offer is
        left out until central pushes a version that can be held.
    """

    def __init__(self, store: Store, timezone: str = "Europe/Amsterdam",
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_unindexable: Callable[[str, str], None] | None = None):
        self._store = store
        self._zone = ZoneInfo(timezone)
        self._now = now
        self._on_unindexable = on_unindexable
        # Stored offers left out of the index, with why (their ids are not personal).
        self.unindexable: dict[str, str] = {}
        self._index = OfferIndex()
        self._seq = -1
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The matcher's clock."""
        return self._now()

    # ------------------------------------------------------------------ the offers in memory

    def refresh(self) -> int:
        """Load the offers changed since the last call; returns how many rows were read.

        A stored offer that cannot be built (a record an older agent accepted, a
        damaged row) is left out of the index, logged with its id and the database,
        and passed to ``on_unindexable``; every other offer is loaded, and the next
        push of that offer is loaded as usual.
        """
        failed: list[tuple[str, str]] = []
        try:
            return self._refresh(failed)
        finally:
            for offer_id, reason in failed:
                logger.error("offer %s stored in %s (table offers) cannot be indexed and is left out until "
                             "central pushes a version that can be: %s", offer_id, self._store.path, reason)
                if self._on_unindexable is not None:
                    self._on_unindexable(offer_id, reason)

    def _refresh(self, failed: list[tuple[str, str]]) -> int:
        with self._store.reading() as conn:
            seq = conn.execute("SELECT seq FROM sync_state WHERE name = 'offers'").fetchone()[0]
            if seq == self._seq:
                return 0
            with self._lock:
                if seq == self._seq:
                    return 0
                rows = conn.execute("SELECT offer, active, data, seq FROM offers WHERE seq > ? ORDER BY seq",
                                    (self._seq,)).fetchall()
                named: dict[str, list[str]] = {}
                changed = [row[0] for row in rows if row[1]]
                for start in range(0, len(changed), _CHUNK):
                    chunk = changed[start:start + _CHUNK]
                    for offer, customer in conn.execute(
                            f"SELECT offer, customer FROM offer_customers WHERE offer IN "
                            f"({', '.join('?' * len(chunk))})", chunk):
                        named.setdefault(offer, []).append(customer)
                for offer_id, active, data, _ in rows:
                    self.unindexable.pop(offer_id, None)
                    if not active:
                        self._index.remove(offer_id)
                        continue
                    try:
                        offer = offer_from_record(json.loads(data), self._zone, named.get(offer_id, ()))
                    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
                        # What the stored row holds is the truth: an older version of it
                        # must not stay in memory in its place.
                        self._index.remove(offer_id)
                        reason = f"{type(exc).__name__}: {exc}"
                        self.unindexable[offer_id] = reason
                        failed.append((offer_id, reason))
                        continue
                    self._index.put(offer)
                self._seq = max([seq] + [row[3] for row in rows])
                logger.debug("offers index: %d row(s) reloaded, %d offers", len(rows), len(self._index))
                return len(rows)

    def offer(self, offer_id: str) -> Offer | None:
        self.refresh()
        with self._lock:
            return self._index.get(offer_id)

    def with_code(self, code: str) -> list[Offer]:
        """Offers unlocked by promo ``code`` (any case)."""
        self.refresh()
        with self._lock:
            return self._index.with_code(code.upper())

    # ------------------------------------------------------------------ reads

    def shopper(self, customer: str | None, *, offers: bool = True, prices: bool = True) -> Shopper:
        """The shopper ``customer`` is, as far as the screen may use their data.

        :param offers: use the profile for targeting (tier, segments, named, uses,
            activations); else only offers for everyone apply.
        :param prices: use the customer's price groups' prices.
        """
        if customer is None or not (offers or prices):
            return ANONYMOUS
        with self._store.reading() as conn:
            row = conn.execute("SELECT profile FROM customers WHERE customer = ?", (customer,)).fetchone()
            if row is None:
                return ANONYMOUS
            profile = json.loads(row[0])
            activated = {offer for (offer,) in conn.execute(
                "SELECT offer FROM offer_activations WHERE customer = ?", (customer,))} if offers else set()
        groups = frozenset(profile.get("price_groups") or ())
        language = profile.get("language") or "nl"
        if not offers:
            return Shopper(price_groups=groups, language=language)
        states = profile.get("offers") or ()
        activated.update(state["offer"] for state in states if state.get("activated"))
        return Shopper(customer=customer, tier=profile.get("tier"), price_groups=groups,
                       segments=frozenset(profile.get("segments") or ()),
                       uses=MappingProxyType({state["offer"]: state.get("uses", 0) for state in states}),
                       activated=frozenset(activated), language=language, group_prices=prices)

    def item(self, gtin: str) -> Item | None:
        """The listed product ``gtin`` (14 digits) as matching needs it; None when not listed."""
        with self._store.reading() as conn:
            row = conn.execute("SELECT price_cents, category FROM products WHERE gtin = ? AND active = 1",
                               (gtin,)).fetchone()
        return None if row is None else Item(gtin, row[0], row[1])

    def product(self, gtin: str) -> dict | None:
        """Central's record of the listed product ``gtin``; None when not listed."""
        with self._store.reading() as conn:
            row = conn.execute("SELECT data FROM products WHERE gtin = ? AND active = 1", (gtin,)).fetchone()
        return None if row is None else json.loads(row[0])

    def products(self, gtins: list[str]) -> dict[str, dict]:
        """Central's records of those of ``gtins`` that are listed."""
        found = {}
        with self._store.reading() as conn:
            for start in range(0, len(gtins), _CHUNK):
                chunk = gtins[start:start + _CHUNK]
                for gtin, data in conn.execute(f"SELECT gtin, data FROM products WHERE active = 1 AND gtin IN "
                                               f"({', '.join('?' * len(chunk))})", chunk):
                    found[gtin] = json.loads(data)
        return found

    def group_prices(self, gtin: str, groups: frozenset[str]) -> list[GroupPrice]:
        """The prices of ``gtin`` in ``groups``, with the groups' names."""
        if not groups:
            return []
        ordered = sorted(groups)
        with self._store.reading() as conn:
            rows = conn.execute(
                f"SELECT gp.price_group, gp.price_cents, pg.name FROM group_prices gp "
                f"LEFT JOIN price_groups pg ON pg.price_group = gp.price_group "
                f"WHERE gp.gtin = ? AND gp.active = 1 AND gp.price_group IN ({', '.join('?' * len(ordered))})",
                [gtin, *ordered]).fetchall()
        return [GroupPrice(group, cents, json.loads(name) if name else None) for group, cents, name in rows]

    # ------------------------------------------------------------------ matching

    def match_product(self, shopper: Shopper, gtin: str, codes: frozenset[str] = frozenset(),
                      explain: bool = False, now: datetime | None = None) -> PriceMatch:
        """The best price of product ``gtin`` for ``shopper``, with the offers that apply to it.

        :raises UnknownProduct: when ``gtin`` is not listed.
        """
        self.refresh()
        item = self.item(gtin)
        if item is None:
            raise UnknownProduct("this product is not in the catalogue")
        with self._lock:  # the index may be reloading on another thread
            offers = self._index.for_item(item)
        groups = self.group_prices(gtin, shopper.price_groups) if shopper.group_prices else []
        return best_price(item, shopper, offers, groups, now or self._now(), codes, explain)

    def match_catalogue(self, shopper: Shopper, codes: frozenset[str] = frozenset(),
                        now: datetime | None = None) -> CatalogueMatch:
        """The offers for ``shopper`` and every product they pay less for than its shelf price."""
        self.refresh()
        with _collector_paused():
            return self._match_catalogue(shopper, codes, now)

    def _match_catalogue(self, shopper: Shopper, codes: frozenset[str], now: datetime | None) -> CatalogueMatch:
        now = now or self._now()
        with self._lock:
            candidates = {offer.id: offer for offer in self._index.for_shopper(shopper)}
            for code in codes:
                candidates.update((offer.id, offer) for offer in self._index.with_code(code))
        shown = offers_for(shopper, candidates.values(), now, codes)
        pricing = [offer for offer, why in shown if why is None and offer.changes_price]
        items: dict[str, Item] = {}
        prices: dict[str, list[GroupPrice]] = {}
        with self._store.reading() as conn:
            if any(offer.assortment_wide for offer in pricing):
                self._read_items(conn, items, "SELECT gtin, price_cents, category FROM products WHERE active = 1")
            else:
                categories = sorted({category for offer in pricing for category in offer.categories})
                for start in range(0, len(categories), _CHUNK):
                    chunk = categories[start:start + _CHUNK]
                    self._read_items(conn, items, f"SELECT gtin, price_cents, category FROM products WHERE "
                                                  f"category IN ({', '.join('?' * len(chunk))}) AND active = 1", chunk)
                gtins = sorted({gtin for offer in pricing for gtin in offer.gtins} - items.keys())
                for start in range(0, len(gtins), _CHUNK):
                    chunk = gtins[start:start + _CHUNK]
                    self._read_items(conn, items, f"SELECT gtin, price_cents, category FROM products WHERE "
                                                  f"gtin IN ({', '.join('?' * len(chunk))}) AND active = 1", chunk)
            if shopper.price_groups and shopper.group_prices:
                groups = sorted(shopper.price_groups)
                marks = ", ".join("?" * len(groups))
                names = {group: json.loads(name) for group, name in conn.execute(
                    f"SELECT price_group, name FROM price_groups WHERE price_group IN ({marks})", groups)}
                for group, gtin, cents, shelf, category in conn.execute(
                        f"SELECT gp.price_group, gp.gtin, gp.price_cents, p.price_cents, p.category "
                        f"FROM group_prices gp JOIN products p ON p.gtin = gp.gtin "
                        f"WHERE gp.price_group IN ({marks}) AND gp.active = 1 AND p.active = 1", groups):
                    prices.setdefault(gtin, []).append(GroupPrice(group, cents, names.get(group)))
                    if gtin not in items:
                        items[gtin] = Item(gtin, shelf, category)
        deals = catalogue_deals(shopper, pricing, items.values(), prices, now, codes)
        return CatalogueMatch(shown, deals)

    @staticmethod
    def _read_items(conn, items: dict[str, Item], query: str, parameters=()) -> None:
        make = Item._make
        items.update((row[0], make(row)) for row in conn.execute(query, parameters))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector around a bulk of acyclic allocations.

    A catalogue match makes a tuple per product; every 700 allocations wake the
    collector, whose older generations walk every offer in memory (measured:
    60 % of a 50k-product match). Nothing made here forms a cycle, so reference
    counting frees it all; the collector's previous state is restored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
