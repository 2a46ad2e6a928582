"""The kiosk's state machine and its words, without Kivy: which screen shows, when a session ends,
what is wiped, and how the texts come out per language."""

from __future__ import annotations

import types
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from enum import Enum
from zoneinfo import ZoneInfo

import pytest

from edge_agent.contract import (
    AccountResult,
    ActivateOfferResult,
    BirthPayload,
    HealthPayload,
    MyDataResult,
    OffersResult,
    Phase,
    PresenceState,
    ProductResult,
    PromoCodeResult,
    ScanPayload,
    SessionPayload,
    ShelfPayload,
    StatePayload,
    new_id,
)
from kiosk.i18n import Translator
from kiosk.state import (
    NOTICE_GOODBYE,
    NOTICE_TIMED_OUT,
    NOTICE_WITHDRAWN,
    RESPONSES,
    KioskState,
    Mode,
    Preferences,
    Request,
    Screen,
)
from kiosk.texts import Words
from kiosk.visit import ANSWERS, Answer, Status, Visit

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def session(outcome="recognised", *, sid=None, state="started", first_name="Sanne", language="nl", tier="goud",
            points=5120, may_show=("first_name", "tier", "points"), reason=None, staff=None) -> SessionPayload:
    recognised = outcome == "recognised"
    return SessionPayload(
        session=sid or new_id(), state=state, outcome=outcome, assurance="sun",
        may_show=list(may_show) if recognised and state == "started" else [],
        invite_to_enrol=outcome in ("anonymous", "unknown-card") and state == "started",
        customer={"first_name": first_name, "language": language, "tier": tier, "points": points}
        if recognised and state == "started" else None,
        staff=staff if outcome == "staff" else None, reason=reason)


def my_data(first_name="Sanne") -> MyDataResult:
    now = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
    return MyDataResult(customer={"first_name": first_name, "language": "nl", "tier": "goud", "points": 5120},
                        consents=[{"purpose": "recognition", "until": now + timedelta(days=365)}],
                        data_use=[{"at": now, "device": "kiosk-1", "use": "recognised",
                                   "categories": ["first_name", "tier"]}])


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def state(clock):
    return KioskState(idle_timeout_s=45, countdown_s=10, clock=clock)


# What the dump does not walk into: code, not data (a function's defaults would bring in this module's).
CODE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
        types.MethodWrapperType, types.WrapperDescriptorType)
LEAVES = (str, bytes, int, float, complex, bool, Enum, type(None), date, time_of_day, timedelta)


def everything_in(root) -> str:
    """A text dump of every value reachable from ``root``: the attributes of its objects (dataclasses,
    pydantic models, any ``__dict__`` or ``__slots__``), the items of its containers, and what those hold.

    It walks the objects themselves, not copies of them (no ``model_dump``): a copy is a temporary that
    Python frees, and its ``id()`` is then reused by the next one, so a walk that remembered ids of
    temporaries skipped objects it had never seen. ``seen`` keeps every object it visited, so no id is
    reused while the walk runs.
    """
    seen: dict[int, object] = {}
    found: list[str] = []
    stack = [root]
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen[id(value)] = value
        if isinstance(value, LEAVES):
            found.append(repr(value))
        elif isinstance(value, CODE):
            continue
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
        else:
            stack.extend(vars(value).values() if hasattr(value, "__dict__") else ())
            for cls in type(value).__mro__:
                stack.extend(getattr(value, slot) for slot in getattr(cls, "__slots__", ())
                             if slot not in ("__dict__", "__weakref__") and hasattr(value, slot))
    return " ".join(found)


# --------------------------------------------------------------------------- which screen


@pytest.mark.parametrize("outcome, screen, mode", [
    ("recognised", Screen.BEGRIJP, Mode.CUSTOMER),
    ("anonymous", Screen.ENROLMENT, Mode.ANONYMOUS),
    ("unknown-card", Screen.ENROLMENT, Mode.ANONYMOUS),
    ("rejected", Screen.ENROLMENT, Mode.ANONYMOUS),
    ("staff", Screen.STAFF_PIN, Mode.STAFF),  # a staff badge asks for the PIN first (test_staff_kiosk_state.py)
])
def test_the_outcome_of_a_session_picks_the_screen(state, outcome, screen, mode):
    assert state.screen is Screen.BEREIK
    state.on_session(session(outcome, staff="s-anna"))
    assert (state.screen, state.mode) == (screen, mode)
    assert (state.visit.session.first_name is not None) == (outcome == "recognised")


