"""The kiosk on a virtual display, driven through a real Mosquitto with messages encoded by the contract.

Each test starts ``python -m kiosk`` on Xvfb, publishes what the agent would
publish, clicks with a real (XTEST) pointer and reads the kiosk's status file
for the screen and its texts. Screenshots of every screen are kept in
``tests/artifacts/screens/``.
"""

from __future__ import annotations

import re
import struct
import zlib
from datetime import UTC, datetime

import pytest

from edge_agent.contract import (
    BIRTH,
    HEALTH,
    PRESENCE,
    SCAN,
    SHELF,
    STAFF_MODE,
    STATE,
    AccountResult,
    ActivateOfferResult,
    OffersResult,
    ProductResult,
    PromoCodeResult,
    encode,
    encode_response,
    new_id,
)
from tests.support.kiosk import answer, publish_session, request_topic
from tests.support.xvfb import Pointer

GREETING = re.compile(r"^(Goedemorgen|Goedemiddag|Goedenavond) Sanne$")
PERSONAL = ("Sanne", "Piet", "5.120", "3.120", "Goud-lid", "Zilver-lid")


GTIN = "08712345678906"


def lawn_feed(personal: bool, saving: int, reason: str | None) -> ProductResult:
    return ProductResult(
        product={"gtin": GTIN, "name": "Gazonmest 10 kg", "category": "gazon", "shelf_price_cents": 2495,
                 "description": "Langwerkende mest voor een dicht, groen gazon. Genoeg voor 200 m².",
                 "shelf": "Gang 3, tuin"},
        price={"price_cents": 2495 - saving, "shelf_price_cents": 2495, "saving_cents": saving,
               "source": "price-list" if saving else "shelf", "reason": reason},
        offers=[], personal=personal)


def nothing_personal(status: dict) -> bool:
    held = " ".join(status["held_texts"])
    return not any(text in held for text in PERSONAL)


