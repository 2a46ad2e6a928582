"""Room for content: the bars leave at least 65 % of the window's height to the screens (issue 15).

At the four window sizes the kiosk ships for (800x480, the Raspberry Pi 7" screen; 480x800; 1920x1080;
1080x1920), at normal and at 1.5x text, with the demo pack's brand (a long store name and a logo in the top
bar), the status file's geometry (:meth:`kiosk.app.KioskApp._look_status`) gives the screens' area and the
bars; every touch target stays at least 9 mm, and every phase a shopper may open is in the bottom bar or
behind its Meer button (:mod:`kiosk.bars`), which opens a panel of full-size targets. Screenshots go to
``tests/artifacts/screens/room-*``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.kiosk import publish_session
from tests.support.packs import demo_pack as demo_pack_in

SIZES = ["800x480", "480x800", "1920x1080", "1080x1920"]
CUSTOMER_NAV = {"nav-begrijp", "nav-inspireer", "nav-converteer", "nav-ontzorg", "nav-continueer",
                "nav-mijn-gegevens"}


@pytest.fixture(scope="module")
def demo_pack(tmp_path_factory) -> Path:
    """The demo pack with its media (its logo among them) drawn."""
    return demo_pack_in(tmp_path_factory.mktemp("tuincentrum"))


def content_share(status: dict) -> float:
    geometry = status["geometry"]
    height = status["window"][1]
    top, content, bottom = geometry["top_bar"], geometry["content"], geometry["bottom_bar"]
    # The screens' area lies between the bars, which do not overlap it.
    assert top[1] == pytest.approx(0, abs=1) and content[1] >= top[1] + top[3] - 1
    assert bottom[1] >= content[1] + content[3] - 1 and bottom[1] + bottom[3] <= height + 1
    return content[3] / height


def small_targets(status: dict) -> dict:
    return {name: box for name, box in status["targets"].items() if min(box[2], box[3]) < status["min_target_px"] - 0.5}


def inside_window(status: dict) -> dict:
    width, height = status["window"]
    return {name: box for name, box in status["targets"].items()
            if box[0] - box[2] / 2 < -1 or box[0] + box[2] / 2 > width + 1
            or box[1] - box[3] / 2 < -1 or box[1] + box[3] / 2 > height + 1}


def check_room(app, status: dict, label: str) -> None:
    share = content_share(status)
    assert share >= 0.65, f"{label}: the screens get {share:.0%} of the height: {status['geometry']}"
    assert not small_targets(status), f"{label}: smaller than 9 mm: {small_targets(status)}"
    assert not inside_window(status), f"{label}: targets outside the window: {inside_window(status)}"
    more = status["geometry"]["more"]["items"]
    shown = set(status["targets"])
    assert shown | set(more) >= CUSTOMER_NAV, f"{label}: a phase is neither in the bar nor behind Meer"
    assert {"klaar", "lang-nl", "lang-en", "lang-fr", "text-size", "contrast"} <= shown, label
    assert ("nav-more" in shown) == bool(more), label
    assert status["logo_shown"], f"{label}: the brand's logo is not in the top bar"


@pytest.mark.parametrize("size", SIZES)
def test_the_bars_leave_65_percent_to_content_at_normal_and_large_text_with_9_mm_targets(
        kiosk, publisher, mosquitto, demo_pack, size):
    app, topics = kiosk(size=size, args=("--content", str(demo_pack), "--transition", "none"))
    publish_session(publisher(mosquitto), topics)
    status = app.wait(lambda s: s["screen"] == "begrijp" and app.shows(s, "Sanne") and s["brand"] is not None)
    check_room(app, status, f"{size} at 1x")
    app.keep(status, f"room-begrijp-{size}")
    app.click("text-size")
    app.wait(lambda s: s["text_scale"] == 1.25)
    app.click("text-size")
    status = app.wait(lambda s: s["text_scale"] == 1.5)
    check_room(app, status, f"{size} at 1.5x")
    app.keep(status, f"room-begrijp-large-{size}")
    more = status["geometry"]["more"]["items"]
    if more:
        # Meer opens a panel of full-size targets above the bar; one of them opens its screen and closes it.
        app.click("nav-more")
        opened = app.wait(lambda s: s["geometry"]["more"]["open"] and set(more) <= set(s["targets"]))
        assert not small_targets(opened) and not inside_window(opened), opened["targets"]
        panel, bar = opened["geometry"]["more"]["panel"], opened["geometry"]["bottom_bar"]
        assert panel[1] + panel[3] <= bar[1] + 1, "the panel lies above the bottom bar"
        app.keep(opened, f"room-more-large-{size}")
        # A tap beside the open panel closes it and does nothing else; Meer opens it again.
        content = opened["geometry"]["content"]
        app.tap(content[0] + 4, content[1] + 4)
        closed = app.wait(lambda s: not s["geometry"]["more"]["open"])
        assert closed["screen"] == "begrijp" and not set(more) & set(closed["targets"])
        app.click("nav-more")
        app.wait(lambda s: s["geometry"]["more"]["open"])
        target = more[-1]
        app.click(target)
        status = app.wait(lambda s: s["screen"] == target.removeprefix("nav-") and not s["geometry"]["more"]["open"])
        assert "nav-more" in status["targets"]