def test_the_screen_shows_only_what_may_show_allows(state):
    state.on_session(session(may_show=("first_name", "tier")))
    assert state.visit.session.first_name == "Sanne" and state.visit.session.tier == "goud"
    assert state.visit.session.points is None, "points are not in may_show"


def test_a_new_session_replaces_the_old_one_and_nothing_of_it_remains(state):
    state.on_session(session())
    state.open(Screen.MIJN_GEGEVENS)
    first = state.visit.session.id
    state.on_response("my-data", first, True, my_data(), None)
    state.set_language("fr")
    state.on_session(session(first_name="Piet", tier="zilver", points=2500))
    assert state.visit.session.first_name == "Piet" and state.screen is Screen.BEGRIJP
    assert state.visit.my_data.value is None and state.visit.prefs.language == "nl"
    assert "Sanne" not in everything_in(state) and first not in everything_in(state)


def test_a_duplicate_session_message_changes_nothing(state):
    payload = session()
    state.on_session(payload)
    state.open(Screen.CONTINUEER)
    state.on_session(payload)
    assert state.screen is Screen.CONTINUEER


def test_an_ended_session_wipes_everything_personal(state):
    payload = session(language="fr")
    state.on_session(payload)
    state.open(Screen.MIJN_GEGEVENS)
    state.on_response("my-data", payload.session, True, my_data(), None)
    state.toggle_contrast()
    state.next_text_scale()
    assert state.visit.prefs.language == "fr" and "Sanne" in everything_in(state)
    state.on_session(session(sid=payload.session, state="ended", reason="ended-by-kiosk"))
    assert state.screen is Screen.BEREIK and state.visit.session is None and state.visit.my_data.value is None
    assert state.visit.prefs == Preferences() and state.notice == NOTICE_GOODBYE
    dump = everything_in(state)
    for personal in ("Sanne", "5120", "goud", payload.session, "recognition"):
        assert personal not in dump, f"{personal!r} is still held after the wipe"


def test_a_wipe_after_a_full_visit_leaves_nothing_but_a_new_visit(state):
    sid = new_id()
    state.on_session(session(sid=sid))
    state.on_response("account", sid, True, full_account(), None)
    state.open(Screen.CONVERTEER)
    state.on_response("offers", sid, True, offers_result(), None)
    state.activate_offer("voorjaar-2026")
    state.check_promo_code("GRATIS")
    state.open(Screen.CONTINUEER)
    state.give_feedback(4)
    state.call_staff()
    state.play("gazon-bemesten")
    state.open(Screen.MIJN_GEGEVENS)
    state.on_response("my-data", sid, True, my_data(), None)
    state.ask_withdraw()
    state.show_product(GTIN)
    state.on_response("product", sid, True, product_result(), None)
    state.set_language("en")
    assert state.visit != Visit()
    state.done()
    assert state.visit == Visit(), "every field of the visit is back to a new visit's"
    dump = everything_in(state)
    for personal in ("Sanne", "5120", "WEB-100234", "voorjaarskorting", "Gazonmest", sid):
        assert personal not in dump, f"{personal!r} is still held after the wipe"


def test_every_answer_of_the_visit_is_filled_by_one_response():
    assert sorted(reply.answer for reply in RESPONSES.values()) == sorted(ANSWERS)


def test_a_response_that_is_not_the_answers_type_fails_it(state):
    state.on_session(session())
    state.open(Screen.MIJN_GEGEVENS)
    state.on_response("my-data", state.visit.session.id, True, account(), None)
    assert state.visit.my_data == Answer(Status.FAILED)


def test_an_ended_message_of_another_session_is_ignored(state):
    state.on_session(session())
    state.on_session(session(state="ended", outcome="recognised"))
    assert state.screen is Screen.BEGRIJP and state.visit.session is not None


