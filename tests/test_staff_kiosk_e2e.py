"""Store staff at the kiosk, end to end: the real agent (in process, its wall clock injected for the lockout),
a real Mosquitto, staff badges and customer cards emulated on nfcpy's UDP reader, and the kiosk on Xvfb
driven by real clicks. Central's staff records come as central sends them (``edge-agent central push``'s
fixtures: Anna, manager, PIN 2468), plus Bob, a member with an 8-digit PIN the privacy test looks for.

Screenshots of the PIN pad and the staff screens go to ``tests/artifacts/screens/`` at 800×480 and
1080×1920.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent import central_push as fixtures
from edge_agent.agent import Agent
from edge_agent.contract import PUSHES, encode
from edge_agent.credentials import Credentials
from edge_agent.identity import card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from edge_agent.staff.pin import hash_pin
from tests.support.cards import SANNE_UID, STAFF_UID
from tests.support.kiosk import KioskProcess
from tests.support.xvfb import Xvfb

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "config" / "central-fixtures.example.yaml"
HMAC_KEY = os.urandom(32)
ANNA_PIN = "2468"  # the fixtures' (and the README's) demo PIN
BOB_UID = bytes.fromhex("04666666666666")
BOB_PIN = "90357142"  # 8 digits: a string no id, hash or timestamp holds by chance (the privacy scan)
BOB_WRONG = "90357143"


class Clock:
    """The staff service's wall clock, moved by the test (lockouts without sleeping five minutes)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return datetime.now(UTC).timestamp() + self.offset


@pytest.fixture(scope="module")
def xvfb():
    with Xvfb() as display:
        yield display


class World:
    def __init__(self, mosquitto, make_config, capture, xvfb, tmp_path, extra: str = ""):
        self.mosquitto, self.xvfb, self.tmp_path = mosquitto, xvfb, tmp_path
        self.device = f"udp:127.0.0.1:{free_udp_port()}"
        self.emulator = CardEmulator(self.device)
        _, self.config = make_config(mosquitto, extra=(
            f'[nfc]\ndevice = "{self.device}"\npoll_interval_s = 0.02\n[sessions]\nend_on_card_removal = true\n'
            + extra))
        self.cap = capture(mosquitto, ["cs/#"])
        self.clock = Clock()
        self.agent: Agent | None = None
        self.kiosk: KioskProcess | None = None
        self.start_agent()
        outgoing = fixtures.messages(fixtures.load(FIXTURES, hmac_key=HMAC_KEY), self.config.store.id)
        store = self.config.store.id
        outgoing.append(fixtures.Outgoing("staff", PUSHES["staff"].topic_for(store), encode(PUSHES["staff"], {
            "staff": "s-bob", "version": 1, "display_name": "Bob", "role": "staff",
            "pin_verifier": hash_pin(BOB_PIN)})[1], 1))
        outgoing.append(fixtures.Outgoing("card-link", PUSHES["card-link"].topic_for(store), encode(
            PUSHES["card-link"], {"card": card_token(HMAC_KEY, BOB_UID), "version": 1, "kind": "staff",
                                  "staff": "s-bob"})[1], 1))
        fixtures.publish(outgoing, "127.0.0.1", mosquitto.port)
        agent = self.agent
        self.cap.wait_for(lambda _: agent.inbox.applied >= len(outgoing), timeout=30)

    def start_agent(self) -> Agent:
        self.agent = Agent(self.config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY.hex()}), staff_clock=self.clock)
        self.agent.start()
        assert self.agent.link.wait_connected(10)
        assert self.emulator.wait_for_reader(10), "the agent's reader never polled"
        return self.agent

    def restart_agent(self) -> None:
        assert self.agent is not None
        self.agent.stop()
        self.start_agent()

    def start_kiosk(self, size: str, *args: str) -> KioskProcess:
        self.kiosk = KioskProcess(self.xvfb, self.mosquitto.port, self.config.store.id, self.config.device.id,
                                  self.tmp_path / f"kiosk-{size}", size=size,
                                  args=("--transition", "none", *args)).start()
        return self.kiosk

    def tap(self, uid: bytes) -> None:
        """Lay the card on the reader (taken off first, as a hand would) and wait until the agent read it."""
        assert self.agent is not None and self.agent.sessions is not None
        self.emulator.remove()
        # Polled twice with the field empty: the reader has seen the card leave and looks for the next one.
        assert self.emulator.wait_for_reader(10) and self.emulator.wait_for_reader(10)
        sessions = self.agent.sessions
        before = sessions.taps
        self.emulator.hold(Type2Card(uid))
        deadline = time.monotonic() + 30
        while sessions.taps == before:
            assert time.monotonic() < deadline, "the agent never read the card"
            time.sleep(0.02)

    def pin(self, pin: str) -> None:
        assert self.kiosk is not None
        for digit in pin:
            self.kiosk.click(f"pin-{digit}")
        self.kiosk.click("pin-ok")

    def close(self) -> None:
        if self.kiosk is not None:
            self.kiosk.stop()
        self.emulator.close()
        if self.agent is not None:
            self.agent.stop()


