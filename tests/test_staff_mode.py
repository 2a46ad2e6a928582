"""Store staff in process, on a real database: central's staff records, badge then PIN, the lockout (with the
wall clock injected: no five-minute sleeps), staff mode's gate and limits, the audit and the open calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from edge_agent.central import apply_card_link
from edge_agent.commands import CommandError, Commands
from edge_agent.config import AgentConfig, StaffConfig
from edge_agent.contract import (
    CardLinkPush,
    SessionRequest,
    StaffAssistRequest,
    StaffCallRequest,
    StaffPinRequest,
    StaffPush,
    StaffRole,
    Topics,
)
from edge_agent.errors import RejectedMessage
from edge_agent.identity import card_token
from edge_agent.nfc.reader import CardRead
from edge_agent.nfc.sun import SunKeys, sun_url
from edge_agent.outbox import Outbox
from edge_agent.sessions import SessionService
from edge_agent.staff import StaffService
from edge_agent.staff.pin import Parameters, hash_pin, parameters_of, verify_pin
from edge_agent.staff.records import apply_staff
from edge_agent.store import Store
from tests.support.cards import SANNE_UID, STAFF_UID

KEY = bytes(range(32))
SUN_KEYS = SunKeys(bytes.fromhex("11" * 16), bytes.fromhex("22" * 16))
TOPICS = Topics("store-1", "kiosk-1")
MANAGER_UID = bytes.fromhex("04555555555555")
CUSTOMER = "c-00000000000000000000000000000001"
ANNA_PIN, BOB_PIN = "2468", "13572468"
VERIFIERS = {ANNA_PIN: hash_pin(ANNA_PIN), BOB_PIN: hash_pin(BOB_PIN)}  # hashed once: 64 MiB each


class Clock:
    """Wall-clock seconds the test moves by hand."""

    def __init__(self) -> None:
        self.t = datetime(2026, 4, 1, 9, 30, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.t


class World:
    """A store database with Anna (staff, badge STAFF_UID) and Bob (manager, badge MANAGER_UID), and the
    session and staff services on it; ``restart()`` makes new services on the same file."""

    def __init__(self, path, config: StaffConfig):
        self.path, self.config = path, config
        self.clock = Clock()
        self.published: list[tuple[str, dict]] = []
        self.store = Store(path)
        self.outbox = Outbox(self.store, TOPICS, max_rows=10_000)
        with self.store.transaction(durable=True) as conn:
            apply_staff(conn, StaffPush(staff="s-anna", version=1, display_name="Anna", role="staff",
                                        pin_verifier=VERIFIERS[ANNA_PIN]), self.outbox)
            apply_staff(conn, StaffPush(staff="s-bob", version=1, display_name="Bob", role="manager",
                                        pin_verifier=VERIFIERS[BOB_PIN]), self.outbox)
            for uid, subject in ((STAFF_UID, "s-anna"), (MANAGER_UID, "s-bob")):
                apply_card_link(conn, CardLinkPush(card=card_token(KEY, uid), version=1, kind="staff", staff=subject),
                                self.outbox)
            apply_card_link(conn, CardLinkPush(card=card_token(KEY, SANNE_UID), version=1, kind="customer",
                                               customer=CUSTOMER), self.outbox)
        self._services()

    def _services(self) -> None:
        def publish(topic: str, payload: bytes) -> bool:
            self.published.append((topic, json.loads(payload)))
            return True

        self.sessions = SessionService(self.store, self.outbox, publish, device="kiosk-1",
                                       session_topic=TOPICS.session, hmac_key=KEY, sun_keys=SUN_KEYS,
                                       end_on_removal=True)
        self.staff = StaffService(self.store, self.outbox, self.sessions, publish, "store-1", "kiosk-1",
                                  self.config, clock=self.clock)
        self.commands = Commands(AgentConfig.model_validate({"store": {"id": "store-1"},
                                                             "device": {"id": "kiosk-1"}}), lambda *_: None)
        self.commands.register("staff-assist", self._assist)
        self.staff.register(self.commands)

    def _assist(self, request: StaffAssistRequest):
        from edge_agent.contract import QueuedResult, StaffAssistEvent

        return QueuedResult(event=self.outbox.enqueue("staff-assist", StaffAssistEvent(
            session=request.session, phase=request.phase, topic=request.topic)))

    def restart(self) -> None:
        self.sessions.close()
        self.store.close()
        self.store = Store(self.path)
        self.outbox = Outbox(self.store, TOPICS, max_rows=10_000)
        self._services()

    def tap(self, uid: bytes, url: str | None = None) -> str:
        self.sessions.on_tap(CardRead(uid=uid, tag_type="Type2Tag" if url is None else "Type4Tag", ndef_uri=url))
        return self.last("session")["session"]

    def last(self, kind: str) -> dict:
        topic = {"session": TOPICS.session, "staff": "cs/v1/store-1/kiosk-1/local/staff"}[kind]
        return next(data["data"] for t, data in reversed(self.published) if t == topic)

    def pin(self, session: str, pin: str):
        return self.staff.modes.pin(StaffPinRequest(session=session, pin=pin))

    def audits(self) -> list[dict]:
        return [json.loads(p.payload)["data"] for p in self.outbox.after(0, 10_000)
                if p.topic.endswith("/event/staff-audit")]


@pytest.fixture
def world(tmp_path):
    world = World(tmp_path / "agent.db", StaffConfig())
    yield world
    world.sessions.close()
    world.store.close()


def test_verifier_is_salted_argon2id_of_64_mib_and_checks_only_the_right_pin():
    verifier = VERIFIERS[ANNA_PIN]
    assert verifier.startswith("$argon2id$v=19$m=65536,") and ANNA_PIN not in verifier
    assert hash_pin(ANNA_PIN) != verifier, "a fresh salt each time"
    assert verify_pin(verifier, ANNA_PIN) and not verify_pin(verifier, "2469") and not verify_pin("junk", ANNA_PIN)
    assert parameters_of(verifier).memory_mib >= 64


def test_a_verifier_cheaper_than_64_mib_is_rejected_naming_the_parameter(world):
    weak = hash_pin("1111", Parameters(memory_kib=8 * 1024, time_cost=1, parallelism=1))
    with world.store.transaction() as conn, pytest.raises(RejectedMessage, match="memory_kib 8192"):
        apply_staff(conn, StaffPush(staff="s-weak", version=1, display_name="W", role="staff", pin_verifier=weak),
                    world.outbox)


def test_removed_staff_member_keeps_only_id_and_version_and_their_badge_is_refused(world):
    with world.store.transaction() as conn:
        apply_staff(conn, StaffPush(staff="s-anna", version=2, active=False), world.outbox)
        row = conn.execute("SELECT active, display_name, role, pin_verifier FROM staff "
                           "WHERE staff = 's-anna'").fetchone()
        assert tuple(row) == (0, None, None, None)
        with pytest.raises(RejectedMessage, match="older"):
            apply_staff(conn, StaffPush(staff="s-anna", version=1, display_name="Anna", role="staff",
                                        pin_verifier=VERIFIERS[ANNA_PIN]), world.outbox)
    session = world.tap(STAFF_UID)
    assert world.last("staff")["state"] == "refused" and world.last("staff")["reason"] == "unknown-staff"
    with pytest.raises(CommandError, match="no staff member"):
        world.pin(session, ANNA_PIN)


def test_badge_then_right_pin_opens_staff_mode_with_the_name_and_role_not_the_id(world):
    session = world.tap(STAFF_UID)
    assert world.last("staff") | {"attempts_left": None} == {
        "session": session, "state": "pin-required", "display_name": None, "role": None, "role_limited": None,
        "attempts_left": None, "locked_until": None, "idle_s": None, "reason": None}
    view = world.pin(session, ANNA_PIN)
    assert (view.state, view.display_name, view.role, view.idle_s) == ("active", "Anna", StaffRole.STAFF, 60.0)
    assert world.last("staff")["state"] == "active"
    member = world.staff.gate.require(session)
    assert (member.staff, member.display_name) == ("s-anna", "Anna")
    with pytest.raises(CommandError, match="needs the manager role"):
        world.staff.gate.require(session, StaffRole.MANAGER)
    world.sessions.on_removed()  # the badge leaves the reader: staff mode goes on
    assert world.staff.gate.require(session).staff == "s-anna"


def test_five_wrong_pins_lock_the_badge_past_a_restart_until_the_time_and_the_next_lock_doubles(world):
    session = world.tap(STAFF_UID)
    for left in (4, 3, 2, 1):
        view = world.pin(session, "0000")
        assert (view.state, view.attempts_left, view.reason) == ("pin-required", left, "wrong-pin")
    view = world.pin(session, "0000")
    assert view.state == "locked" and view.locked_until is not None
    assert (view.locked_until.timestamp() - world.clock()) == pytest.approx(300)
    assert world.pin(session, ANNA_PIN).state == "locked", "the right PIN is not even checked while locked"

    world.restart()
    world.clock.t += 299
    session = world.tap(STAFF_UID)
    assert world.last("staff")["state"] == "locked"
    assert world.pin(session, ANNA_PIN).state == "locked"

    world.clock.t += 2  # past the five minutes
    for _ in range(5):
        view = world.pin(session, "0000")
    assert view.state == "locked" and view.locked_until is not None
    assert view.locked_until.timestamp() - world.clock() == pytest.approx(600), "the second lock is twice as long"
    world.clock.t -= 3600  # the wall clock set back an hour cannot lengthen the lock
    assert world.staff.lockout.state(world.store.conn, card_token(KEY, STAFF_UID)).locked_for_s <= 600
    world.clock.t += 3600 + 601
    assert world.pin(session, ANNA_PIN).state == "active"
    attempts = [a["result"] for a in world.audits() if a["action"] == "pin-attempt"]
    assert attempts == ["wrong-pin"] * 5 + ["locked", "locked"] + ["wrong-pin"] * 5 + ["ok"]


def test_a_customer_card_during_staff_mode_ends_it_at_once_and_the_gate_closes(world):
    session = world.tap(STAFF_UID)
    world.pin(session, ANNA_PIN)
    world.tap(SANNE_UID)
    assert world.last("staff")["state"] == "ended" and world.last("staff")["reason"] == "new-tap"
    with pytest.raises(CommandError, match="not in staff mode"):
        world.staff.gate.require(session)
    assert [a["action"] for a in world.audits()][-1] == "staff-mode-end"


def test_staff_mode_has_its_own_idle_limit_at_the_agent(tmp_path):
    world = World(tmp_path / "agent.db", StaffConfig(idle_s=5))
    ticks = {"t": 1000.0}
    world.sessions._clock = lambda: ticks["t"]
    session = world.tap(STAFF_UID)
    world.pin(session, ANNA_PIN)
    ticks["t"] += 5 + 14  # within the kiosk's grace
    assert world.staff.gate.require(session).staff == "s-anna"
    ticks["t"] += 5 + 15.1
    assert world.sessions.expire()
    assert world.last("staff")["state"] == "ended" and world.last("staff")["reason"] == "idle"
    world.sessions.close()
    world.store.close()


def test_uid_only_manager_badge_gets_the_staff_role_only_where_sun_is_required(tmp_path):
    world = World(tmp_path / "agent.db", StaffConfig(manager_requires_sun=True))
    session = world.tap(MANAGER_UID)
    view = world.pin(session, BOB_PIN)
    assert (view.state, view.role, view.role_limited) == ("active", StaffRole.STAFF, "sun-required")
    with pytest.raises(CommandError, match="manager"):
        world.staff.audit_log(SessionRequest(session=session))
    assert any(a["action"] == "audit-read" and a["result"] == "refused" for a in world.audits())

    url = sun_url("https://shop.example/c", MANAGER_UID, 7, SUN_KEYS)
    session = world.tap(MANAGER_UID, url)
    view = world.pin(session, BOB_PIN)
    assert (view.role, view.role_limited) == (StaffRole.MANAGER, None)
    entries = world.staff.audit_log(SessionRequest(session=session)).entries
    assert entries[0].action == "audit-read" and len(entries) <= 50
    world.sessions.close()
    world.store.close()


def test_open_calls_are_listed_with_their_wait_and_handling_one_is_audited_and_announced(world):
    sent = world.commands
    sent.handle("staff-assist", _request("staff-assist", {"phase": "inform", "topic": "product-advice"}))
    call = next(json.loads(p.payload)["id"] for p in world.outbox.after(0, 10_000)
                if p.topic.endswith("/event/staff-assist"))
    world.clock.t += 95
    session = world.tap(STAFF_UID)
    with pytest.raises(CommandError, match="not in staff mode"):
        world.staff.calls.list(SessionRequest(session=session))
    world.pin(session, ANNA_PIN)
    calls = world.staff.calls.list(SessionRequest(session=session)).calls
    assert [(c.call, c.waited_s, c.topic) for c in calls] == [(call, 95.0, "product-advice")]
    assert world.staff.calls.handled(StaffCallRequest(session=session, call=call)).calls == []
    assert any(t.endswith("/local/staff-call") and d["data"] == {"call": call, "state": "handled", "display_name": None}
               for t, d in world.published)
    with pytest.raises(CommandError, match="handled already"):
        world.staff.calls.handled(StaffCallRequest(session=session, call=call))
    handled = [a["result"] for a in world.audits() if a["action"] == "call-handled"]
    assert handled == ["ok", "failed"]


def _request(command: str, data: dict) -> bytes:
    from edge_agent.contract import COMMANDS, encode

    return encode(COMMANDS[command], data, transaction="t-1")[1]