def test_a_new_tap_ends_without_a_goodbye_and_a_withdrawal_says_so(state):
    payload = session()
    state.on_session(payload)
    state.on_session(session(sid=payload.session, state="ended", reason="new-tap"))
    assert state.notice is None
    payload = session()
    state.on_session(payload)
    state.on_session(session(sid=payload.session, state="ended", reason="consent-withdrawn"))
    assert state.notice == NOTICE_WITHDRAWN


def test_each_screen_is_named_once_and_serves_the_contracts_phase():
    assert Screen("ontzorg") is Screen.ONTZORG and Screen.ONTZORG.phase is Phase.AFTER_CARE
    assert all(screen.name == screen.value.upper().replace("-", "_") for screen in Screen), "one vocabulary"
    assert {screen.phase for screen in Screen} == set(Phase), "every phase has a screen"


# --------------------------------------------------------------------------- the shopper


def test_klaar_ends_the_session_at_the_agent_and_wipes(state):
    payload = session()
    state.on_session(payload)
    assert state.done() == [Request("end-session", payload.session)]
    assert state.visit.session is None and state.screen is Screen.BEREIK
    assert state.done() == [], "nothing to end on the attract screen"


def test_screens_of_another_mode_cannot_be_opened(state):
    state.on_session(session("unknown-card"))
    assert state.open(Screen.MIJN_GEGEVENS) == [] and state.screen is Screen.ENROLMENT
    state.on_session(session())
    assert state.open(Screen.CONTINUEER) == [Request("account", state.visit.session.id)]
    assert state.screen is Screen.CONTINUEER
    assert state.open(Screen.INFORMEER) == [] and state.screen is Screen.CONTINUEER, "Informeer opens on a scan only"


def test_mijn_gegevens_asks_the_agent_and_shows_only_the_answer_for_this_session(state):
    payload = session()
    state.on_session(payload)
    assert state.open(Screen.MIJN_GEGEVENS) == [Request("my-data", payload.session)]
    assert state.visit.my_data.status == "loading"
    state.on_response("my-data", new_id(), True, my_data("Piet"), None)  # another session's answer
    assert state.visit.my_data.value is None
    state.on_response("my-data", payload.session, True, my_data(), None)
    assert state.visit.my_data.status == "loaded" and state.visit.my_data.value.customer.first_name == "Sanne"
    state.open(Screen.MIJN_GEGEVENS)
    state.on_response("my-data", payload.session, False, None, "no answer")
    assert state.visit.my_data.status == "failed" and state.visit.my_data.value is None


def test_withdrawal_takes_two_taps_and_a_confirmation(state):
    payload = session()
    state.on_session(payload)
    assert state.confirm_withdraw() == [], "no confirmation without asking first"
    state.open(Screen.MIJN_GEGEVENS)  # tap 1
    state.ask_withdraw()  # tap 2
    assert state.visit.withdrawal.status == "confirm"
    state.cancel_withdraw()
    assert state.visit.withdrawal.status == "idle"
    state.ask_withdraw()
    assert state.confirm_withdraw() == [Request("withdraw-consent", payload.session)]  # the confirmation
    assert state.visit.withdrawal.status == "sending"
    state.on_response("withdraw-consent", payload.session, False, None, "broker down")
    assert state.visit.withdrawal.status == "failed" and state.visit.session is not None
    assert state.confirm_withdraw() == [Request("withdraw-consent", payload.session)], "retry after a failure"
    state.on_response("withdraw-consent", payload.session, True, None, None)
    assert state.visit.session is None and state.screen is Screen.BEREIK and state.notice == NOTICE_WITHDRAWN


def test_enrolment_is_offered_only_when_invited(state):
    state.on_session(session("rejected", reason="replayed-counter"))
    assert state.enrol() == []
    payload = session("unknown-card")
    state.on_session(payload)
    assert state.enrol() == [Request("enrol", payload.session, "nl")]
    assert state.enrol() == [], "sent once"
    state.on_response("enrol", payload.session, True, None, None)
    assert state.visit.enrol.status == "sent"


def test_language_follows_the_profile_and_can_be_switched(state):
    state.on_session(session(language="fr"))
    assert state.visit.prefs.language == "fr"
    state.set_language("en")
    assert state.visit.prefs.language == "en"
    with pytest.raises(ValueError):
        state.set_language("de")
    state.done()
    assert state.visit.prefs.language == "nl"


