"""Catalogue, price lists, offers and purchase history pushed by central, through the inbox on a real database.

Each bad input the issue names is rejected with a reason (logged, counted, an
``event/error`` upstream) and leaves nothing half-applied; good input is
versioned, idempotent and reaches the matcher.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from edge_agent.central import apply_erasure
from edge_agent.commands import Commands
from edge_agent.config import parse_config
from edge_agent.contract import (
    PUSHES,
    ErasureRequest,
    Topics,
    encode,
    gtin_check_digit,
    new_id,
)
from edge_agent.inbox import Inbox
from edge_agent.link import Received
from edge_agent.matching import MatchService, UnknownProduct
from edge_agent.offers import ANONYMOUS
from edge_agent.outbox import Outbox
from edge_agent.store import Store
from tests.support.cards import SANNE

STORE = "store-1"
TOPICS = Topics(STORE, "kiosk-1")
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
GAZONMEST_10 = "8712345000028"
MAAIEROLIE = "8712345000042"
UNLISTED = "8712345000097"


def product(gtin: str = GAZONMEST_10, version: int = 1, **overrides) -> dict:
    record = {"gtin": gtin, "version": version, "name": {"nl": f"Product {gtin[-4:]}"}, "price_cents": 2199,
              "category": "gazonmest"}
    record.update(overrides)
    return record


def spring_offer(version: int = 1, **overrides) -> dict:
    record = {"offer": "voorjaar", "version": version, "kind": "percentage-off",
              "title": {"nl": "Voorjaarsactie −10%"}, "targeting": {"everyone": True},
              "categories": ["gazonmest"], "valid_from": "2026-03-20", "valid_until": "2026-04-30", "percent": 10}
    record.update(overrides)
    return record


class World:
    def __init__(self, tmp_path):
        self.store = Store(tmp_path / "agent.db")
        self.outbox = Outbox(self.store, TOPICS, max_rows=10_000)
        config = parse_config(f'[store]\nid="{STORE}"\n[device]\nid="kiosk-1"\n')
        self.inbox = Inbox(self.store, self.outbox, TOPICS, Commands(config, lambda *a: None), on_probe=lambda r: None)
        self.matcher = MatchService(self.store, "Europe/Amsterdam", now=lambda: NOW)

    def push(self, kind: str, data: dict, *, message_id: str | None = None, topic: str | None = None,
             retain: bool = False) -> str | None:
        """Push ``data`` as central would; the rejection reason, or None when accepted."""
        envelope = {"id": message_id or new_id(), "ts": "2026-04-01T09:30:00Z", "schema": f"{kind}/1", "data": data}
        rejected = self.inbox.rejected
        self.inbox.handle(Received(None, topic or PUSHES[kind].topic_for(STORE), json.dumps(envelope).encode(),
                                   0, 1, retain))
        if self.inbox.rejected == rejected:
            return None
        return self.errors()[-1]["reason"]

    def errors(self) -> list[dict]:
        return [json.loads(p.payload)["data"] for p in self.outbox.after(0, 10_000) if p.topic.endswith("/error")]

    def rows(self, query: str, *args) -> list[tuple]:
        with self.store.reading() as conn:
            return conn.execute(query, args).fetchall()


@pytest.fixture
def world(tmp_path):
    world = World(tmp_path)
    yield world
    world.store.close()


# --------------------------------------------------------------------------- good input


def test_catalogue_batch_is_stored_in_one_message_with_gtins_in_14_digits(world):
    records = [product(body + str(gtin_check_digit(body)), price_cents=100 + n)
               for n, body in enumerate(f"87123450{n:04d}" for n in range(1000))]
    assert world.push("catalogue", {"products": records}) is None
    assert world.rows("SELECT count(*) FROM products")[0][0] == 1000
    assert all(len(gtin) == 14 for (gtin,) in world.rows("SELECT gtin FROM products"))
    assert world.push("catalogue", {"products": [*records, product(UNLISTED)]}) is not None, "over 1000 records"


def test_versions_replace_older_skip_equal_and_the_same_message_twice_is_applied_once(world):
    message_id = new_id()
    assert world.push("catalogue", {"products": [product(price_cents=2199)]}, message_id=message_id) is None
    assert world.push("catalogue", {"products": [product(price_cents=1)]}, message_id=message_id) is None
    assert world.inbox.duplicates == 1
    assert world.push("catalogue", {"products": [product(price_cents=999)]}) is None, "same version: skipped"
    assert world.rows("SELECT price_cents, version FROM products") == [(2199, 1)]
    assert world.push("catalogue", {"products": [product(version=2, price_cents=1999)]}) is None
    assert world.rows("SELECT price_cents, version FROM products") == [(1999, 2)]


def test_an_offer_for_an_unlisted_product_is_accepted_and_works_once_the_product_is_listed(world):
    offer = spring_offer(categories=[], products=[UNLISTED], kind="amount-off", percent=None, amount_cents=300)
    assert world.push("offers", {"offers": [offer]}) is None
    assert world.push("price-list", {"groups": [{"price_group": "club", "version": 1, "name": {"nl": "Clubprijs"}}],
                                     "prices": [{"price_group": "club", "gtin": UNLISTED, "version": 1,
                                                 "price_cents": 1500}]}) is None
    with pytest.raises(UnknownProduct):
        world.matcher.match_product(ANONYMOUS, "0" + UNLISTED)
    assert world.push("catalogue", {"products": [product(UNLISTED, price_cents=2000)]}) is None
    match = world.matcher.match_product(ANONYMOUS, "0" + UNLISTED)
    assert (match.price_cents, match.reason("nl")) == (1700, "Voorjaarsactie −10%")


def test_a_withdrawn_offer_leaves_the_matcher_and_an_older_copy_cannot_bring_it_back(world):
    world.push("catalogue", {"products": [product()]})
    assert world.push("offers", {"offers": [spring_offer()]}) is None
    assert world.matcher.match_product(ANONYMOUS, "0" + GAZONMEST_10).source == "offer"
    assert world.push("offers", {"offers": [spring_offer(version=2, active=False)]}) is None
    assert world.matcher.match_product(ANONYMOUS, "0" + GAZONMEST_10).source == "shelf"
    reason = world.push("offers", {"offers": [spring_offer(version=1)]})
    assert reason == "offers[0]: version 1 is older than the stored version 2"
    assert world.matcher.match_product(ANONYMOUS, "0" + GAZONMEST_10).source == "shelf"


def test_purchase_history_and_named_targets_are_erased_with_the_customer(world):
    world.push("catalogue", {"products": [product()]})
    named = spring_offer(offer="persoonlijk", targeting={"customers": [SANNE]})
    assert world.push("offers", {"offers": [named]}) is None
    assert world.push("purchase-history", {"purchases": [
        {"line": "R-1/1", "version": 1, "customer": SANNE, "gtin": GAZONMEST_10, "quantity": 1,
         "at": "2026-03-14T10:12:00Z", "channel": "shop"}]}) is None
    assert world.push("customer", {"customer": SANNE, "version": 1, "first_name": "Sanne"}) is None
    sanne = world.matcher.shopper(SANNE)
    assert world.matcher.match_product(sanne, "0" + GAZONMEST_10).offer.id == "persoonlijk"
    assert "persoonlijk" in json.dumps(world.rows("SELECT data FROM offers"))
    assert SANNE not in json.dumps(world.rows("SELECT data FROM offers")), "named customers live apart"
    with world.store.transaction(durable=True) as conn:
        apply_erasure(conn, ErasureRequest(request_id="er-1", customer=SANNE), world.outbox)
    for table in ("purchases", "offer_customers", "customers"):
        assert world.rows(f"SELECT count(*) FROM {table} WHERE customer = ?", SANNE) == [(0,)]
    assert world.matcher.match_product(sanne, "0" + GAZONMEST_10).source == "shelf", "the index forgot her"


# --------------------------------------------------------------------------- bad input, rejected with a reason


BAD_INPUT = [
    ("offers", {"offers": [spring_offer(valid_from="2026-05-01", valid_until="2026-04-30")]},
     "ends before it starts"),
    ("offers", {"offers": [spring_offer(valid_from="2026-05-01T10:00:00Z", valid_until="2026-05-01T10:00:00Z")]},
     "ends before it starts"),
    ("offers", {"offers": [spring_offer(valid_from="2026-05-01", valid_until="2026-06-01T00:00:00Z")]},
     "both be dates or both be instants"),
    ("offers", {"offers": [spring_offer(valid_from="2026-05-01T10:00:00")]}, "UTC offset"),
    ("catalogue", {"products": [product(price_cents=0)]}, "price_cents: Input should be greater than 0"),
    ("catalogue", {"products": [product(price_cents=-250)]}, "greater than 0"),
    ("price-list", {"prices": [{"price_group": "club", "gtin": GAZONMEST_10, "version": 1, "price_cents": 0}]},
     "greater than 0"),
    ("offers", {"offers": [spring_offer(percent=0)]}, "percent: Input should be greater than 0"),
    ("offers", {"offers": [spring_offer(percent=110)]}, "less than or equal to 100"),
    ("offers", {"offers": [spring_offer(kind="amount-off", percent=None, amount_cents=0)]}, "greater than 0"),
    ("catalogue", {"products": [product("8712345000029")]}, "check digit"),
    ("offers", {"offers": [spring_offer(products=["8712345000020"])]}, "check digit"),
    ("purchase-history", {"purchases": [{"line": "R-1/1", "version": 1, "customer": "klant-42", "gtin": GAZONMEST_10,
                                         "quantity": 1, "at": "2026-03-14T10:12:00Z", "channel": "shop"}]},
     "purchases.0.customer"),
    ("offers", {"offers": [spring_offer(targeting={"customers": ["C-00000000000000000000000000000001"]})]},
     "targeting.customers.0"),
    ("customer", {"customer": "c-12", "version": 1, "first_name": "Sanne"}, "data.customer"),
    ("catalogue", {"products": [product(), product(price_cents=1)]}, "products[1] repeats products[0]"),
    ("catalogue", {"products": [product(), product("0" + GAZONMEST_10)]}, "products[1] repeats products[0]"),
    ("offers", {"offers": [spring_offer(), spring_offer()]}, "offers[1] repeats offers[0]"),
    ("price-list", {"prices": [{"price_group": "club", "gtin": GAZONMEST_10, "version": 1, "price_cents": 100}] * 2},
     "prices[1] repeats prices[0]"),
    ("offers", {"offers": [spring_offer(categories=["gazonmest", "gazonmest"])]}, "categories[1] repeats"),
    ("offers", {"offers": [spring_offer(percent=None)]}, "a percentage-off offer needs percent"),
    ("offers", {"offers": [spring_offer(price_cents=100)]}, "a percentage-off offer has no price_cents"),
    ("offers", {"offers": [spring_offer(kind="promo-code", code="LENTE", amount_cents=100)]},
     "either percent or amount_cents"),
    ("offers", {"offers": [spring_offer(kind="personal-price", percent=None, price_cents=100, categories=[])]},
     "names its products or categories"),
    ("offers", {"offers": [spring_offer(targeting={})]}, "targets nobody"),
    ("offers", {"offers": [spring_offer(targeting={"everyone": True, "tiers": ["goud"]})]}, "lists no tiers"),
    ("offers", {"offers": [spring_offer(title={})]}, "at least one of nl, en, fr"),
    ("price-list", {}, "at least one group or price"),
    ("catalogue", {"products": [product(images=["products/../../etc/passwd"])]}, "'..'"),
]


@pytest.mark.parametrize(("kind", "data", "reason"), BAD_INPUT, ids=[f"{k}-{r[:30]}" for k, _, r in BAD_INPUT])
def test_bad_input_is_rejected_with_a_reason_and_nothing_is_applied(world, kind, data, reason):
    before = world.store.conn.execute("SELECT total_changes()").fetchone()[0]
    got = world.push(kind, data)
    assert got is not None and reason in got, got
    assert world.inbox.rejected == 1 and world.inbox.applied == 0
    for table in ("products", "offers", "group_prices", "price_groups", "purchases", "customers"):
        assert world.rows(f"SELECT count(*) FROM {table}") == [(0,)]
    assert world.store.conn.execute("SELECT total_changes()").fetchone()[0] - before == 1, "only the error event"


def test_one_stale_record_rejects_the_whole_batch(world):
    assert world.push("catalogue", {"products": [product(version=5), product(MAAIEROLIE, version=1)]}) is None
    reason = world.push("catalogue", {"products": [product(MAAIEROLIE, version=2, price_cents=1),
                                                   product(version=4, price_cents=1)]})
    assert reason == "products[1]: version 4 is older than the stored version 5"
    assert world.rows("SELECT gtin, version, price_cents FROM products ORDER BY gtin") == [
        ("0" + GAZONMEST_10, 5, 2199), ("0" + MAAIEROLIE, 1, 2199)], "the newer record in the batch was not applied"


def test_a_message_for_another_store_is_rejected(world):
    other = PUSHES["catalogue"].topic_for("store-2")
    assert world.push("catalogue", {"products": [product()]}, topic=other) == "topic is not part of the contract"
    assert world.rows("SELECT count(*) FROM products") == [(0,)]


def test_retained_offers_and_history_are_refused_as_personal_data(world):
    assert world.push("offers", {"offers": [spring_offer()]}, retain=True) == \
        "personal data must not be retained on the broker"
    assert world.rows("SELECT count(*) FROM offers") == [(0,)]


def test_rejection_reasons_never_echo_values(world):
    secret = copy.deepcopy(spring_offer(offer="Geheim-ZQX123"))
    secret["kind"] = "ZQX-kind"
    reason = world.push("offers", {"offers": [secret]})
    assert reason and "ZQX" not in reason


def test_example_payloads_of_the_contract_are_accepted(world):
    for kind in ("catalogue", "price-list", "offers", "purchase-history"):
        _, raw = encode(PUSHES[kind], PUSHES[kind].example)
        world.inbox.handle(Received(None, PUSHES[kind].topic_for(STORE), raw, 0, 1, False))
    assert world.inbox.rejected == 0 and world.inbox.applied == 4