def png(path, width: int, height: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> None:
    """A vertical gradient as a PNG file (no imaging library needed)."""
    rows = []
    for y in range(height):
        colour = bytes(round(a + (b - a) * y / max(1, height - 1)) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + colour * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


# --------------------------------------------------------------------------- Bereik


def test_bereik_loops_the_content_slides_and_wakes_on_a_session(kiosk, publisher, mosquitto, tmp_path):
    content = tmp_path / "content"
    (content / "attract").mkdir(parents=True)
    png(content / "attract" / "lente.png", 800, 400, (120, 170, 60), (30, 80, 40))
    png(content / "attract" / "gazon.png", 800, 400, (240, 200, 90), (200, 90, 40))
    (content / "content.yaml").write_text(
        "pack: test\nversion: '1'\nattract:\n"
        "  - id: lente\n    image: attract/lente.png\n    seconds: 2\n"
        "    caption: {nl: Het voorjaar is begonnen, en: Spring is here}\n"
        "  - id: gazon\n    image: attract/gazon.png\n    seconds: 2\n    caption: {nl: Alles voor een groen gazon}\n")
    app, topics = kiosk(args=("--content", str(content)))
    status = app.wait_screen("bereik", "Het voorjaar is begonnen", "Houd uw klantenpas bij de lezer")
    app.keep(status, "bereik-content-800x480")
    app.wait_screen("bereik", "Alles voor een groen gazon", timeout=5)
    publish_session(publisher(mosquitto), topics)
    status = app.wait_screen("begrijp", "Sanne")
    assert any(GREETING.match(text) for text in status["texts"])


def test_bereik_without_content_shows_the_built_in_attract(kiosk):
    app, _ = kiosk()
    status = app.wait_screen("bereik", "Welkom", "Houd uw klantenpas bij de lezer")
    assert status["session"] is False and "klaar" not in status["targets"]
    app.keep(status, "bereik-text-800x480")


def test_bereik_wakes_when_someone_is_present_and_sleeps_when_they_leave(kiosk, publisher, mosquitto):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    app.wait_screen("bereik", "Houd uw klantenpas bij de lezer")
    started = datetime.now(UTC).isoformat()
    pub.publish(topics.presence, encode(PRESENCE, {"state": "present", "started": started})[1], retain=True)
    try:
        status = app.wait_screen("bereik", "Tik uw klantenpas of scan een product", "Fijn dat u er bent!")
        assert status["present"] is True and status["session"] is False
        app.keep(status, "bereik-present-800x480")
        pub.publish(topics.presence, encode(PRESENCE, {"state": "absent", "started": started,
                                                       "ended": datetime.now(UTC).isoformat(), "dwell_s": 1.0})[1],
                    retain=True)
        status = app.wait_screen("bereik", "Houd uw klantenpas bij de lezer")
        assert status["present"] is False and not app.shows(status, "scan een product")
    finally:
        pub.publish(topics.presence, b"", retain=True)


# --------------------------------------------------------------------------- a recognised customer


def test_a_recognised_customer_is_greeted_sees_points_and_klaar_wipes_everything(kiosk, publisher, mosquitto,
                                                                                  capture):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    requests = capture(mosquitto, [request_topic(topics, "end-session"), request_topic(topics, "account")])
    sid = publish_session(pub, topics, tier="zilver", points=3120)
    status = app.wait_screen("begrijp", "Sanne", "U bent Zilver-lid van onze klantenclub.",
                             "Wat brengt u vandaag hier?")
    assert any(GREETING.match(text) for text in status["texts"])
    app.keep(status, "begrijp-800x480")
    app.click("intent-continueer")
    # The agent computes the progress (edge_agent.loyalty); the kiosk shows its answer, not its own maths.
    sent = answer(pub, topics, requests, "account", AccountResult(loyalty={
        "tier": "zilver", "points": 3120, "next_tier": "goud", "points_to_next": 1880, "euros_to_next": 188,
        "progress": 0.3733, "points_per_euro": 10}))
    assert sent == {"session": sid}
    status = app.wait_screen("continueer", "3.120 punten", "Nog 1.880 punten (€\u00a0188) tot Goud.",
                             "U spaart 10 punten per euro die u besteedt.")
    app.keep(status, "continueer-zilver-800x480")
    app.click("klaar")
    status = app.wait_screen("bereik", "Tot ziens!")
    app.keep(status, "bereik-tot-ziens-800x480")
    assert nothing_personal(status), status["held_texts"]
    sent = requests.wait_topic("/local/request/end-session")[0].json()
    assert sent["data"] == {"session": sid} and sent["transaction"]


def test_a_top_tier_customer_has_reached_the_highest_tier(kiosk, publisher, mosquitto, capture):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    requests = capture(mosquitto, request_topic(topics, "account"))
    publish_session(pub, topics)
    app.wait_screen("begrijp", "Sanne")
    app.click("nav-continueer")
    app.wait_screen("continueer", "5.120 punten", "Even geduld")
    answer(pub, topics, requests, "account", AccountResult(loyalty={
        "tier": "goud", "points": 5120, "progress": 1.0, "points_per_euro": 10}))
    status = app.wait_screen("continueer", "5.120 punten", "U heeft het hoogste niveau bereikt")
    app.keep(status, "continueer-goud-800x480")


def test_a_new_session_replaces_the_old_one_on_screen_and_in_memory(kiosk, publisher, mosquitto):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    publish_session(pub, topics)
    app.wait_screen("begrijp", "Sanne")
    app.click("nav-continueer")
    app.wait_screen("continueer", "5.120")
    publish_session(pub, topics, first_name="Piet", tier="brons", points=150)
    status = app.wait_screen("begrijp", "Piet")
    held = " ".join(status["held_texts"])
    assert "Sanne" not in held and "5.120" not in held


# --------------------------------------------------------------------------- Informeer


def test_a_scan_shows_the_customers_own_price_and_a_shelf_pickup_the_anonymous_one(kiosk, publisher, mosquitto,
                                                                                   capture):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    requests = capture(mosquitto, request_topic(topics, "product"))
    sid = publish_session(pub, topics)
    app.wait_screen("begrijp", "Sanne")
    pub.publish(topics.scan, encode(SCAN, {"gtin": GTIN, "format": "ean-13"})[1])
    app.wait_screen("informeer", "Even geduld")
    sent = answer(pub, topics, requests, "product", lawn_feed(True, 250, "Goud-prijs"))
    assert (sent["session"], sent["gtin"], sent["language"]) == (sid, GTIN, "nl")
    status = app.wait_screen("informeer", "Gazonmest 10 kg", "Langwerkende mest", "Uw prijs", "€\u00a022,45",
                             "Normaal €\u00a024,95", "Goud-prijs", "Te vinden in: Gang 3, tuin")
    assert {"product-back", "klaar", "nav-begrijp"} <= set(status["targets"])
    assert not app.shows(status, "Met uw klantenpas")
    app.keep(status, "informeer-goud-800x480")
    app.click("lang-en")
    app.keep(app.wait_screen("informeer", "Your price", "€22.45", "Normally €24.95"), "informeer-goud-en-800x480")
    app.click("product-back")
    app.wait_screen("begrijp", "Sanne")
    app.click("klaar")
    app.wait_screen("bereik", "Tot ziens!")
    pub.publish(topics.shelf, encode(SHELF, {"zone": "gazonmest-10kg", "gtin": GTIN, "action": "pickup"})[1])
    sent = answer(pub, topics, requests, "product", lawn_feed(False, 0, None), count=2)
    assert sent.get("session") is None and sent["gtin"] == GTIN
    status = app.wait_screen("informeer", "Gazonmest 10 kg", "Prijs", "€\u00a024,95",
                             "Met uw klantenpas ziet u uw eigen prijs.")
    assert not app.shows(status, "Uw prijs") and not app.shows(status, "Goud-prijs") and status["session"] is False
    app.keep(status, "informeer-anonymous-800x480")
    app.click("klaar")
    status = app.wait_screen("bereik", "Houd uw klantenpas bij de lezer")
    assert "Gazonmest" not in " ".join(status["held_texts"])


def test_an_unknown_product_says_so_and_a_putback_changes_nothing(kiosk, publisher, mosquitto, capture):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    requests = capture(mosquitto, request_topic(topics, "product"))
    pub.publish(topics.shelf, encode(SHELF, {"zone": "z", "gtin": GTIN, "action": "putback", "out_s": 3})[1])
    pub.publish(topics.scan, encode(SCAN, {"gtin": GTIN, "format": "ean-13"})[1])
    answer(pub, topics, requests, "product", "unknown product")
    status = app.wait_screen("informeer", "Dit product kunnen we nu niet tonen")
    assert len(requests.on("/local/request/product")) == 1, "a putback asks for nothing"
    app.keep(status, "informeer-failed-800x480")
    app.click("product-back")
    app.wait_screen("bereik")


# --------------------------------------------------------------------------- Converteer


def spring_offer(offer: str, title: str, **more) -> dict:
    return {"offer": offer, "version": 1, "kind": "percentage-off", "title": title,
            "valid_until": "2026-05-31T22:00:00Z", "personal": False, "applies": False, "percent": 10, **more}


def test_converteer_shows_the_offers_activates_one_and_takes_a_promo_code(kiosk, publisher, mosquitto, capture):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    requests = capture(mosquitto, [request_topic(topics, name) for name in
                                   ("offers", "activate-offer", "check-promo-code")])
    sid = publish_session(pub, topics)
    app.wait_screen("begrijp", "Sanne")
    app.click("intent-converteer")
    sent = answer(pub, topics, requests, "offers", OffersResult(
        offers=[spring_offer("voorjaar-2026", "10% voorjaarskorting", needs_activation=True,
                             description="Op alles voor de tuin, vanaf € 50."),
                spring_offer("handschoenen", "Gratis tuinhandschoenen", needs_code=True, kind="gift-with-purchase",
                             gift="tuinhandschoenen", percent=None)],
        deals=[{"gtin": GTIN, "name": "Gazonmest 10 kg", "shelf_price_cents": 2495, "price_cents": 2245,
                "reason": "Goud-prijs"}], more_deals=0, personal=True))
    assert sent == {"session": sid, "language": "nl", "limit": 50}
    status = app.wait_screen("converteer", "10% voorjaarskorting", "Geldig tot en met 31 mei 2026",
                             "Gratis tuinhandschoenen", "Met een kortingscode.", "Gazonmest 10 kg",
                             "€\u00a022,45 in plaats van €\u00a024,95", "Heeft u een kortingscode?")
    assert {"activate-voorjaar-2026", "promo-code", "promo-check", "nav-converteer"} <= set(status["targets"])
    app.keep(status, "converteer-800x480")
    app.click("activate-voorjaar-2026")
    sent = answer(pub, topics, requests, "activate-offer", ActivateOfferResult(offer="voorjaar-2026", new=True))
    assert sent == {"session": sid, "offer": "voorjaar-2026"}
    status = app.wait_screen("converteer", "Actief: u krijgt dit voordeel bij de kassa.")
    assert "activate-voorjaar-2026" not in status["targets"]
    app.click("promo-code")
    app.type("lente26")
    app.click("promo-check")
    sent = answer(pub, topics, requests, "check-promo-code", PromoCodeResult(
        valid=True, outcome="valid", offer=spring_offer("handschoenen", "Gratis tuinhandschoenen", needs_code=True,
                                                        applies=True, kind="gift-with-purchase",
                                                        gift="tuinhandschoenen", percent=None)))
    assert sent == {"session": sid, "code": "LENTE26", "language": "nl"}
    status = app.wait_screen("converteer", "Gelukt! Gratis tuinhandschoenen geldt nu voor u.")
    assert not app.shows(status, "Met een kortingscode.")
    app.keep(status, "converteer-activated-800x480")
    app.click("klaar")
    status = app.wait_screen("bereik", "Tot ziens!")
    assert "voorjaarskorting" not in " ".join(status["held_texts"])


# --------------------------------------------------------------------------- anonymous mode


def test_an_unknown_card_gets_anonymous_mode_and_an_invitation_to_enrol(kiosk, publisher, mosquitto, capture):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    requests = capture(mosquitto, request_topic(topics, "enrol"))
    sid = publish_session(pub, topics, "unknown-card", reason="unknown card")
    status = app.wait_screen("enrolment", "Deze kaart kennen we nog niet.", "Doe mee met onze klantenclub",
                             "Ja, ik doe mee")
    assert set(status["targets"]) >= {"enrol", "no-thanks", "klaar"}
    # The same phases without anything personal: no Mijn gegevens, and "Mening" instead of "Punten".
    assert "nav-mijn-gegevens" not in status["targets"] and {"nav-inspireer", "nav-continueer"} <= set(
        status["targets"])
    assert app.shows(status, "Mening") and not app.shows(status, "Punten")
    app.keep(status, "enrolment-unknown-card-800x480")
    app.click("enrol")
    sent = requests.wait_topic("/local/request/enrol")[0].json()
    assert sent["data"]["session"] == sid and sent["data"].get("language", "nl") == "nl"
    pub.publish(topics.response("enrol"), encode_response("enrol", sent["transaction"], error="not yet"))
    status = app.wait_screen("enrolment", "Aanmelden lukt nu niet. Vraag een medewerker om hulp.")
    app.keep(status, "enrolment-failed-800x480")


def test_a_rejected_card_is_asked_to_tap_again_without_an_invitation(kiosk, publisher, mosquitto):
    app, topics = kiosk()
    publish_session(publisher(mosquitto), topics, "rejected", reason="replayed-counter")
    status = app.wait_screen("enrolment", "We konden uw kaart niet goed lezen")
    assert "enrol" not in status["targets"] and not app.shows(status, "Doe mee")
    app.keep(status, "enrolment-rejected-800x480")


# --------------------------------------------------------------------------- time and language


def test_an_idle_session_counts_down_then_ends_and_wipes(kiosk, publisher, mosquitto, capture, xvfb):
    app, topics = kiosk(args=("--idle-timeout", "5", "--countdown", "3"))
    requests = capture(mosquitto, request_topic(topics, "end-session"))
    sid = publish_session(publisher(mosquitto), topics)
    app.wait_screen("begrijp", "Sanne")
    status = app.wait(lambda s: s["countdown"] is not None and app.shows(s, "Bent u er nog?"), timeout=5)
    assert app.shows(status, "Tik op het scherm om door te gaan.")
    app.keep(status, "begrijp-countdown-800x480")
    pointer = Pointer(xvfb.display)
    pointer.click(pointer.window_of(app.process.pid), 8, 120)  # a touch on nothing in particular
    app.wait(lambda s: s["countdown"] is None and s["screen"] == "begrijp", timeout=3)
    assert not requests.on("/local/request/end-session"), "the touch kept the session"
    status = app.wait_screen("bereik", "De sessie is gestopt omdat het scherm even niet is gebruikt.", timeout=8)
    assert nothing_personal(status), status["held_texts"]
    app.keep(status, "bereik-after-idle-800x480")
    assert requests.wait_topic("/local/request/end-session")[0].json()["data"] == {"session": sid}


def test_the_language_follows_the_profile_can_be_switched_and_resets(kiosk, publisher, mosquitto):
    app, topics = kiosk()
    publish_session(publisher(mosquitto), topics, language="fr")
    status = app.wait_screen("begrijp", "Sanne", "Qu'est-ce qui vous amène aujourd'hui ?", "Terminé")
    assert status["language"] == "fr" and any(t in ("Bonjour Sanne", "Bonsoir Sanne") for t in status["texts"])
    app.keep(status, "begrijp-fr-800x480")
    app.click("lang-en")
    status = app.wait_screen("begrijp", "What brings you here today?", "You are a Gold member", "Done")
    app.keep(status, "begrijp-en-800x480")
    app.click("klaar")
    status = app.wait_screen("bereik", "Welkom", "Tot ziens!")
    assert status["language"] == "nl"


# --------------------------------------------------------------------------- bad input


def test_malformed_messages_leave_the_kiosk_on_a_sane_screen(kiosk, publisher, mosquitto):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    for payload in (b"garbage", b'{"id": 1}', b"\x00" * 300_000):
        pub.publish(topics.session, payload)
    status = app.wait(lambda s: s["malformed"] == 3)
    assert status["screen"] == "bereik" and app.shows(status, "Welkom")
    sid = publish_session(pub, topics)
    app.wait_screen("begrijp", "Sanne")
    pub.publish(topics.session, encode(HEALTH, {"uptime_s": 1, "connected": True, "outbox_depth": 0,
                                                "outbox_critical": 0, "reconnects": 0, "dropped_telemetry": 0,
                                                "rejected_messages": 0})[1])  # a health message on the wrong topic
    pub.publish(topics.health, b'{"half": ')
    publish_session(pub, topics, sid=new_id(), state="ended", reason="new-tap")  # another session's end
    status = app.wait(lambda s: s["malformed"] == 5)
    assert status["screen"] == "begrijp" and app.shows(status, "Sanne")
    app.keep(status, "begrijp-after-malformed-800x480")
    publish_session(pub, topics, sid=sid, state="ended", reason="card-removed")
    app.wait_screen("bereik", "Tot ziens!")


# --------------------------------------------------------------------------- staff


def test_a_staff_badge_shows_the_device_health(kiosk, publisher, mosquitto):
    app, topics = kiosk()
    pub = publisher(mosquitto)
    pub.publish(topics.state, encode(STATE, {"state": "online", "reason": "connected"})[1], retain=True)
    pub.publish(topics.birth, encode(BIRTH, {
        "agent_version": "0.1.0", "python_version": "3.11.7", "paho_version": "2.1.0", "sqlite_version": "3.40.1",
        "device_kind": "kiosk", "capabilities": ["command:ping"], "config_hash": "a1b2c3d4",
        "started": datetime.now(UTC).isoformat()})[1], retain=True)
    try:
        pub.publish(topics.health, encode(HEALTH, {
            "uptime_s": 3725, "connected": True, "outbox_depth": 3, "outbox_critical": 1, "reconnects": 2,
            "dropped_telemetry": 0, "rejected_messages": 4, "broker_rtt_ms": 1.25, "reader_state": "ok",
            "taps": 17})[1], qos=0)
        sid = publish_session(pub, topics, "staff")
        app.wait_screen("staff-pin", "Voer uw pincode in")
        # Standing in for the agent: the right PIN was given (tests/test_staff_kiosk_e2e.py has the real one).
        pub.publish(STAFF_MODE.topic_for(topics.store, topics.device), encode(STAFF_MODE, {
            "session": sid, "state": "active", "display_name": "Anna", "role": "manager", "idle_s": 60})[1])
        status = app.wait_screen("staff", "Anna · Manager", "Gezondheid", "Versie van de agent", "0.1.0", "Kaartlezer",
                                 "in orde", "3 (waarvan 1 kritiek)", "1 u 2 min", "1.2 ms", "17")
        app.keep(status, "staff-800x480")
        app.click("klaar")
        app.wait_screen("bereik")
    finally:
        pub.publish(topics.state, b"", retain=True)
        pub.publish(topics.birth, b"", retain=True)


# --------------------------------------------------------------------------- sizes and accessibility


@pytest.mark.parametrize("size", ["800x480", "480x800", "1920x1080", "1080x1920"])
def test_every_window_size_keeps_touch_targets_at_least_9_mm(kiosk, publisher, mosquitto, size):
    app, topics = kiosk(size=size)
    publish_session(publisher(mosquitto), topics, tier="zilver", points=3120)
    status = app.wait_screen("begrijp", "Sanne")
    assert status["window"] == [int(part) for part in size.split("x")]
    for name, (_x, _y, width, height) in status["targets"].items():
        assert min(width, height) >= status["min_target_px"] - 0.5, f"{name} is smaller than 9 mm"
    assert {"intent-continueer", "intent-mijn-gegevens", "klaar", "lang-en", "contrast"} <= set(status["targets"])
    app.keep(status, f"begrijp-{size}")
    app.click("nav-continueer")
    app.keep(app.wait_screen("continueer", "3.120"), f"continueer-{size}")  # the account answer is not awaited


def test_high_contrast_and_larger_text(kiosk, publisher, mosquitto):
    app, topics = kiosk()
    publish_session(publisher(mosquitto), topics)
    before = app.wait_screen("begrijp", "Sanne")
    app.click("contrast")
    app.click("text-size")
    status = app.wait(lambda s: s["theme"] == "high-contrast" and s["text_scale"] == 1.25)
    assert status["unit"] == pytest.approx(before["unit"] * 1.25)
    for name, (_x, _y, width, height) in status["targets"].items():
        assert min(width, height) >= status["min_target_px"] - 0.5, f"{name} is smaller than 9 mm"
    app.keep(status, "begrijp-high-contrast-large-800x480")
    app.click("klaar")
    status = app.wait_screen("bereik")
    assert (status["theme"], status["text_scale"]) == ("standard", 1.0), "the next shopper starts afresh"


def test_content_scrolled_past_the_bars_stays_under_them(kiosk, publisher, mosquitto):
    """Nothing clips the screens (kiosk.widgets.Scroller: no stencil): the bars are drawn over them, so a
    scrolled screen never shows through the top bar or the bottom bar."""
    import cv2

    app, topics = kiosk()
    publish_session(publisher(mosquitto), topics)
    app.wait_screen("begrijp", "Sanne")
    app.click("text-size")
    app.wait(lambda s: s["text_scale"] == 1.25)  # the button has moved: the next click needs its new place
    app.click("text-size")  # 1.5: Begrijp is taller than its part of the window
    top = app.wait(lambda s: s["text_scale"] == 1.5 and s["scroll"] == [1.0])
    app.wheel(40)
    bottom = app.wait(lambda s: s["scroll"] == [0.0])
    # The last screenshot shows the status: a new one is taken whenever the look (scrolling too) changes.
    before = cv2.imread(app.keep(top, "begrijp-large-800x480"))
    after = cv2.imread(app.keep(bottom, "begrijp-scrolled-800x480"))
    assert "intent-inspireer" not in bottom["targets"] or bottom["targets"] != top["targets"], "it did not scroll"
    assert (before != after).any(), "the screen did not change when scrolled"
    top_bar = int(top["target_px"] + top["unit"] * 0.6)  # shell.kv: the top bar's height
    bar_buttons = [top["targets"][name] for name in top["targets"] if name.startswith("nav-") or name == "klaar"]
    bottom_bar = int(min(y - h / 2 for _x, y, _w, h in bar_buttons))  # the bottom bar's highest button
    assert (before[:top_bar] == after[:top_bar]).all(), "content scrolled up shows through the top bar"
    assert (before[bottom_bar:] == after[bottom_bar:]).all(), "content below the view shows through the bottom bar"