# --------------------------------------------------------------------------- time


def test_idle_timeout_counts_down_then_ends_the_session(state, clock):
    payload = session()
    state.on_session(payload)
    clock.now += 34
    assert state.countdown() is None and state.tick() == []
    clock.now += 1.5  # 9.5 s left
    assert state.countdown() == 10
    clock.now += 7  # 2.5 s left
    assert state.countdown() == 3
    state.touched()
    assert state.countdown() is None, "a touch restarts the timeout"
    clock.now += 44.9
    # Not ended; the agent hears of the touch (its own idle limit of the session: tests/test_session_touch.py).
    assert state.tick() == [Request("touch", payload.session)] and state.visit.session is not None
    clock.now += 0.2
    assert state.tick() == [Request("end-session", payload.session)]
    assert state.visit.session is None and state.screen is Screen.BEREIK and state.notice == NOTICE_TIMED_OUT


def test_notices_and_changed_preferences_do_not_outlive_their_time(state, clock):
    state.on_session(session())
    state.done()
    assert state.notice == NOTICE_GOODBYE and state.ticking
    clock.now += 8.1
    state.tick()
    assert state.notice is None
    state.toggle_contrast()  # on the attract screen, with nobody's session
    clock.now += 45.1
    state.tick()
    assert state.visit.prefs == Preferences() and not state.ticking


def test_impossible_timeouts_are_refused():
    with pytest.raises(ValueError):
        KioskState(idle_timeout_s=5, countdown_s=10)


def test_device_information_is_kept_apart_from_the_session(state):
    state.on_device_state(StatePayload(state="online", reason="connected"))
    state.on_birth(BirthPayload(agent_version="0.1.0", python_version="3.11.7", paho_version="2.1.0",
                                sqlite_version="3.40.1", device_kind="kiosk", capabilities=[], config_hash="ab",
                                started=datetime.now(UTC)))
    state.on_health(HealthPayload(uptime_s=5, connected=True, outbox_depth=0, outbox_critical=0, reconnects=0,
                                  dropped_telemetry=0, rejected_messages=0))
    state.on_session(session())
    state.done()
    assert state.device.health is not None and state.device.birth.agent_version == "0.1.0"


def presence(state_: str) -> PresenceState:
    return PresenceState(state=state_, started=datetime.now(UTC))


def test_presence_wakes_bereik_and_absence_lets_it_sleep(state):
    version = state.version
    state.on_presence(presence("present"))
    assert state.present and state.screen is Screen.BEREIK and state.version > version
    version = state.version
    state.on_presence(presence("present"))  # retained, delivered again: no change
    assert state.version == version
    state.on_presence(presence("absent"))
    assert not state.present and state.screen is Screen.BEREIK
    assert state.remaining() is None, "presence alone starts no idle timeout"


GTIN = "08712345678906"


def product_result(personal=True, saving=250, reason="Goud-prijs") -> ProductResult:
    return ProductResult(
        product={"gtin": GTIN, "name": "Gazonmest 10 kg", "description": "Voor een groen gazon.",
                 "category": "gazon", "shelf_price_cents": 2495, "shelf": "Gang 3"},
        price={"price_cents": 2495 - saving, "shelf_price_cents": 2495, "saving_cents": saving,
               "source": "price-list" if saving else "shelf", "reason": reason if saving else None},
        offers=[], personal=personal)


def test_a_scan_asks_for_the_product_with_the_session_and_shows_the_answer(state, words):
    sid = new_id()
    state.on_session(session(sid=sid))
    effects = state.on_scan(ScanPayload(gtin="8712345678906", format="ean-13"))
    assert effects == [Request("product", sid, "nl", GTIN)]
    assert state.screen is Screen.INFORMEER and state.visit.product.status == "loading"
    state.on_response("product", sid, True, product_result(), None)
    lines = words.product(state.visit.product.value, state.visit.product.status, state.visit.session, "nl")
    assert (lines["name"], lines["price_label"], lines["price"], lines["was"], lines["reason"]) == (
        "Gazonmest 10 kg", "Uw prijs", "€\u00a022,45", "Normaal €\u00a024,95", "Goud-prijs")
    assert lines["hint"] == ""
    assert words.product(state.visit.product.value, "loaded", state.visit.session, "fr")["price"] == "22,45\u00a0€"
    state.back()
    assert state.screen is Screen.BEGRIJP and state.visit.product.value is None and state.visit.session is not None


