"""Gapless attract and pack switch: no frame shows only the background, over 20 transitions and a switch.

The real kiosk under Xvfb with ``--frame-record`` (:mod:`kiosk.frame_recorder`: every frame's attract area read
back with ``glReadPixels`` and compared with the background) loops a pack of real images and videos of 2 s each
(:mod:`tests.support.attract_pack`). The agent's side of a switch is its retained ``local/content-active`` on a real
Mosquitto, published here as the agent does, and the kiosk's ``request/content-loaded`` is read off the broker
and answered.
"""

from __future__ import annotations

import shutil

import pytest

from edge_agent.contract import COMMANDS, Topics, encode, new_id
from edge_agent.contract.catalogue import CONTENT_ACTIVE
from kiosk.widgets import STANDARD
from tests.support.attract_pack import around, attract_pack, background_only, frames, transitions
from tests.support.kiosk import KioskProcess, answer
from tests.support.xvfb import Xvfb

TRANSITIONS = 20


@pytest.fixture(scope="module")
def xvfb():
    with Xvfb() as display:
        yield display


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    """Version 1 (the kiosk's own folder), version 2 (delivered), and broken deliveries."""
    root = tmp_path_factory.mktemp("packs")
    first = attract_pack(root / "gapless-1", "1", caption="Eerste")
    second = attract_pack(root / "gapless-2", "2", caption="Tweede", images=2, videos=1)
    missing = attract_pack(root / "gapless-3", "3", caption="Derde", images=1, videos=0)
    (missing / "attract" / "beeld-0.png").unlink()  # the manifest names a file that is not there
    undecodable = attract_pack(root / "gapless-4", "4", caption="Vierde", images=1, videos=0)
    (undecodable / "attract" / "beeld-0.png").write_bytes(b"\x89PNG\r\n\x1a\n but not a picture")
    other = attract_pack(root / "other-5", "5", name="ander", caption="Ander", images=1, videos=0)
    return {"first": first, "second": second, "missing": missing, "undecodable": undecodable, "other": other}


class Switches:
    """Stands in for the agent's activation: publishes ``content-active`` and answers ``content-loaded``."""

    def __init__(self, mosquitto, publisher, capture, store: str, device: str):
        self.topics = Topics(store, device)
        self.pub = publisher(mosquitto)
        self.requests = capture(mosquitto, [f"cs/v1/{store}/{device}/local/request/#"])
        self.answered = 0
        self.previous = None

    def activate(self, pack: str, version: int, folder) -> None:
        active = {"pack": pack, "version": version, "pack_version": str(version), "path": str(folder)}
        _, raw = encode(CONTENT_ACTIVE, {"active": active, "previous": self.previous, "staged": None})
        self.pub.publish(CONTENT_ACTIVE.topic_for(self.topics.store, self.topics.device), raw, retain=True)

    def loaded(self) -> dict:
        """The kiosk's next content-loaded, answered as the agent would; its data."""
        self.answered += 1
        result = COMMANDS["content-loaded"].response.model_validate({"fallback": False, "active": None})
        return answer(self.pub, self.topics, self.requests, "content-loaded", result, count=self.answered)


@pytest.fixture
def kiosk(xvfb, mosquitto, packs, tmp_path):
    store = f"store-{new_id()[-8:]}"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[content]\nfolder = "{packs["first"]}"\ncheck_s = 1\n')
    record = tmp_path / "frames.jsonl"
    app = KioskProcess(xvfb, mosquitto.port, store, "kiosk-1", tmp_path / "kiosk",
                       args=("--config", str(config), "--frame-record", str(record)))
    app.record = record
    app.store = store
    app.start(timeout=60)
    yield app
    assert app.stop() == 0, app.log()[-3000:]


def shows(kiosk: KioskProcess, count: int, timeout: float = 240) -> dict:
    return kiosk.wait(lambda s: s["attract"]["shows"] >= count, timeout=timeout)


