"""Matching rules (edge_agent/offers.py): properties over generated offers, shoppers and products, then the
cases a retailer would check by hand (time zones, rounding, ties, explanations)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract import OfferKind
from edge_agent.offers import (
    ANONYMOUS,
    GroupPrice,
    Item,
    Offer,
    OfferIndex,
    Shopper,
    Skip,
    best_price,
    catalogue_deals,
    offer_from_record,
    offers_for,
    status,
    window,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
TIERS = ["brons", "zilver", "goud"]
GROUPS = ["club", "vip", "staff"]
SEGMENTS = ["tuin", "gazon", "vijver"]
CUSTOMERS = [f"c-{n:032x}" for n in range(1, 5)]
GTINS = [f"{n:014d}" for n in range(1, 7)]
CATEGORIES = ["gazonmest", "onderhoud", "gereedschap"]

def subsets(values):
    return st.frozensets(st.sampled_from(values), max_size=len(values))


@st.composite
def offers(draw, offer_id: str | None = None) -> Offer:
    kind = draw(st.sampled_from(list(OfferKind)))
    everyone = draw(st.booleans())
    targets = {} if everyone else {
        "tiers": draw(subsets(TIERS)), "price_groups": draw(subsets(GROUPS)),
        "segments": draw(subsets(SEGMENTS)), "customers": draw(subsets(CUSTOMERS))}
    starts = NOW + timedelta(hours=draw(st.integers(-72, 72)))
    benefit: dict = {}
    if kind is OfferKind.PERCENTAGE_OFF or (kind is OfferKind.PROMO_CODE and draw(st.booleans())):
        benefit["percent"] = Decimal(str(draw(st.floats(0.01, 100, allow_nan=False)).__round__(2) or 0.01))
    elif kind in (OfferKind.AMOUNT_OFF, OfferKind.PROMO_CODE):
        benefit["amount_cents"] = draw(st.integers(1, 200_000))
    elif kind is OfferKind.PERSONAL_PRICE:
        benefit["price_cents"] = draw(st.integers(1, 200_000))
    else:
        benefit.update(gift=GTINS[0], min_spend_cents=draw(st.integers(1, 10_000)))
    if kind is OfferKind.PROMO_CODE:
        benefit["code"] = draw(st.sampled_from(["LENTE", "ZOMER"]))
    return Offer(
        id=offer_id or draw(st.text("abcdef0123456789", min_size=1, max_size=6)), version=1, kind=kind,
        title={"nl": "actie"}, starts=starts, ends=starts + timedelta(hours=draw(st.integers(1, 96))),
        everyone=everyone, gtins=draw(subsets(GTINS)), categories=draw(subsets(CATEGORIES)),
        priority=draw(st.integers(-3, 3)), uses_per_customer=draw(st.none() | st.integers(1, 3)),
        requires_activation=draw(st.booleans()), **targets, **benefit)


@st.composite
def shoppers(draw) -> Shopper:
    if draw(st.integers(0, 4)) == 0:
        return ANONYMOUS
    return Shopper(customer=draw(st.sampled_from(CUSTOMERS)), tier=draw(st.none() | st.sampled_from(TIERS)),
                   price_groups=draw(subsets(GROUPS)), segments=draw(subsets(SEGMENTS)),
                   uses={f"o{n}": draw(st.integers(0, 4)) for n in range(8)},
                   activated=draw(subsets([f"o{n}" for n in range(8)])), group_prices=draw(st.booleans()))


items = st.builds(Item, st.sampled_from(GTINS), st.integers(1, 100_000), st.sampled_from(CATEGORIES))
group_prices = st.lists(st.builds(GroupPrice, st.sampled_from(GROUPS), st.integers(1, 150_000),
                                  st.just({"nl": "groep"})), max_size=4)
offer_lists = st.lists(st.integers(0, 7).flatmap(lambda n: offers(f"o{n}")), max_size=8,
                       unique_by=lambda offer: offer.id)
moments = st.integers(-100, 100).map(lambda hours: NOW + timedelta(hours=hours))
codes = subsets(["LENTE", "ZOMER"])
SETTINGS = settings(max_examples=120, deadline=None)


def targets_by_the_rules(offer: Offer, shopper: Shopper) -> bool:
    """Targeting written out independently of Offer.targets."""
    if offer.everyone:
        return True
    if shopper.customer is None:
        return False
    return bool((shopper.tier is not None and shopper.tier in offer.tiers)
                or (offer.price_groups & shopper.price_groups)
                or (offer.segments & shopper.segments) or shopper.customer in offer.customers)


@SETTINGS
@given(items, shoppers(), offer_lists, group_prices, moments, codes)
def test_the_price_is_never_below_zero_nor_above_the_shelf_price(item, shopper, offers, groups, now, entered):
    match = best_price(item, shopper, offers, groups, now, entered)
    assert 0 <= match.price_cents <= item.price_cents
    assert match.saving_cents == item.price_cents - match.price_cents >= 0


@SETTINGS
@given(items, shoppers(), offer_lists, group_prices, moments, codes)
def test_an_offer_outside_its_window_never_applies(item, shopper, offers, groups, now, entered):
    match = best_price(item, shopper, offers, groups, now, entered)
    for offer in (*match.offers, *([match.offer] if match.offer else [])):
        assert offer.starts <= now < offer.ends, f"{offer.id} applied outside its window"
    expired = [offer for offer in offers if now >= offer.ends]
    assert not {offer.id for offer in expired} & {offer.id for offer in match.offers}


@SETTINGS
@given(items, shoppers(), offer_lists, group_prices, moments, codes)
def test_targeting_never_gives_an_offer_or_a_group_price_to_the_wrong_shopper(item, shopper, offers, groups, now,
                                                                               entered):
    match = best_price(item, shopper, offers, groups, now, entered)
    for offer in match.offers:
        assert targets_by_the_rules(offer, shopper), f"{offer.id} given to a shopper it does not target"
        if offer.tiers and not (offer.price_groups or offer.segments or offer.customers):
            assert shopper.tier in offer.tiers, "a tier offer reached another tier"
        if offer.price_groups and not (offer.tiers or offer.segments or offer.customers):
            assert offer.price_groups & shopper.price_groups, "a price-group offer reached another group"
    if match.group is not None:
        assert match.group.price_group in shopper.price_groups and shopper.group_prices
    if shopper is ANONYMOUS:
        assert all(offer.everyone for offer in match.offers)


@SETTINGS
@given(items, shoppers(), offer_lists, group_prices, moments, codes)
def test_uses_activation_and_codes_are_respected(item, shopper, offers, groups, now, entered):
    match = best_price(item, shopper, offers, groups, now, entered)
    for offer in match.offers:
        if offer.uses_per_customer is not None:
            assert shopper.uses.get(offer.id, 0) < offer.uses_per_customer
        if offer.requires_activation:
            assert offer.id in shopper.activated
        if offer.code is not None:
            assert offer.code in entered


@SETTINGS
@given(items, shoppers(), offer_lists, group_prices, moments, codes)
def test_the_best_price_is_the_lowest_candidate_and_explained(item, shopper, offers, groups, now, entered):
    match = best_price(item, shopper, offers, groups, now, entered, explain=True)
    prices = [item.price_cents]
    prices += [group.price_cents for group in groups
               if shopper.group_prices and group.price_group in shopper.price_groups]
    prices += [price for offer in offers if offer.covers(item) and status(offer, shopper, now, entered) is None
               and (price := offer.price_for(item.price_cents)) is not None]
    assert match.price_cents == min(prices)
    assert match.candidates[0][0] == match.price_cents
    if match.source == "shelf":
        assert match.reason("nl") is None and match.price_cents == item.price_cents
    else:
        assert match.reason("nl") and match.price_cents < item.price_cents
    covering = {offer.id for offer in offers if offer.covers(item)}
    assert {offer.id for offer in match.offers} | {offer.id for offer, _ in match.skipped} == covering


@SETTINGS
@given(items, shoppers(), offer_lists, group_prices, moments, codes, st.randoms(use_true_random=False))
def test_the_answer_does_not_depend_on_the_order_offers_and_prices_come_in(item, shopper, offers, groups, now,
                                                                           entered, rnd):
    first = best_price(item, shopper, offers, groups, now, entered)
    offers, groups = list(offers), list(groups)
    rnd.shuffle(offers)
    rnd.shuffle(groups)
    second = best_price(item, shopper, offers, groups, now, entered)
    assert (first.price_cents, first.source, first.offer, first.group) == \
           (second.price_cents, second.source, second.offer, second.group)
    assert first.offers == second.offers


@SETTINGS
@given(shoppers(), offer_lists, st.lists(items, max_size=6, unique_by=lambda item: item.gtin), group_prices, moments,
       codes)
def test_catalogue_deals_agree_with_one_product_matches(shopper, offers, products, groups, now, entered):
    prices = {item.gtin: groups for item in products}
    deals = {match.item.gtin: match for match in catalogue_deals(shopper, offers, products, prices, now, entered)}
    for item in products:
        single = best_price(item, shopper, offers, groups, now, entered)
        if single.saving_cents > 0:
            assert deals[item.gtin].price_cents == single.price_cents
            assert deals[item.gtin].reason("nl") == single.reason("nl")
        else:
            assert item.gtin not in deals
    savings = [match.saving_cents for match in deals.values()]
    assert all(saving > 0 for saving in savings)


@SETTINGS
@given(offer_lists, offer_lists, items, shoppers())
def test_the_index_finds_every_offer_that_covers_or_targets_and_forgets_removed_ones(first, second, item, shopper):
    index = OfferIndex()
    for offer in first + second:  # later ones replace earlier ones with the same id
        index.put(offer)
    current = {offer.id: offer for offer in first + second}
    removed = sorted(current)[::2]
    for offer_id in removed:
        index.remove(offer_id)
        del current[offer_id]
    assert len(index) == len(current)
    assert {offer.id for offer in index.for_item(item)} == {o.id for o in current.values() if o.covers(item)}
    assert {offer.id for offer in index.for_shopper(shopper)} == {
        o.id for o in current.values() if targets_by_the_rules(o, shopper)}
    for code in ("LENTE", "ZOMER"):
        assert [offer.id for offer in index.with_code(code)] == sorted(
            (o.id for o in current.values() if o.code == code), key=lambda i: (-current[i].priority, i))


# --------------------------------------------------------------------------- by hand


def offer(**overrides) -> Offer:
    fields = {"id": "voorjaar", "version": 1, "kind": OfferKind.PERCENTAGE_OFF,
              "title": {"nl": "Voorjaarsactie −10%", "en": "Spring sale −10%"},
              "starts": NOW - timedelta(days=1), "ends": NOW + timedelta(days=1), "everyone": True,
              "categories": frozenset({"gazonmest"}), "percent": Decimal(10)}
    fields.update(overrides)
    return Offer(**fields)


GAZONMEST = Item("08712345000028", 2199, "gazonmest")


def test_a_date_window_is_whole_days_in_the_store_time_zone():
    record = {"offer": "voorjaar", "version": 1, "kind": "percentage-off", "title": {"nl": "Voorjaar"},
              "targeting": {"everyone": True}, "categories": ["gazonmest"], "valid_from": "2026-03-29",
              "valid_until": "2026-04-30", "percent": 10}
    spring = offer_from_record(record, AMSTERDAM)
    # 29 March 2026 is the switch to summer time: the day still starts at 00:00 CET (23:00 UTC the day before).
    assert spring.starts == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert spring.ends == datetime(2026, 4, 30, 22, 0, tzinfo=UTC)  # midnight CEST after 30 April
    assert status(spring, ANONYMOUS, datetime(2026, 4, 30, 21, 59, 59, tzinfo=UTC)) is None
    assert status(spring, ANONYMOUS, datetime(2026, 4, 30, 22, 0, tzinfo=UTC)) is Skip.EXPIRED
    assert status(spring, ANONYMOUS, datetime(2026, 3, 28, 22, 59, tzinfo=UTC)) is Skip.NOT_YET_VALID
    instants = window("2026-04-01T08:00:00+02:00", "2026-04-01T18:00:00Z", AMSTERDAM)
    assert instants == (datetime(2026, 4, 1, 6, 0, tzinfo=UTC), datetime(2026, 4, 1, 18, 0, tzinfo=UTC))


def test_percentages_round_half_up_to_the_cent_and_amounts_stop_at_zero():
    assert offer(percent=Decimal(10)).price_for(1295) == 1166  # 1165.5
    assert offer(percent=Decimal("33.33")).price_for(100) == 67  # 66.67
    assert offer(percent=Decimal(100)).price_for(999) == 0
    assert offer(kind=OfferKind.AMOUNT_OFF, percent=None, amount_cents=5000).price_for(2199) == 0


def test_the_reason_is_the_winning_offer_or_group_in_the_shopper_language():
    goud = Shopper(customer=CUSTOMERS[0], tier="goud", price_groups=frozenset({"club"}))
    club = GroupPrice("club", 2049, {"nl": "Clubprijs", "fr": "Prix club"})
    match = best_price(GAZONMEST, goud, [offer()], [club], NOW)
    assert (match.price_cents, match.source, match.reason("nl"), match.reason("en")) == (
        1979, "offer", "Voorjaarsactie −10%", "Spring sale −10%")
    assert match.reason("fr") == "Voorjaarsactie −10%", "falls back to nl"
    cheaper_club = GroupPrice("club", 1899, {"nl": "Clubprijs", "fr": "Prix club"})
    match = best_price(GAZONMEST, goud, [offer()], [cheaper_club], NOW)
    assert (match.source, match.reason("fr"), match.reason("en")) == ("price-list", "Prix club", "Clubprijs")
    assert best_price(GAZONMEST, ANONYMOUS, [offer()], [cheaper_club], NOW).price_cents == 1979, \
        "an anonymous shopper is in no price group"


def test_ties_go_to_the_shelf_then_priority_then_price_group_then_id():
    goud = Shopper(customer=CUSTOMERS[0], tier="goud", price_groups=frozenset({"club"}))
    same_as_shelf = offer(id="a", kind=OfferKind.PERSONAL_PRICE, percent=None, price_cents=2199)
    assert best_price(GAZONMEST, goud, [same_as_shelf], [], NOW).source == "shelf"
    low = offer(id="b", kind=OfferKind.PERSONAL_PRICE, percent=None, price_cents=1500)
    low_urgent = offer(id="c", kind=OfferKind.PERSONAL_PRICE, percent=None, price_cents=1500, priority=5)
    group = GroupPrice("club", 1500, {"nl": "Clubprijs"})
    assert best_price(GAZONMEST, goud, [low, low_urgent], [group], NOW).offer.id == "c"
    assert best_price(GAZONMEST, goud, [low], [group], NOW).source == "price-list"
    also_low = offer(id="a2", kind=OfferKind.PERSONAL_PRICE, percent=None, price_cents=1500)
    assert best_price(GAZONMEST, goud, [low, also_low], [], NOW).offer.id == "a2"


def test_a_skipped_offer_says_why():
    zilver = Shopper(customer=CUSTOMERS[1], tier="zilver", uses={"used": 1}, activated=frozenset({"active"}))
    cases = {
        "later": offer(id="later", starts=NOW + timedelta(hours=1)),
        "over": offer(id="over", ends=NOW),
        "goud": offer(id="goud", everyone=False, tiers=frozenset({"goud"})),
        "used": offer(id="used", uses_per_customer=1),
        "activate": offer(id="activate", requires_activation=True),
        "code": offer(id="code", kind=OfferKind.PROMO_CODE, code="LENTE"),
    }
    match = best_price(GAZONMEST, zilver, cases.values(), [], NOW, explain=True)
    assert {o.id: why for o, why in match.skipped} == {
        "later": Skip.NOT_YET_VALID, "over": Skip.EXPIRED, "goud": Skip.NOT_FOR_THIS_CUSTOMER,
        "used": Skip.USED_UP, "activate": Skip.NEEDS_ACTIVATION, "code": Skip.NEEDS_CODE}
    assert [o.id for o in match.waiting] == ["activate"]
    assert match.price_cents == GAZONMEST.price_cents
    entered = best_price(GAZONMEST, zilver, [cases["code"]], [], NOW, frozenset({"LENTE"}))
    assert entered.offer.id == "code"
    shown = offers_for(zilver, cases.values(), NOW)
    assert [(o.id, why) for o, why in shown] == [("activate", Skip.NEEDS_ACTIVATION)]


def test_an_offer_for_a_product_the_store_does_not_sell_is_inert():
    unlisted = offer(id="elders", categories=frozenset(), gtins=frozenset({"00000000000017"}))
    match = best_price(GAZONMEST, ANONYMOUS, [unlisted], [], NOW, explain=True)
    assert match.source == "shelf" and not match.offers and not match.skipped


@pytest.mark.parametrize("seed", range(3))
def test_gifts_apply_without_changing_the_price(seed):
    rnd = random.Random(seed)
    gift = offer(id="handschoenen", kind=OfferKind.GIFT_WITH_PURCHASE, percent=None, categories=frozenset(),
                 gift=GTINS[0], min_spend_cents=rnd.randint(1, 10_000))
    match = best_price(GAZONMEST, ANONYMOUS, [gift], [], NOW)
    assert match.price_cents == GAZONMEST.price_cents and [o.id for o in match.offers] == ["handschoenen"]


# --------------------------------------------------------------------------- the edges of the date window (issue 13)

EARLIEST_ZONE, LATEST_ZONE = ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago")  # UTC+14, UTC-11


@pytest.mark.parametrize("zone", [EARLIEST_ZONE, LATEST_ZONE, UTC], ids=str)
@pytest.mark.parametrize(("valid_from", "valid_until"), [
    ("2000-01-01", "2100-12-31"),
    ("2000-01-01T00:00:00+23:59", "2100-12-31T23:59:59.999999-23:59"),
    ("2100-12-31", "2100-12-31"),
    ("2000-01-01T00:00:00Z", "2000-01-01T00:00:00.000001Z"),
])
def test_a_window_at_the_edges_of_the_contract_dates_never_overflows(zone, valid_from, valid_until):
    starts, ends = window(valid_from, valid_until, zone)
    assert starts < ends
    for bound in (starts, ends):
        bound.astimezone(UTC)
        bound.astimezone(EARLIEST_ZONE)
        bound.astimezone(LATEST_ZONE)
    built = offer(starts=starts, ends=ends)
    for now in (datetime.min.replace(tzinfo=UTC) + timedelta(days=1), datetime.max.replace(tzinfo=UTC)
                - timedelta(days=1), starts, ends):
        status(built, ANONYMOUS, now)
        best_price(GAZONMEST, ANONYMOUS, [built], [], now)


@pytest.mark.parametrize(("valid_from", "valid_until", "named"), [
    ("2026-01-01", "9999-12-31", "valid_until 9999-12-31"),
    ("0001-01-01", "2026-01-01", "valid_from 0001-01-01"),
    ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "valid_until 9999-12-31T23:59:59-05:00"),
    ("2026-01-01T00:00:00", "2027-01-01T00:00:00Z", "no UTC offset"),
])
def test_a_bound_outside_the_contract_window_is_refused_by_name_not_overflowed(valid_from, valid_until, named):
    with pytest.raises(ValueError, match=named):
        window(valid_from, valid_until, LATEST_ZONE)


def test_a_stored_offer_the_index_cannot_hold_is_left_out_reported_and_replaced_by_its_next_version(tmp_path):
    from edge_agent.central import next_offer_seq
    from edge_agent.matching import MatchService
    from edge_agent.store import Store

    store = Store(tmp_path / "agent.db")
    reported: list[tuple[str, str]] = []
    matcher = MatchService(store, "Europe/Amsterdam", now=lambda: NOW,
                           on_unindexable=lambda *problem: reported.append(problem))
    record = {"offer": "altijd", "version": 1, "kind": "percentage-off", "title": {"nl": "Altijd"},
              "targeting": {"everyone": True}, "categories": ["gazonmest"], "valid_from": "2026-01-01",
              "valid_until": "9999-12-31", "percent": 10}

    def stored(*records: dict) -> None:
        with store.transaction() as conn:
            seq = next_offer_seq(conn)
            conn.executemany("INSERT OR REPLACE INTO offers (offer, version, active, seq, data, updated) "
                             "VALUES (?, ?, 1, ?, ?, 0)",
                             [(r["offer"], r["version"], seq, json.dumps(r)) for r in records])

    try:
        stored(record, record | {"offer": "goed", "valid_until": "2099-12-31"})
        assert matcher.refresh() == 2
        assert matcher.offer("goed") is not None and matcher.offer("altijd") is None
        assert [offer_id for offer_id, _ in reported] == ["altijd"]
        assert "9999-12-31" in reported[0][1] and matcher.unindexable == {"altijd": reported[0][1]}
        matcher.refresh()
        assert len(reported) == 1, "a row that cannot be held is reported once, not on every request"
        stored(record | {"version": 2, "valid_until": "2100-12-31"})
        matcher.refresh()
        assert matcher.offer("altijd") is not None and not matcher.unindexable
        # A damaged row is left out the same way, and takes the older version out of memory with it.
        with store.transaction() as conn:
            conn.execute("UPDATE offers SET data = '{', seq = ? WHERE offer = 'goed'", (next_offer_seq(conn),))
        matcher.refresh()
        assert matcher.offer("goed") is None and "goed" in matcher.unindexable
        assert matcher.offer("altijd") is not None
    finally:
        store.close()