def test_a_shelf_pickup_without_a_session_shows_the_anonymous_price_and_times_out(state, clock, words):
    assert state.on_shelf(ShelfPayload(zone="z", gtin=GTIN, action="putback")) == []
    effects = state.on_shelf(ShelfPayload(zone="z", gtin=GTIN, action="pickup"))
    assert effects == [Request("product", None, "nl", GTIN)] and state.screen is Screen.INFORMEER
    state.on_response("product", "someone-else", True, product_result(), None)
    assert state.visit.product.status == "loading", "an answer for another session is ignored"
    state.on_response("product", None, True, product_result(personal=False, saving=0), None)
    lines = words.product(state.visit.product.value, state.visit.product.status, None, "nl")
    assert (lines["price_label"], lines["price"], lines["was"]) == ("Prijs", "€\u00a024,95", "")
    assert lines["hint"] == "Met uw klantenpas ziet u uw eigen prijs."
    clock.now += 46
    state.tick()
    assert state.screen is Screen.BEREIK and state.visit.product.value is None and state.visit.product.status == "idle"


def test_a_failed_or_late_product_answer_and_a_new_session_leave_nothing(state, words):
    state.on_scan(ScanPayload(gtin=GTIN, format="ean-13"))
    state.on_response("product", None, False, None, "unknown product")
    assert state.visit.product.status == "failed"
    assert words.product(None, "failed", None, "nl")["status"].startswith("Dit product kunnen we nu niet tonen")
    state.on_scan(ScanPayload(gtin="96385074", format="ean-8"))
    state.on_response("product", None, True, product_result(), None)  # the first scan's answer, late
    assert state.visit.product.status == "loading"
    sid = new_id()
    state.on_session(session(sid=sid))
    assert state.screen is Screen.BEGRIJP and state.visit.product.status == "idle"
    state.on_scan(ScanPayload(gtin=GTIN, format="ean-13"))
    state.on_response("product", sid, True, product_result(), None)
    state.done()
    assert "Gazonmest" not in everything_in(state)


def offer_view(offer="voorjaar-2026", needs_activation=True, applies=False, **more) -> dict:
    return {"offer": offer, "version": 1, "kind": "percentage-off", "title": "10% voorjaarskorting",
            "valid_until": datetime(2026, 6, 1, 0, 0, tzinfo=AMSTERDAM), "personal": True, "applies": applies,
            "needs_activation": needs_activation, "percent": 10, **more}


def offers_result() -> OffersResult:
    return OffersResult(offers=[offer_view(), offer_view("handschoenen", needs_activation=False, needs_code=True,
                                                         title="Gratis tuinhandschoenen")],
                        deals=[{"gtin": GTIN, "name": "Gazonmest 10 kg", "shelf_price_cents": 2495,
                                "price_cents": 2245, "reason": "Goud-prijs"}], more_deals=0, personal=True)