@pytest.fixture
def world(mosquitto, make_config, capture, xvfb, tmp_path):
    world = World(mosquitto, make_config, capture, xvfb, tmp_path)
    yield world
    world.close()


def audits(cap) -> list[dict]:
    return [message.json() for message in cap.on("/event/staff-audit")]


def check_pin_keys(status: dict) -> None:
    """Every key of the PIN pad is a target at least 9 mm (Kivy's metrics of this screen) each way."""
    keys = [name for name in status["targets"] if name.startswith("pin-")]
    assert sorted(keys) == sorted([*(f"pin-{key}" for key in "0123456789"), "pin-back", "pin-ok"]), keys
    for name in keys:
        _x, _y, width, height = status["targets"][name]
        assert width >= status["min_target_px"] and height >= status["min_target_px"], (name, width, height)


@pytest.mark.parametrize("size", ["800x480", "1080x1920"])
def test_badge_then_right_pin_opens_staff_mode_with_name_and_role_and_every_screen_is_shot(world, size):
    kiosk = world.start_kiosk(size)
    kiosk.click("attract-continueer")  # a shopper without a card calls for staff
    kiosk.click("staff-assist")
    call = world.cap.wait_topic("/event/staff-assist")[0].json()["id"]
    world.tap(STAFF_UID)
    status = kiosk.wait_screen("staff-pin", "Voer uw pincode in", timeout=20)
    check_pin_keys(status)
    world.emulator.remove()  # the badge leaves the reader: the PIN pad stays
    kiosk.keep(status, f"staff-pin-{size}")
    for digit in ANNA_PIN[:3]:
        kiosk.click(f"pin-{digit}")
    status = kiosk.wait(lambda s: any(text == "\u2022 \u2022 \u2022" for text in s["texts"]))
    assert not any(ANNA_PIN[:3] in text for text in status["texts"] + status["held_texts"]), "no echo"
    kiosk.keep(status, f"staff-pin-typed-{size}")
    kiosk.click(f"pin-{ANNA_PIN[3]}")
    kiosk.click("pin-ok")
    status = kiosk.wait_screen("staff", "Anna · Manager", "Medewerkermodus stopt over", timeout=15)
    assert not kiosk.shows(status, "s-anna"), "the name, not the id"
    kiosk.keep(status, f"staff-home-{size}")

    kiosk.click("staff-calls")
    status = kiosk.wait_screen("staff-calls", "Hulp gevraagd (Continueer)", "Wacht 0 minuten")
    kiosk.keep(status, f"staff-calls-{size}")
    kiosk.click(f"call-handled-{call[-12:]}")
    status = kiosk.wait_screen("staff-calls", "Er zijn geen open oproepen.")
    assert world.cap.wait_topic("/local/staff-call")[0].json()["data"] == {"call": call, "state": "handled",
                                                                           "display_name": None}
    kiosk.click("staff-home")
    kiosk.wait_screen("staff", "Anna")
    kiosk.click("staff-audit")
    status = kiosk.wait_screen("staff-audit", "pin-attempt", "staff-mode-start")
    kiosk.keep(status, f"staff-audit-{size}")
    kiosk.click("klaar")
    kiosk.wait_screen("bereik", timeout=15)
    world.cap.wait_for(lambda _: any(a["data"]["action"] == "staff-mode-end" for a in audits(world.cap)))
    actions = [(a["data"]["action"], a["data"]["result"]) for a in audits(world.cap)]
    assert actions == [("staff-badge", "ok"), ("pin-attempt", "ok"), ("staff-mode-start", "ok"),
                       ("call-handled", "ok"), ("audit-read", "ok"), ("staff-mode-end", "ok")], actions
    assert len({a["id"] for a in audits(world.cap)}) == len(actions), "each action once"


