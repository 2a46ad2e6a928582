"""The kiosk's shopping requests and upstream actions (edge_agent/shopping.py) on a real database.

The store holds the example fixtures (config/central-fixtures.example.yaml),
pushed through the inbox as central would; cards are tapped on the session
service; events are read back from the outbox.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.central_push import load, messages
from edge_agent.commands import CommandError, Commands
from edge_agent.config import LoyaltyConfig, parse_config
from edge_agent.contract import (
    ActivateOfferRequest,
    EnrolRequest,
    FeedbackRequest,
    OffersRequest,
    ProductRequest,
    PromoCodeRequest,
    SessionRequest,
    StaffAssistRequest,
    Topics,
)
from edge_agent.identity import Assurance, Category, card_token
from edge_agent.inbox import Inbox
from edge_agent.link import Received
from edge_agent.matching import MatchService
from edge_agent.nfc.reader import CardRead
from edge_agent.outbox import Outbox
from edge_agent.sessions import SessionService
from edge_agent.shopping import ShoppingService
from edge_agent.store import Store
from tests.support.cards import PIET_UID, SANNE, SANNE_UID, STORE_HMAC_KEY_HEX, UNKNOWN_UID

ROOT = Path(__file__).resolve().parent.parent
KEY = bytes.fromhex(STORE_HMAC_KEY_HEX)
EXAMPLE = ROOT / "config" / "central-fixtures.example.yaml"
STORE = "demo-store"
TOPICS = Topics(STORE, "kiosk-1")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
GAZONMEST_20, MAAIEROLIE, SNOEISCHAAR = "08712345000035", "08712345000042", "08712345000059"
EVERYTHING = {assurance: frozenset(Category) for assurance in (Assurance.UID, Assurance.SUN, Assurance.APP)}


class Kiosk:
    def __init__(self, tmp_path: Path, policy=None, with_sessions: bool = True):
        self.store = Store(tmp_path / "agent.db")
        self.outbox = Outbox(self.store, TOPICS, max_rows=10_000)
        config = parse_config(f'[store]\nid="{STORE}"\n[device]\nid="kiosk-1"\n')
        inbox = Inbox(self.store, self.outbox, TOPICS, Commands(config, lambda *a: None), on_probe=lambda r: None)
        for message in messages(load(EXAMPLE, hmac_key=KEY), STORE):
            inbox.handle(Received(None, message.topic, message.payload, 0, 1, False))
        assert inbox.rejected == 0 and inbox.applied == 14
        self.sessions = SessionService(self.store, self.outbox, lambda topic, payload: True, device="kiosk-1",
                                       session_topic=TOPICS.session, hmac_key=KEY, policy=policy,
                                       now=lambda: NOW) if with_sessions else None
        self.matcher = MatchService(self.store, "Europe/Amsterdam", now=lambda: NOW)
        self.shop = ShoppingService(self.store, self.outbox, self.matcher, LoyaltyConfig().rules(), self.sessions)

    def tap(self, uid: bytes) -> str:
        self.sessions.on_tap(CardRead(uid=uid, tag_type="Type2Tag", ndef_uri=None, problem=None))
        return self.sessions._session.id

    def events(self, name: str) -> list[dict]:
        return [json.loads(p.payload)["data"] for p in self.outbox.after(0, 10_000) if p.topic.endswith("/" + name)]

    def data_use(self) -> list[str]:
        with self.store.reading() as conn:
            return [use for (use,) in conn.execute("SELECT use FROM data_use ORDER BY id")]


@pytest.fixture
def kiosk(tmp_path):
    kiosk = Kiosk(tmp_path, policy=EVERYTHING)
    yield kiosk
    kiosk.store.close()


@pytest.fixture
def uid_kiosk(tmp_path):
    """The default privacy policy: a UID-only card shows offers but no personal prices or balances."""
    kiosk = Kiosk(tmp_path)
    yield kiosk
    kiosk.store.close()


def test_anonymous_shopper_gets_offers_for_everyone_only(kiosk):
    result = kiosk.shop.product(ProductRequest(gtin="8712345000059"))
    assert (result.price.price_cents, result.price.source, result.personal) == (2495, "shelf", False)
    assert result.product.name == "Snoeischaar" and result.product.shelf == "Gang 7, schap A"
    assert [offer.offer for offer in result.offers] == ["handschoenen-50"]
    oil = kiosk.shop.product(ProductRequest(gtin=MAAIEROLIE, language="en"))
    assert oil.product.name == "Mower oil 1 L" and oil.price.price_cents == 849
    assert kiosk.data_use() == [], "nothing personal was used"


def test_recognised_customer_gets_her_tier_price_and_club_price_with_reasons(kiosk):
    session = kiosk.tap(SANNE_UID)
    shears = kiosk.shop.product(ProductRequest(session=session, gtin=SNOEISCHAAR))
    assert (shears.price.price_cents, shears.price.reason, shears.price.saving_cents) == (1995, "Goud-prijs", 500)
    oil = kiosk.shop.product(ProductRequest(session=session, gtin=MAAIEROLIE, language="fr"))
    assert (oil.price.price_cents, oil.price.source, oil.price.reason) == (699, "price-list", "Prix club")
    waiting = [offer for offer in oil.offers if not offer.applies]
    assert [(offer.offer, offer.needs_activation, offer.uses_left) for offer in waiting] == [
        ("maaierolie-actie", True, 1)]
    assert oil.personal and kiosk.data_use().count("product price") == 2


def test_a_uid_card_shows_targeted_offers_but_not_personal_prices(uid_kiosk):
    session = uid_kiosk.tap(SANNE_UID)
    assert uid_kiosk.shop.product(ProductRequest(session=session, gtin=SNOEISCHAAR)).price.reason == "Goud-prijs"
    oil = uid_kiosk.shop.product(ProductRequest(session=session, gtin=MAAIEROLIE))
    assert oil.price.source == "shelf", "price groups are personal prices: not at UID assurance"
    account = uid_kiosk.shop.account(SessionRequest(session=session))
    assert account.loyalty.tier == "goud" and account.loyalty.points is None and account.loyalty.progress is None
    assert account.orders[0].order_id == "WEB-100234" and account.purchases is None


def test_offers_screen_lists_offers_and_deals_biggest_saving_first(kiosk):
    session = kiosk.tap(SANNE_UID)
    result = kiosk.shop.offers(OffersRequest(session=session, limit=3))
    assert [offer.offer for offer in result.offers] == ["voorjaar-2027", "goud-snoeischaar", "handschoenen-50",
                                                        "maaierolie-actie"]
    assert [(deal.name, deal.price_cents, deal.reason) for deal in result.deals] == [
        ("Snoeischaar", 1995, "Goud-prijs"), ("Gazonmest 20 kg", 3509, "Voorjaarsactie −10%"),
        ("Gazonmest 10 kg", 1979, "Voorjaarsactie −10%")]
    assert result.more_deals == 2 and result.personal
    anonymous = kiosk.shop.offers(OffersRequest())
    assert [offer.offer for offer in anonymous.offers] == ["voorjaar-2027", "handschoenen-50"]
    assert not anonymous.personal and len(anonymous.deals) == 3


def test_account_shows_progress_orders_and_purchases_and_logs_the_use(kiosk):
    piet = kiosk.tap(PIET_UID)
    progress = kiosk.shop.account(SessionRequest(session=piet)).loyalty
    assert (progress.tier_name, progress.points, progress.next_tier_name, progress.points_to_next,
            progress.euros_to_next) == ("Zilver", 2340, "Goud", 2660, 266)
    sanne = kiosk.tap(SANNE_UID)
    account = kiosk.shop.account(SessionRequest(session=sanne))
    assert account.loyalty.next_tier is None and account.loyalty.progress == 1.0
    assert [(p.name, p.channel) for p in account.purchases] == [
        ("Gazonmest 10 kg", "shop"), ("Maaierolie 1 L", "webshop"), ("Regenton 200 L", "webshop")]
    assert "account" in kiosk.data_use()


def test_activating_an_offer_records_it_sends_one_event_and_changes_the_price(kiosk):
    session = kiosk.tap(SANNE_UID)
    first = kiosk.shop.activate_offer(ActivateOfferRequest(session=session, offer="maaierolie-actie"))
    again = kiosk.shop.activate_offer(ActivateOfferRequest(session=session, offer="maaierolie-actie"))
    assert (first.new, again.new) == (True, False)
    assert kiosk.events("offer-activation") == [{"session": session, "customer": SANNE,
                                                 "offer": "maaierolie-actie", "offer_version": 1}]
    oil = kiosk.shop.product(ProductRequest(session=session, gtin=MAAIEROLIE))
    assert (oil.price.price_cents, oil.price.offer) == (649, "maaierolie-actie")
    with pytest.raises(CommandError, match="needs no activation"):
        kiosk.shop.activate_offer(ActivateOfferRequest(session=session, offer="voorjaar-2027"))
    with pytest.raises(CommandError, match="unknown offer"):
        kiosk.shop.activate_offer(ActivateOfferRequest(session=session, offer="bestaat-niet"))
    piet = kiosk.tap(PIET_UID)  # not in the gazon segment, and no personal-offers consent
    with pytest.raises(CommandError):
        kiosk.shop.activate_offer(ActivateOfferRequest(session=piet, offer="maaierolie-actie"))


def test_a_promo_code_applies_for_the_session_and_goes_upstream_without_its_text(kiosk):
    session = kiosk.tap(SANNE_UID)
    wrong = kiosk.shop.check_promo_code(PromoCodeRequest(session=session, code="GRATIS"))
    assert (wrong.valid, wrong.outcome, wrong.offer) == (False, "unknown-code", None)
    right = kiosk.shop.check_promo_code(PromoCodeRequest(session=session, code="lente27"))
    assert right.valid and right.offer.offer == "lente-code"
    bag = kiosk.shop.product(ProductRequest(session=session, gtin=GAZONMEST_20))
    assert (bag.price.price_cents, bag.price.reason) == (3314, "Lentecode −15% op 20 kg")
    events = kiosk.events("promo-code")
    assert [(e["offer"], e["outcome"], e["customer"]) for e in events] == [
        (None, "unknown-code", SANNE), ("lente-code", "valid", SANNE)]
    assert "GRATIS" not in json.dumps(events) and "LENTE27" not in json.dumps(events)
    next_shopper = kiosk.tap(PIET_UID)
    assert kiosk.shop.product(ProductRequest(session=next_shopper, gtin=GAZONMEST_20)).price.price_cents == 3509


def test_feedback_and_staff_assist_are_queued_anonymously(kiosk):
    session = kiosk.tap(SANNE_UID)
    queued = kiosk.shop.feedback(FeedbackRequest(session=session, score=5, reason="snelle-hulp", phase="inform"))
    kiosk.shop.feedback(FeedbackRequest(score=2, phase="reach"))
    kiosk.shop.staff_assist(StaffAssistRequest(phase="inform", topic="product-advice"))
    feedback = kiosk.events("feedback")
    assert feedback[0] == {"session": session, "score": 5, "reason": "snelle-hulp", "phase": "inform"}
    assert all("customer" not in event for event in feedback)
    assert kiosk.events("staff-assist") == [{"session": None, "phase": "inform", "topic": "product-advice",
                                                 "gtin": None}]
    assert queued.event in {json.loads(p.payload)["id"] for p in kiosk.outbox.after(0, 100)}
    with pytest.raises(CommandError, match="no such session"):
        kiosk.shop.feedback(FeedbackRequest(session="01a20735-b502-769a-a830-637530718552", score=3, phase="reach"))


def test_an_unknown_card_enrols_with_its_token_and_a_known_one_cannot(kiosk):
    unknown = kiosk.tap(UNKNOWN_UID)
    kiosk.shop.enrol(EnrolRequest(session=unknown, language="en"))
    assert kiosk.events("enrolment") == [{"session": unknown, "card": card_token(KEY, UNKNOWN_UID),
                                          "outcome": "unknown-card", "assurance": "uid", "language": "en"}]
    with pytest.raises(CommandError, match="only a session of an unknown card"):
        kiosk.shop.enrol(EnrolRequest(session=kiosk.tap(SANNE_UID)))


def test_requests_for_an_old_session_are_refused_and_events_are_critical(kiosk):
    old = kiosk.tap(SANNE_UID)
    kiosk.tap(PIET_UID)
    for call in (lambda: kiosk.shop.product(ProductRequest(session=old, gtin=SNOEISCHAAR)),
                 lambda: kiosk.shop.account(SessionRequest(session=old)),
                 lambda: kiosk.shop.activate_offer(ActivateOfferRequest(session=old, offer="maaierolie-actie"))):
        with pytest.raises(CommandError, match="no such session"):
            call()
    kiosk.shop.staff_assist(StaffAssistRequest())
    with kiosk.store.reading() as conn:
        assert conn.execute("SELECT critical FROM outbox WHERE topic LIKE '%/staff-assist'").fetchone() == (1,)


def test_a_device_without_card_reader_serves_anonymous_requests_only(tmp_path):
    kiosk = Kiosk(tmp_path, with_sessions=False)
    assert kiosk.shop.product(ProductRequest(gtin=SNOEISCHAAR)).price.price_cents == 2495
    with pytest.raises(CommandError, match="no sessions"):
        kiosk.shop.product(ProductRequest(session="01a20735-b502-769a-a830-637530718552", gtin=SNOEISCHAAR))
    with pytest.raises(CommandError, match="not in the catalogue"):
        kiosk.shop.product(ProductRequest(gtin="8712345000097"))
    kiosk.store.close()