def test_converteer_shows_the_offers_activates_one_and_checks_a_promo_code(state, words):
    sid = new_id()
    state.on_session(session(sid=sid))
    assert state.open(Screen.CONVERTEER) == [Request("offers", sid, "nl")] and state.visit.offers.status == "loading"
    state.on_response("offers", sid, True, offers_result(), None)
    assert words.offer_until(state.visit.offers.value.offers[0], "nl", AMSTERDAM) == "Geldig tot en met 31 mei 2026"
    assert words.deals(state.visit.offers.value, "nl") == [
        ("Gazonmest 10 kg", "€\u00a022,45 in plaats van €\u00a024,95")]
    assert state.activate_offer("handschoenen") == [], "it needs a code, not an activation"
    assert state.activate_offer("voorjaar-2026") == [Request("activate-offer", sid, offer="voorjaar-2026")]
    assert state.activate_offer("voorjaar-2026") == [], "once at a time"
    state.on_response("activate-offer", sid, False, None, "no answer")
    assert state.visit.activations == {"voorjaar-2026": "failed"}
    state.activate_offer("voorjaar-2026")
    state.on_response("activate-offer", sid, True, ActivateOfferResult(offer="voorjaar-2026", new=True), None)
    assert state.visit.activations == {} and state.visit.offers.value.offers[0].applies
    assert state.check_promo_code("  ") == [] and state.visit.promo.status == "invalid"
    assert state.check_promo_code("lente 26!") == [] and state.visit.promo.status == "invalid"
    assert state.check_promo_code("lente26") == [Request("check-promo-code", sid, "nl", code="LENTE26")]
    state.on_response("check-promo-code", sid, True, PromoCodeResult(valid=False, outcome="expired"), None)
    assert words.promo(state.visit.promo.value, state.visit.promo.status, "nl") == "Deze code is verlopen."
    state.check_promo_code("GRATIS")
    state.on_response("check-promo-code", sid, True, PromoCodeResult(
        valid=True, outcome="valid", offer=offer_view("handschoenen", needs_activation=False, applies=True,
                                                      needs_code=True, title="Gratis tuinhandschoenen")), None)
    assert words.promo(state.visit.promo.value, state.visit.promo.status, "en") == (
        "Done! Gratis tuinhandschoenen now applies to you.")
    assert state.visit.offers.value.offers[1].applies
    state.done()
    assert state.visit.offers.value is None and state.visit.promo.value is None
    assert "voorjaarskorting" not in everything_in(state)


def test_converteer_without_recognition_shows_offers_for_everyone_and_activates_none(state):
    state.on_session(session("unknown-card"))
    sent = state.open(Screen.CONVERTEER)
    assert [request.command for request in sent] == ["offers"]  # the agent answers with offers for everyone
    state.on_response("offers", state.visit.session.id, True, OffersResult(
        offers=[offer_view("maaierolie", needs_activation=True)], deals=[], more_deals=0, personal=False), None)
    assert state.activate_offer("maaierolie") == []


def test_staff_scans_open_no_product(state):
    state.on_session(session("staff", staff="s-anna"))
    assert state.on_scan(ScanPayload(gtin=GTIN, format="ean-13")) == [] and state.screen is Screen.STAFF_PIN


# --------------------------------------------------------------------------- loyalty progress


def account(tier="zilver", points=3120, next_tier="goud", to_next=1880, euros=188, progress=0.3733) -> AccountResult:
    return AccountResult(loyalty={"tier": tier, "points": points, "next_tier": next_tier, "points_to_next": to_next,
                                  "euros_to_next": euros, "progress": progress, "points_per_euro": 10})


def test_continueer_shows_the_agents_account_answer_for_this_session_only(state, words):
    sid = new_id()
    state.on_session(session(sid=sid, tier="zilver", points=3120))
    assert state.open(Screen.CONTINUEER) == [Request("account", sid)] and state.visit.account.status == "loading"
    assert words.progress(state.visit.account.value, "nl") == ("", 0.0)
    state.on_response("account", new_id(), True, account(points=1), None)  # another session's
    assert state.visit.account.value is None
    state.on_response("account", sid, True, account(), None)
    assert state.visit.account.status == "loaded"
    assert words.progress(state.visit.account.value, "nl") == ("Nog 1.880 punten (€\u00a0188) tot Goud.", 0.3733)
    assert words.points_per_euro(state.visit.account.value) == "10"
    state.open(Screen.CONTINUEER)
    state.on_response("account", sid, False, None, "no answer")
    assert state.visit.account.status == "failed" and state.visit.account.value is None
    state.on_response("account", sid, True, account(), None)
    state.done()
    assert state.visit.account.value is None and state.visit.account.status == "idle"


def test_progress_at_the_top_tier_and_without_points(words):
    top = account(tier="goud", points=5120, next_tier=None, to_next=None, euros=None, progress=1.0)
    assert words.progress(top, "nl") == ("U heeft het hoogste niveau bereikt. Dank voor uw trouw!", 1.0)
    assert words.progress(AccountResult(loyalty={"tier": "goud", "points_per_euro": 10}), "nl") == ("", 0.0)
    assert words.progress(AccountResult(loyalty=None), "nl") == ("", 0.0)
    assert words.progress(account(next_tier="platina"), "en")[0] == "1,880 more points (€188) to Platina."


# --------------------------------------------------------------------------- words


@pytest.fixture(scope="module")
def words():
    return Words(Translator())