def test_five_wrong_pins_lock_the_badge_still_locked_after_a_restart_and_unlocked_after_the_time(world):
    kiosk = world.start_kiosk("800x480")
    world.tap(BOB_UID)
    kiosk.wait_screen("staff-pin", "Voer uw pincode in", timeout=20)
    for left in (4, 3, 2, 1):
        world.pin(BOB_WRONG)
        kiosk.wait_screen("staff-pin", f"Onjuiste pincode. Nog {left} poging")
    world.pin(BOB_WRONG)
    status = kiosk.wait_screen("staff-pin", "Deze pas is geblokkeerd tot")
    kiosk.keep(status, "staff-pin-locked-800x480")
    world.emulator.remove()

    world.restart_agent()
    world.tap(BOB_UID)
    kiosk.wait_screen("staff-pin", "Deze pas is geblokkeerd tot", timeout=20)
    world.cap.wait_for(lambda _: [a["data"]["result"] for a in audits(world.cap)
                                  if a["data"]["action"] == "staff-badge"][-1:] == ["locked"])
    requests = len(world.cap.on("/local/request/staff-pin"))
    world.pin(BOB_PIN)  # the pad is closed while the badge is locked: nothing is sent
    kiosk.wait_screen("staff-pin", "Deze pas is geblokkeerd tot")
    assert len(world.cap.on("/local/request/staff-pin")) == requests
    world.emulator.remove()

    world.clock.offset += 301  # five minutes later
    world.tap(BOB_UID)
    kiosk.wait_screen("staff-pin", "Voer uw pincode in", timeout=20)
    world.pin(BOB_PIN)
    kiosk.wait_screen("staff", "Bob · Medewerker", timeout=15)
    results = [a["data"]["result"] for a in audits(world.cap) if a["data"]["action"] == "pin-attempt"]
    assert results == ["wrong-pin"] * 5 + ["ok"], results


def test_a_customer_card_during_staff_mode_ends_it_at_once(world):
    kiosk = world.start_kiosk("800x480")
    world.tap(STAFF_UID)
    kiosk.wait_screen("staff-pin", "Voer uw pincode in", timeout=20)
    world.emulator.remove()
    world.pin(ANNA_PIN)
    kiosk.wait_screen("staff", "Anna", timeout=15)
    world.tap(SANNE_UID)
    status = kiosk.wait_screen("begrijp", "Sanne", timeout=15)
    assert not any("Anna" in text for text in status["held_texts"]), "nothing of the staff member stays"
    world.cap.wait_for(lambda _: any(a["data"]["action"] == "staff-mode-end" and a["data"]["target"] == "new-tap"
                                     for a in audits(world.cap)))


def test_a_cloned_uid_only_manager_badge_gets_the_staff_role_only_when_sun_is_required(
        mosquitto, make_config, capture, xvfb, tmp_path):
    world = World(mosquitto, make_config, capture, xvfb, tmp_path, extra="[staff]\nmanager_requires_sun = true\n")
    try:
        kiosk = world.start_kiosk("800x480")
        world.tap(STAFF_UID)  # Anna's badge, UID only: a clone would read the same
        kiosk.wait_screen("staff-pin", "Voer uw pincode in", timeout=20)
        world.emulator.remove()
        world.pin(ANNA_PIN)
        status = kiosk.wait_screen("staff", "Anna · Medewerker", "een manager heeft hier een beveiligde pas nodig",
                                   timeout=15)
        assert "staff-audit" not in status["targets"], "no manager screens"
        kiosk.keep(status, "staff-home-role-limited-800x480")
        # Why the role is limited, in each language (the shell's language buttons stay in staff mode).
        for language, why in (("en", "Staff rights only: a manager needs a secure badge here."),
                              ("fr", "Droits d'employé seulement : un responsable a besoin ici d'un badge sécurisé.")):
            kiosk.click(f"lang-{language}")
            status = kiosk.wait_screen("staff", why, timeout=15)
            kiosk.keep(status, f"staff-home-role-limited-{language}-800x480")
        world.cap.wait_for(lambda _: any(a["data"]["action"] == "manager-role" and a["data"]["result"] == "refused"
                                         for a in audits(world.cap)))
    finally:
        world.close()


def test_no_pin_in_any_log_message_or_database_row(world, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("", "edge_agent", "kiosk", "nfc", "paho"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    kiosk = world.start_kiosk("800x480", "--log-level", "DEBUG")
    world.tap(BOB_UID)
    kiosk.wait_screen("staff-pin", "Voer uw pincode in", timeout=20)
    world.emulator.remove()
    world.pin(BOB_WRONG)
    kiosk.wait_screen("staff-pin", "Onjuiste pincode")
    world.pin(BOB_PIN)
    kiosk.wait_screen("staff", "Bob", timeout=15)
    kiosk.click("klaar")
    kiosk.wait_screen("bereik", timeout=15)
    world.cap.wait_for(lambda _: any(a["data"]["action"] == "staff-mode-end" for a in audits(world.cap)))
    agent = world.agent
    assert agent is not None
    agent.stop()
    world.agent = None
    pins = (BOB_PIN.encode(), BOB_WRONG.encode())
    messages = world.cap.on("")
    assert any(m.topic.endswith("/local/request/staff-pin") for m in messages), "the PIN requests were captured"
    leaked = [m.topic for m in messages if any(pin in m.payload for pin in pins)
              and not m.topic.endswith("/local/request/staff-pin")]
    assert leaked == [], leaked
    assert not any(m.retain for m in messages if m.topic.endswith("/local/request/staff-pin"))
    logs = caplog.text + kiosk.log()
    assert not any(pin.decode() in logs for pin in pins)
    database = Path(str(world.config.database.path))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        if path.exists():
            assert not any(pin in path.read_bytes() for pin in pins), path