def test_twenty_attract_transitions_and_a_pack_switch_never_show_only_the_background(
        kiosk, mosquitto, publisher, capture, packs):
    # No content-active yet (a shop without central): the kiosk loops its own folder's pack.
    status = kiosk.wait_screen("bereik", "Eerste 1", timeout=30)
    assert status["content"]["pack"] == "gapless" and status["content"]["version"] == "1"
    status = shows(kiosk, TRANSITIONS + 1)  # the first item, then twenty transitions

    switches = Switches(mosquitto, publisher, capture, kiosk.store, "kiosk-1")
    before = status["attract"]["shows"]
    switches.activate("gapless", 2, packs["second"])
    report = switches.loaded()
    assert report == {"pack": "gapless", "version": 2, "ok": True, "reason": None}
    status = kiosk.wait(lambda s: s["content"]["version"] == "2" and s["attract"]["shows"] >= before + 4, timeout=60)
    assert kiosk.shows(kiosk.wait_screen("bereik", "Tweede", timeout=30), "Tweede")
    assert status["content"]["switch"]["ok"] is True

    recorded = frames(kiosk.record)
    swaps = transitions(recorded)
    assert len(swaps) >= TRANSITIONS + 3, f"only {len(swaps)} transitions recorded"
    assert {frame["item"].split("/")[0] for frame in swaps} == {"attract", "videos"}  # images and videos
    assert [frame for frame in swaps if frame["pack"] == "gapless 2"], "no frame of the switched-to pack"
    blank = background_only(recorded)
    assert blank == [], f"{len(blank)} background-only frames:\n{around(recorded, blank)}"
    assert sum(1 for frame in recorded if frame["background_only"] is False) > len(swaps)


@pytest.mark.parametrize("broken, reason", [
    ("missing", "attract/beeld-0.png does not exist"),
    ("undecodable", "beeld-0.png: cannot decode"),
    ("other", "holds pack 'ander', not 'gapless'"),
])
def test_a_broken_delivered_pack_leaves_the_old_one_on_screen_and_is_reported_failed(
        kiosk, mosquitto, publisher, capture, packs, broken, reason):
    kiosk.wait_screen("bereik", "Eerste", timeout=30)
    switches = Switches(mosquitto, publisher, capture, kiosk.store, "kiosk-1")
    before = kiosk.status()["attract"]["shows"]
    switches.activate("gapless", 3, packs[broken])
    report = switches.loaded()
    assert report["ok"] is False and report["pack"] == "gapless" and report["version"] == 3
    assert reason in report["reason"], report["reason"]
    assert reason in kiosk.log() and "not used (keeping gapless 1)" in kiosk.log()
    status = kiosk.wait(lambda s: s["attract"]["shows"] >= before + 2, timeout=60)  # the loop goes on
    assert status["content"]["version"] == "1" and status["content"]["switch"]["ok"] is False
    assert kiosk.shows(kiosk.wait_screen("bereik", "Eerste", timeout=30), "Eerste")
    recorded = frames(kiosk.record)
    blank = background_only(recorded)
    assert blank == [], f"{len(blank)} background-only frames:\n{around(recorded, blank)}"


def test_the_frame_recorder_counts_a_frame_that_shows_only_the_background(xvfb, mosquitto, tmp_path):
    """The measure itself: a picture in the background's own colour is seen as background-only."""
    import cv2
    import numpy as np

    folder = attract_pack(tmp_path / "blank", "1", name="blank", images=1, videos=0, caption="Leeg")
    red, green, blue = (round(channel * 255) for channel in STANDARD.background[:3])
    cv2.imwrite(str(folder / "attract" / "beeld-0.png"), np.full((540, 960, 3), (blue, green, red), np.uint8))
    record = tmp_path / "frames.jsonl"
    app = KioskProcess(xvfb, mosquitto.port, f"store-{new_id()[-8:]}", "kiosk-1", tmp_path / "kiosk",
                       args=("--content", str(folder), "--frame-record", str(record)))
    try:
        app.start(timeout=60)
        app.wait(lambda s: s["attract"]["kind"] == "image", timeout=30)
        app.wait(lambda s: len(background_only(frames(record))) > 0, timeout=30)
    finally:
        assert app.stop() == 0, app.log()[-3000:]
    recorded = frames(record)
    assert background_only(recorded) and all(frame["item"] == "attract/beeld-0.png"
                                             for frame in background_only(recorded))
    shutil.rmtree(folder)