def test_greeting_by_time_of_day_and_language(words, state):
    state.on_session(session())
    assert words.greeting(state.visit.session, "nl", 14) == "Goedemiddag Sanne"
    assert words.greeting(state.visit.session, "nl", 9) == "Goedemorgen Sanne"
    assert words.greeting(state.visit.session, "en", 20) == "Good evening Sanne"
    assert words.greeting(state.visit.session, "fr", 14) == "Bonjour Sanne"
    state.on_session(session(may_show=("tier",)))
    assert words.greeting(state.visit.session, "nl", 14) == "Goedemiddag", "no name when it may not be shown"
    assert words.tier_line(state.visit.session, "nl") == "U bent Goud-lid van onze klantenclub."


def test_numbers_money_dates_and_plurals_per_language(words, state):
    assert [words.number(5120, lang) for lang in ("nl", "en", "fr")] == ["5.120", "5,120", "5\u00a0120"]
    assert [words.money(188, lang) for lang in ("nl", "en", "fr")] == ["€\u00a0188", "€188", "188\u00a0€"]
    when = datetime(2027, 4, 1, 7, 5, tzinfo=UTC)
    assert words.date_time(when, "nl", AMSTERDAM) == "1 april 2027, 09:05"
    assert words.date(when, "fr", AMSTERDAM) == "1 avril 2027"
    state.on_session(session(points=1))
    assert words.points(state.visit.session, "nl") == "1 punt"
    state.on_session(session(tier="zilver", points=3120))
    assert words.progress(account(), "en") == ("1,880 more points (€188) to Gold.", 0.3733)
    assert words.progress(account(), "fr")[0] == "Encore 1\u00a0880 points (188\u00a0€) pour atteindre Or."


def test_my_data_rows_translate_purposes_uses_and_categories(words):
    data = my_data()
    assert words.known(data, "en")[:2] == [("First name", "Sanne"), ("Language", "Nederlands")]
    assert words.consents(data, "nl", AMSTERDAM) == [("Herkenning aan de kiosk", "tot 1 april 2027")]
    assert words.data_use(data, "fr", AMSTERDAM) == [("1 avril 2026, 11:30", "Reconnu à la borne (prénom, niveau)")]
    assert words.known(None, "nl") == [] and words.consents(None, "nl", AMSTERDAM) == []


# --------------------------------------------------------------------------- Begrijp, Inspireer, Ontzorg, feedback


def full_account() -> AccountResult:
    return AccountResult(
        loyalty={"tier": "goud", "points": 5120, "points_per_euro": 10},
        orders=[{"order_id": "WEB-100233", "status": "collected", "pickup": {"kind": "service-desk"}},
                {"order_id": "WEB-100234", "status": "ready", "pickup": {"kind": "locker", "locker": "4"},
                 "ready_since": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
                 "deadline": datetime(2026, 12, 4, 18, 0, tzinfo=UTC),
                 "items": [{"name": "Gazonmest 20 kg", "quantity": 1}, {"name": "Snoeischaar", "quantity": 1}]}],
        purchases=[{"gtin": "08712345000028", "name": "Gazonmest 10 kg", "quantity": 1,
                    "at": datetime(2026, 10, 14, 10, 12, tzinfo=UTC), "channel": "shop"},
                   {"gtin": "04006381333931", "name": None, "quantity": 2,
                    "at": datetime(2026, 9, 2, 19, 40, tzinfo=UTC), "channel": "webshop"}])


def test_a_recognised_session_asks_for_the_account_and_begrijp_says_what_was_bought_and_is_ready(state, words):
    sent = state.on_session(session())
    assert sent == [Request("account", state.visit.session.id)] and state.visit.account.status == "loading"
    state.on_response("account", state.visit.session.id, True, full_account(), None)
    assert words.last_purchase(state.visit.account.value, "nl") == "Vorige keer: Gazonmest 10 kg"
    assert words.last_purchase(state.visit.account.value, "en") == "Last time: Gazonmest 10 kg"
    assert words.ready_order(state.visit.account.value, "nl", AMSTERDAM) == (
        "Uw bestelling WEB-100234 ligt klaar: kluis 4. Ophalen kan tot 4 december 2026, 19:00.")
    assert words.purchases(state.visit.account.value, "nl", AMSTERDAM) == [
        ("14 oktober 2026, in de winkel", "1 × Gazonmest 10 kg"),
        ("2 september 2026, in de webshop", "2 × artikel 04006381333931")]
    orders = words.orders(state.visit.account.value, "fr", AMSTERDAM)
    assert [order["title"] for order in orders] == ["Commande WEB-100234", "Commande WEB-100233"]  # ready first
    assert orders[0]["status"] == "Prête à être retirée" and orders[0]["place"] == "À retirer : casier 4"
    assert orders[0]["items"] == "1 × Gazonmest 20 kg, 1 × Snoeischaar" and orders[1]["place"] == ""


