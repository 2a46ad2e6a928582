"""Inspireer, Ontzorg and Continueer on a virtual display with the Dutch demo content pack.

The kiosk runs with a copy of ``content/tuincentrum`` (media drawn by its
``make_media.py``; the schedules taken out so the test does not depend on the
date). Answers of the agent are published the way the agent would; the real
agent is in ``test_kiosk_agent_e2e.py``.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from edge_agent.contract import AccountResult, ProductResult, QueuedResult, new_id
from tests.support.kiosk import answer, publish_session, request_topic

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "content" / "tuincentrum"
OIL = "08712345000042"


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    """The demo pack with its media drawn and without its date schedules."""
    folder = tmp_path_factory.mktemp("tuincentrum")
    manifest = (DEMO / "content.yaml").read_text(encoding="utf-8")
    (folder / "content.yaml").write_text(re.sub(r"(?m)^\s+when:.*\n", "", manifest), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("make_media", DEMO / "make_media.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_media(folder)
    return folder


def mower_oil() -> ProductResult:
    return ProductResult(
        product={"gtin": OIL, "name": "Maaierolie 1 L", "category": "onderhoud", "shelf_price_cents": 849,
                 "images": ["products/maaierolie.jpg"], "shelf": "Gang 5, schap C"},
        price={"price_cents": 849, "shelf_price_cents": 849, "saving_cents": 0, "source": "shelf"},
        offers=[], personal=False)


def test_without_a_card_a_shopper_browses_a_carousel_sees_a_product_and_plays_its_how_to(kiosk, publisher,
                                                                                          mosquitto, capture, pack):
    app, topics = kiosk(args=("--content", str(pack), "--transition", "none"))
    pub = publisher(mosquitto)
    requests = capture(mosquitto, request_topic(topics, "product"))
    status = app.wait_screen("bereik", "Inspiratie", "Uitleg in beeld", "Hulp nodig?")
    app.keep(status, "bereik-pack-800x480")

    app.click("attract-inspireer")
    status = app.wait_screen("inspireer", "Klaar voor het voorjaar", "Gazonmest 5 kg: voor 100 m²",
                             "Gazonmest 10 kg: voor 200 m²", "Gereedschap en onderhoud", timeout=15)
    assert "inspire-8712345000042" not in status["targets"], "three products a page on a landscape screen"
    assert {"nav-inspireer", "nav-ontzorg", "klaar"} <= set(status["targets"])
    app.keep(status, "inspireer-800x480")
    app.click("carousel-voorjaar-next")
    status = app.wait_screen("inspireer", "Maaierolie voor de eerste maaibeurt", "2 / 2")
    assert not app.shows(status, "Gazonmest 5 kg: voor 100 m²")
    app.keep(status, "inspireer-page-2-800x480")

    app.click("inspire-8712345000042")
    sent = answer(pub, topics, requests, "product", mower_oil())
    assert sent == {"session": None, "gtin": OIL, "language": "nl"}, "browsing without a card: no session"
    status = app.wait_screen("informeer", "Maaierolie 1 L", "Prijs", "Met uw klantenpas ziet u uw eigen prijs.",
                             "Bekijk de uitleg (video)")
    app.keep(status, "informeer-browse-800x480")

    app.click("product-video")
    status = app.wait(lambda s: s["screen"] == "ontzorg" and s["video"] and s["video"]["loaded"]
                      and s["video"]["state"] == "play" and s["video"]["position"] > 1.0, timeout=20)
    assert status["video"]["id"] == "snoeien" and 7 <= status["video"]["duration"] <= 9
    app.keep(status, "ontzorg-video-800x480")
    app.click("video-toggle")
    paused = app.wait(lambda s: s["video"]["state"] == "pause")["video"]["position"]
    status = app.wait(lambda s: s["video"]["state"] == "pause" and s["seq"] > 0)
    assert abs(status["video"]["position"] - paused) < 0.5
    app.click("video-replay")
    app.wait(lambda s: s["video"]["state"] == "play" and s["video"]["position"] < paused)
    app.click("video-forward")
    app.wait(lambda s: s["video"]["position"] >= 5.0, timeout=5)
    app.click("video-close")
    status = app.wait_screen("ontzorg", "Uitleg in beeld", "Gazon bemesten in 4 stappen", "Snoeien met de snoeischaar",
                             "Met uw klantenpas ziet u hier of uw webshopbestelling klaarligt.")
    assert status["video"] is None
    app.click("video-gazon-bemesten")
    # Playing for real before the seek (ffpyplayer may drop a seek asked before its first frames are out).
    app.wait(lambda s: s["video"] and s["video"]["id"] == "gazon-bemesten" and s["video"]["loaded"]
             and s["video"]["state"] == "play" and s["video"]["position"] > 1.0, timeout=20)
    app.click("video-seek")  # the middle of the bar: half way through
    app.wait(lambda s: 10 <= s["video"]["position"] <= 20, timeout=5)
    app.click("klaar")
    status = app.wait_screen("bereik")
    assert status["video"] is None and "Gang 5, schap C" not in " ".join(status["held_texts"])


def test_a_customer_finds_their_order_the_how_to_for_what_they_bought_and_gives_feedback(kiosk, publisher,
                                                                                          mosquitto, capture, pack):
    app, topics = kiosk(args=("--content", str(pack), "--transition", "none"))
    pub = publisher(mosquitto)
    requests = capture(mosquitto, [request_topic(topics, name) for name in ("account", "feedback", "staff-assist")])
    sid = publish_session(pub, topics)
    account = AccountResult(
        orders=[{"order_id": "WEB-100234", "status": "ready", "pickup": {"kind": "service-desk"},
                 "deadline": "2026-12-04T17:00:00Z", "items": [{"name": "Snoeischaar", "quantity": 1}]}],
        purchases=[{"gtin": "08712345000059", "name": "Snoeischaar", "quantity": 1, "at": "2026-10-14T10:12:00Z",
                    "channel": "webshop"}])
    assert answer(pub, topics, requests, "account", account) == {"session": sid}
    status = app.wait_screen("begrijp", "Sanne", "Uw bestelling WEB-100234 ligt klaar: de servicebalie.",
                             "Vorige keer: Snoeischaar")
    app.keep(status, "begrijp-order-800x480")
    app.click("nav-ontzorg")
    answer(pub, topics, requests, "account", account, count=2)
    status = app.wait_screen("ontzorg", "Bestelling WEB-100234: Ligt klaar", "Ophalen bij: de servicebalie")
    videos = [text for text in status["texts"] if text in ("Gazon bemesten in 4 stappen", "Snoeien met de snoeischaar")]
    assert videos == ["Snoeien met de snoeischaar", "Gazon bemesten in 4 stappen"], "what she bought first"
    app.keep(status, "ontzorg-customer-800x480")

    app.click("nav-continueer")
    app.click("feedback-4")
    sent = answer(pub, topics, requests, "feedback", QueuedResult(event=new_id()))
    assert sent == {"session": sid, "score": 4, "reason": None, "phase": "continue"}
    app.wait_screen("continueer", "Dank u wel voor uw mening!")  # the panel shrank: the button moved
    app.click("staff-assist")
    sent = answer(pub, topics, requests, "staff-assist", QueuedResult(event=new_id()))
    assert sent == {"session": sid, "phase": "continue", "topic": None, "gtin": None}
    status = app.wait_screen("continueer", "Dank u wel voor uw mening!", "Er komt zo een medewerker naar u toe.")
    assert "feedback-4" not in status["targets"] and "staff-assist" not in status["targets"]
    app.keep(status, "continueer-feedback-800x480")
    app.click("lang-fr")
    app.wait_screen("continueer", "Merci pour votre avis !", "Un vendeur arrive tout de suite.")
    app.click("klaar")
    status = app.wait_screen("bereik", "Tot ziens!")
    assert "WEB-100234" not in " ".join(status["held_texts"])


@pytest.mark.parametrize("size", ["800x480", "480x800", "1920x1080", "1080x1920"])
def test_the_new_screens_keep_touch_targets_at_least_9_mm(kiosk, publisher, mosquitto, pack, size):
    app, topics = kiosk(size=size, args=("--content", str(pack), "--transition", "none"))
    publish_session(publisher(mosquitto), topics)
    app.wait_screen("begrijp", "Sanne")
    for screen in ("inspireer", "ontzorg", "continueer"):
        app.click(f"nav-{screen}")
        status = app.wait(lambda s, screen=screen: s["screen"] == screen and len(s["targets"]) > 8)
        small = {name: box for name, box in status["targets"].items()
                 if min(box[2], box[3]) < status["min_target_px"] - 0.5}
        assert not small, f"{screen} at {size}: {small}"
        app.keep(status, f"{screen}-{size}")
