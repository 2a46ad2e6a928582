"""Store staff change the kiosk's content at the kiosk: the real agent (in this process, on a real database) with
nfcpy's UDP reader and Anna's emulated staff badge, central's fixtures pushed over a real Mosquitto, and the kiosk
on Xvfb clicked with xdotool.

Switching an attract item off, moving one up and showing one "today only" change what Bereik loops (waited for,
never timed); the change survives restarting the agent and the kiosk, and a newer version of the pack without an
item changed by the store, which staff then see listed. The preview at a chosen moment shows what the kiosk's own
schedule gives for it. Each change is audited once. Screenshots of every content screen at 800x480 and 1080x1920
go to ``tests/artifacts/screens/``.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge_agent import central_push as fixtures
from edge_agent.agent import Agent
from edge_agent.contract import CONTENT_SCHEDULE, decode
from edge_agent.credentials import Credentials
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from kiosk.content import DAYS, apply_overlay, load_pack
from tests.support.cards import STAFF_UID
from tests.support.kiosk import KioskProcess
from tests.support.xvfb import Xvfb
from tests.test_kiosk_screens import png

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "config" / "central-fixtures.example.yaml"
HMAC_KEY = os.urandom(32)
TZ = ZoneInfo("Europe/Amsterdam")
ANNA_PIN = "2468"  # config/central-fixtures.example.yaml
COLOURS = {"lente": ((120, 170, 60), (30, 80, 40)), "gazon": ((240, 200, 90), (200, 90, 40)),
           "later": ((90, 120, 220), (20, 30, 90)), "klantenpas": ((220, 80, 80), (90, 20, 20))}
CAPTIONS = {"lente": "Het voorjaar is begonnen", "gazon": "Alles voor een groen gazon",
            "later": "Binnenkort: de zomeractie", "klantenpas": "Spaar met de klantenpas"}


def write_pack(folder: Path, version: str, ids=("lente", "gazon", "later", "klantenpas")) -> None:
    """A pack of four images; ``later`` starts in three days (so "today only" makes it show now)."""
    (folder / "attract").mkdir(parents=True, exist_ok=True)
    (folder / "videos").mkdir(exist_ok=True)
    (folder / "videos" / "uitleg.mp4").write_bytes(b"not played in these tests")
    lines = [f'pack: proef\nversion: "{version}"\nattract:\n']
    for id in ids:
        if not (folder / "attract" / f"{id}.png").exists():
            png(folder / "attract" / f"{id}.png", 640, 360, *COLOURS[id])
        lines.append(f"  - id: {id}\n    image: attract/{id}.png\n    seconds: 30\n"
                     f"    caption: {{nl: \"{CAPTIONS[id]}\"}}\n")
        if id == "later":
            lines.append("    when: {from: today+3d}\n")
    lines.append('inspire:\n  - carousel: lente\n    title: {nl: "Klaar voor het voorjaar"}\n'
                 '    items: [{gtin: "8712345000011", image: attract/lente.png}]\n'
                 'instructions:\n  - id: uitleg\n    title: {nl: "Uitleg"}\n    video: videos/uitleg.mp4\n')
    (folder / "content.yaml").write_text("".join(lines))


class World:
    """The agent, the staff badge, the capture of every message and the kiosk; each can be restarted."""

    def __init__(self, mosquitto, make_config, capture, xvfb, tmp_path, size: str):
        self.tmp, self.xvfb, self.mosquitto, self.size = tmp_path, xvfb, mosquitto, size
        self.pack = tmp_path / "pack"
        write_pack(self.pack, "1")
        self.reader = f"udp:127.0.0.1:{free_udp_port()}"
        _, self.config = make_config(mosquitto, extra=(
            f'[nfc]\ndevice = "{self.reader}"\npoll_interval_s = 0.02\n'
            f'[content]\nfolder = "{self.pack}"\ncheck_s = 0.5\n'))
        self.kiosk_config = tmp_path / "kiosk.toml"
        self.kiosk_config.write_text(f'[content]\nfolder = "{self.pack}"\ncheck_s = 1\n')
        self.cap = capture(mosquitto, ["cs/#"])
        self.emulator = CardEmulator(self.reader)
        self.agent = self.start_agent()
        outgoing = fixtures.messages(fixtures.load(FIXTURES, hmac_key=HMAC_KEY), self.config.store.id)
        fixtures.publish(outgoing, "127.0.0.1", mosquitto.port)
        self.cap.wait_for(lambda _: self.agent.inbox.applied >= len(outgoing), timeout=30)
        self.kiosk = self.start_kiosk()

    def start_agent(self) -> Agent:
        agent = Agent(self.config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY.hex()}))
        agent.start()
        assert agent.link.wait_connected(10)
        assert self.emulator.wait_for_reader(10), "the agent's reader never polled"
        return agent

    def start_kiosk(self) -> KioskProcess:
        return KioskProcess(self.xvfb, self.mosquitto.port, self.config.store.id, self.config.device.id,
                            self.tmp / f"kiosk-{os.urandom(3).hex()}", size=self.size,
                            args=("--config", str(self.kiosk_config), "--transition", "none")).start(timeout=60)

    def restart_agent(self) -> None:
        self.emulator.remove()  # the badge is off the reader, so the new agent's reader starts with an empty field
        self.agent.stop()
        self.agent = self.start_agent()

    def restart_kiosk(self) -> None:
        self.kiosk.stop()
        self.kiosk = self.start_kiosk()

    def staff_mode(self) -> None:
        """Anna lays her badge on the reader (taken off first, as a hand would), then types her PIN on the pad."""
        assert self.agent.sessions is not None
        self.emulator.remove()
        # Polled twice with the field empty: the reader has seen the card leave and looks for the next one.
        assert self.emulator.wait_for_reader(10) and self.emulator.wait_for_reader(10)
        before = self.agent.sessions.taps
        self.emulator.hold(Type2Card(STAFF_UID))
        deadline = time.monotonic() + 30
        while self.agent.sessions.taps == before:
            assert time.monotonic() < deadline, "the agent never read the badge"
            time.sleep(0.02)
        self.kiosk.wait_screen("staff-pin", timeout=20)
        for digit in ANNA_PIN:
            self.kiosk.click(f"pin-{digit}")
        self.kiosk.click("pin-ok")
        self.kiosk.wait_screen("staff", "Anna", timeout=20)

    def schedule(self):
        retained = self.cap.on("/local/content-schedule")[-1]
        return decode(CONTENT_SCHEDULE, retained.payload).payload

    def audits(self, action: str) -> list[dict]:
        return [m.json()["data"] for m in self.cap.on("/event/staff-audit") if m.json()["data"]["action"] == action]

    def close(self) -> None:
        self.kiosk.stop()
        self.emulator.close()
        self.agent.stop()


@pytest.fixture(scope="module")
def xvfb():
    with Xvfb() as display:
        yield display


@pytest.fixture
def world(request, mosquitto, make_config, capture, xvfb, tmp_path):
    world = World(mosquitto, make_config, capture, xvfb, tmp_path, getattr(request, "param", "800x480"))
    try:
        yield world
    finally:
        world.close()


def tap(kiosk: KioskProcess, target: str) -> dict:
    """Click ``target`` once it has stopped moving: the list scrolls with momentum after the mouse wheel, and a
    click at where the target was a moment ago would land on its neighbour."""
    try:
        kiosk.wait(lambda s: target in s["targets"], 2.0)
    except TimeoutError:
        kiosk._scroll_to(target, 20)
    last = None
    deadline = time.monotonic() + 20
    while True:
        status = kiosk.wait(lambda s: target in s["targets"], 20)
        box = status["targets"][target]
        if box == last or time.monotonic() > deadline:
            break
        last = box
        time.sleep(0.3)
    kiosk._pointer_ready()
    kiosk._pointer.click(kiosk._window, box[0], box[1])
    # Kivy's ScrollView hands a tap's release to the button 0.2 s after it (kivy/uix/scrollview.py,
    # on_touch_up): a finger's next tap comes later than that, and so does this one.
    time.sleep(0.4)
    return status


def choose(kiosk: KioskProcess, item: str) -> dict:
    """Tap an item of the list and wait until its actions are on screen where the status says."""
    tap(kiosk, f"inhoud-item-{item}")
    return kiosk.wait(lambda s: s["content"]["control"]["item"] == item)


def loop_is(kiosk: KioskProcess, items: list[str], timeout: float = 30) -> dict:
    return kiosk.wait(lambda s: s["screen"] == "bereik" and s["attract"]["items"] == items, timeout)


def changed(world: World, revision: int) -> dict:
    """Wait until the kiosk shows the agent's schedule of ``revision`` and the answer to the change (so the next
    click lands where the status says its target is)."""
    status = world.kiosk.wait(lambda s: (s["content"]["schedule_revision"] or 0) >= revision
                              and not s["content"]["control"]["busy"], 20)
    # This process's own subscriber gets the same retained schedule, maybe a moment after the kiosk.
    world.cap.wait_for(lambda _: world.cap.on("/local/content-schedule")
                       and world.schedule().revision >= revision, timeout=20)
    return status


def test_staff_switch_off_reorder_and_show_today_only_change_bereik_and_survive_restarts_and_a_new_pack(world):
    kiosk = world.kiosk
    loop_is(kiosk, ["lente", "gazon", "klantenpas"])  # "later" starts in three days

    world.staff_mode()
    tap(kiosk, "staff-inhoud")
    status = kiosk.wait_screen("inhoud", "Inhoud", "proef 1", "Het voorjaar is begonnen")
    revision = status["content"]["schedule_revision"] or 0
    choose(kiosk, "lente")
    tap(kiosk, "inhoud-off")
    changed(world, revision + 1)
    choose(kiosk, "klantenpas")
    tap(kiosk, "inhoud-up")  # above "later"
    changed(world, revision + 2)
    tap(kiosk, "inhoud-up")  # above "gazon"
    changed(world, revision + 3)
    choose(kiosk, "later")
    tap(kiosk, "inhoud-today-on")
    changed(world, revision + 4)
    status = kiosk.wait_screen("inhoud", "alleen vandaag aan", "Gedaan.")
    kiosk.keep(status, "inhoud-changed-800x480")
    tap(kiosk, "klaar")
    loop_is(kiosk, ["klantenpas", "gazon", "later"])

    for action, count in (("content-disable", 1), ("content-move-up", 2), ("content-enable", 1)):
        audited = world.audits(action)
        assert len(audited) == count and {entry["result"] for entry in audited} == {"ok"}, (action, audited)
        assert all(entry["staff"] == "s-anna" for entry in audited)

    world.restart_agent()
    world.restart_kiosk()
    loop_is(world.kiosk, ["klantenpas", "gazon", "later"])

    # A newer version of the pack without "klantenpas", which the store had moved: dropped, and listed.
    write_pack(world.pack, "2", ids=("lente", "gazon", "later"))
    loop_is(world.kiosk, ["gazon", "later"])
    # The kiosk reads the folder itself and may show version 2 before the agent's check has found it.
    world.cap.wait_for(lambda _: world.schedule().version == "2", timeout=20)
    assert [item.id for item in world.schedule().dropped] == ["klantenpas"]
    world.staff_mode()
    tap(world.kiosk, "staff-inhoud")
    status = world.kiosk.wait_screen("inhoud", "Niet meer in het pack", "Bereik: klantenpas (weg in versie 2)")
    world.kiosk.keep(status, "inhoud-dropped-800x480")
    tap(world.kiosk, "inhoud-dropped-seen")
    world.kiosk.wait(lambda s: s["screen"] == "inhoud" and not world.kiosk.shows(s, "Niet meer in het pack"), 20)
    assert len(world.audits("content-dismiss-dropped")) == 1


def test_undo_and_reset_to_the_pack_bring_back_what_the_pack_shows(world):
    kiosk = world.kiosk
    loop_is(kiosk, ["lente", "gazon", "klantenpas"])
    world.staff_mode()
    tap(kiosk, "staff-inhoud")
    status = kiosk.wait_screen("inhoud", "Inhoud")
    revision = status["content"]["schedule_revision"] or 0
    choose(kiosk, "gazon")
    tap(kiosk, "inhoud-off")
    changed(world, revision + 1)
    choose(kiosk, "klantenpas")
    tap(kiosk, "inhoud-up")
    changed(world, revision + 2)
    tap(kiosk, "inhoud-undo")  # the move
    changed(world, revision + 3)
    assert [item.id for item in world.schedule().attract] == ["lente", "gazon", "later", "klantenpas"]
    tap(kiosk, "inhoud-reset")  # the rest
    changed(world, revision + 4)
    assert not world.schedule().changed
    tap(kiosk, "klaar")
    loop_is(kiosk, ["lente", "gazon", "klantenpas"])
    assert [len(world.audits(action)) for action in ("content-disable", "content-move-up", "content-undo",
                                                     "content-reset")] == [1, 1, 1, 1]


@pytest.mark.parametrize("world", ["800x480", "1080x1920"], indirect=True)
def test_the_preview_at_a_chosen_moment_shows_what_the_kiosk_schedule_gives_and_every_screen_is_kept(world):
    kiosk, size = world.kiosk, world.size
    loop_is(kiosk, ["lente", "gazon", "klantenpas"])
    world.staff_mode()
    status = kiosk.wait_screen("staff")
    kiosk.keep(status, f"staff-home-{size}")
    tap(kiosk, "staff-inhoud")
    status = kiosk.wait_screen("inhoud", "Inhoud")
    kiosk.keep(status, f"inhoud-list-{size}")
    revision = status["content"]["schedule_revision"] or 0

    # A manager's schedule for "gazon": Saturdays and Sundays, 10:00-12:00.
    choose(kiosk, "gazon")
    status = kiosk.wait(lambda s: s["content"]["control"]["item"] == "gazon")
    kiosk.keep(status, f"inhoud-item-{size}")
    tap(kiosk, "inhoud-schedule")
    for day in range(5):  # weekdays off, one tap at a time as a finger would
        tap(kiosk, f"schedule-day-{day}")
        kiosk.wait(lambda s, day=day: DAYS[day] not in (s["content"]["control"]["draft"]["days"] or DAYS))
    for start in ("09:30", "10:00"):
        tap(kiosk, "schedule-start-plus")
        kiosk.wait(lambda s, start=start: s["content"]["control"]["draft"]["hours"][0].startswith(start))
    for end in range(16 * 60 + 30, 11 * 60 + 30, -30):  # 17:00 -> 12:00
        tap(kiosk, "schedule-end-minus")
        kiosk.wait(lambda s, end=end: s["content"]["control"]["draft"]["hours"][0].endswith(
            f"{end // 60:02d}:{end % 60:02d}"))
    status = kiosk.wait_screen("inhoud", "van 10:00", "tot 12:00")
    kiosk.keep(status, f"inhoud-schedule-{size}")
    tap(kiosk, "schedule-save")
    changed(world, revision + 1)
    gazon = next(item for item in world.schedule().attract if item.id == "gazon")
    assert gazon.schedule is not None and gazon.schedule.days == ["sat", "sun"]
    assert gazon.schedule.hours == ["10:00-12:00"]

    choose(kiosk, "lente")
    tap(kiosk, "inhoud-until")
    status = kiosk.wait_screen("inhoud", "die dag niet meer")
    kiosk.keep(status, f"inhoud-until-{size}")
    tap(kiosk, "until-plus-week")
    tap(kiosk, "until-off")
    changed(world, revision + 2)

    tap(kiosk, "inhoud-preview")
    pack = load_pack(world.pack, TZ)
    for day, minute in ((5, 10 * 60), (1, 11 * 60)):  # zaterdag 10:00, dinsdag 11:00
        tap(kiosk, f"preview-day-{day}")
        if day == 1:
            tap(kiosk, "preview-hour-plus")
        answers = kiosk.wait(lambda s: s["screen"] == "voorbeeld")["content"]["preview"]["answers"]
        tap(kiosk, "preview-show")
        status = kiosk.wait(lambda s, answers=answers: s["content"]["preview"]["answers"] > answers, 20)
        at = datetime.fromisoformat(status["content"]["preview"]["at"]).astimezone(TZ)
        assert (at.weekday(), at.hour * 60 + at.minute) == (day, minute)
        expected = [item.id for item in apply_overlay(pack, world.schedule()).attract(at)]
        assert status["content"]["preview"]["shown"]["attract"] == expected, at
        kiosk.keep(status, f"voorbeeld-loop-{'zaterdag' if day == 5 else 'dinsdag'}-{size}")
    if len(expected) > 1:
        first = status["content"]["preview"]["item"]
        tap(kiosk, "preview-next")
        status = kiosk.wait(lambda s: s["content"]["preview"]["item"] not in (None, first))
        assert status["content"]["preview"]["item"] == expected[1]

    tap(kiosk, "preview-back")
    choose(kiosk, "klantenpas")
    tap(kiosk, "inhoud-show")
    status = kiosk.wait(lambda s: s["screen"] == "voorbeeld" and s["content"]["preview"]["mode"] == "item"
                        and s["content"]["preview"]["image"] == "klantenpas.png")
    kiosk.keep(status, f"voorbeeld-item-{size}")
    assert len(world.audits("content-set-schedule")) == 1 and len(world.audits("content-disable")) == 1
    assert {entry["result"] for entry in world.audits("content-preview")} == {"ok"}
    too_small = {name: box for name, box in status["targets"].items() if box[3] < status["min_target_px"] - 0.5}
    assert not too_small, f"touch targets under 9 mm: {too_small}"