@pytest.mark.parametrize("outcome", ["unknown-card", "anonymous", "staff"])
def test_nobody_but_a_recognised_customer_has_an_account_asked_for(state, outcome):
    assert state.on_session(session(outcome, staff="s-anna")) == []
    assert state.open(Screen.ONTZORG) == [] or state.mode is Mode.STAFF


def test_without_a_card_a_shopper_browses_inspireer_and_the_idle_timeout_brings_back_the_attract_loop(state, clock):
    assert state.open(Screen.INSPIREER) == [] and state.screen is Screen.INSPIREER
    sent = state.show_product("8712345000011")
    assert sent == [Request("product", None, "nl", "8712345000011")] and state.screen is Screen.INFORMEER
    state.back()
    assert state.screen is Screen.INSPIREER
    clock.now += 44
    assert state.tick() == [] and state.screen is Screen.INSPIREER
    clock.now += 2
    state.tick()
    assert state.screen is Screen.BEREIK and not state.idle_running


def test_an_instruction_video_plays_on_ontzorg_and_is_gone_after_the_session(state):
    state.on_session(session())
    state.show_product("8712345000011")
    state.play("gazon-bemesten")  # "Bekijk de uitleg" on Informeer
    assert state.screen is Screen.ONTZORG and state.visit.video == "gazon-bemesten"
    assert state.visit.product.value is None
    state.stop_video()
    assert state.visit.video is None and state.screen is Screen.ONTZORG
    state.play("gazon-bemesten")
    state.open(Screen.CONVERTEER)
    assert state.visit.video is None  # leaving Ontzorg closes the player
    state.play("gazon-bemesten")
    state.done()
    assert state.visit.video is None and state.screen is Screen.BEREIK


def test_staff_plays_no_videos_and_gives_no_feedback(state):
    state.on_session(session("staff", staff="s-anna"))
    state.play("gazon-bemesten")
    assert state.visit.video is None and state.screen is Screen.STAFF_PIN
    assert state.give_feedback(5) == [] and state.call_staff() == []


def test_feedback_and_a_staff_call_go_once_with_the_phase_they_came_from(state):
    state.on_session(session())
    sid = state.visit.session.id
    state.open(Screen.CONTINUEER)
    assert state.give_feedback(4) == [Request("feedback", sid, score=4, phase="continue")]
    assert state.give_feedback(5) == []  # once per visit to the screen
    state.on_response("feedback", sid, True, None, None)
    assert state.visit.feedback.status == "sent" and state.visit.feedback_score == 4
    state.show_product("8712345000011")
    assert state.call_staff("product-advice") == [Request("staff-assist", sid, gtin="8712345000011", phase="inform",
                                                          topic="product-advice")]  # the product on the screen
    state.on_response("staff-assist", sid, False, None, "timed out")
    assert state.visit.assist.status == "failed"
    assert len(state.call_staff("product-advice")) == 1  # a failed call can be tried again
    with pytest.raises(ValueError):
        state.give_feedback(6)
    state.done()
    assert state.visit.feedback.status == "idle" and state.visit.feedback_score is None
    assert state.visit.assist.status == "idle"


def test_feedback_without_a_session_is_anonymous(state):
    state.open(Screen.CONTINUEER)
    assert state.give_feedback(2, "waiting-time") == [Request("feedback", None, score=2, reason="waiting-time",
                                                              phase="continue")]
    assert Request("feedback", None, score=2, reason="waiting-time", phase="continue").fields() == {
        "score": 2, "reason": "waiting-time", "phase": "continue"}
