"""Store staff when the storage fails or the store key rotates: no staff mode, and no PIN checked, without its
audit written; no free guess; no lock forgotten.

The full disk is real, as in ``tests/test_transient_failures.py``: a small tmpfs mounted by the test (root,
as CI runs) and filled with a file; the locked database is locked by another connection. Where a fault must
come between two steps of one tap or PIN (after the tap is recorded, before the badge's audit; after the
attempt is counted, before its result), the test fills the disk at that point, through the function the
agent calls there. The key rotation runs the agent on nfcpy's UDP reader and a real Mosquitto with
``tests/test_key_rotation.py``'s set-up.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.commands import CommandError
from edge_agent.config import StaffConfig
from edge_agent.contract import PUSHES, StaffPinRequest, encode
from edge_agent.identity import StoreKeys, card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from edge_agent.outbox import Outbox
from edge_agent.privacy import relink_card
from edge_agent.sessions import SessionService
from edge_agent.staff import StaffService
from edge_agent.staff import audit as audit_module
from edge_agent.staff import mode as mode_module
from edge_agent.staff.lockout import move_lockout
from edge_agent.store import Store
from edge_agent.transient import Fault, fault_of
from tests.support.cards import STAFF_UID, STORE_HMAC_KEY_HEX
from tests.support.faults import wait_until
from tests.test_key_rotation import NEW_KEY, Phase, credentials
from tests.test_key_rotation import OLD_KEY as ROTATED_KEY
from tests.test_staff_mode import ANNA_PIN, KEY, TOPICS, World
from tests.test_transient_failures import WAIT_S, no_traceback, scene, small_disk  # noqa: F401 - fixtures

EXAMPLE_PIN = "2468"  # the pin_verifier of the staff push's example (the fixtures' demo PIN)


@pytest.fixture
def disk_world(small_disk):  # noqa: F811 - the fixture imported above
    """Anna and Bob (tests/test_staff_mode.py) on a database on the small disk; yields (world, disk)."""
    world = World(small_disk.path / "agent.db", StaffConfig())
    yield world, small_disk
    world.sessions.close()
    world.store.close()


def staff_states(world: World) -> list[str]:
    return [data["data"]["state"] for topic, data in world.published if topic.endswith("/local/staff")]


def lockout_row(world: World) -> tuple | None:
    with world.store.reading() as conn:
        return conn.execute("SELECT failures, locks FROM staff_lockouts WHERE card = ?",
                            (card_token(KEY, STAFF_UID),)).fetchone()


# --------------------------------------------------------------------------- the badge


def test_disk_full_staff_badge_gets_try_again_no_staff_mode_and_the_next_badge_is_audited_agent_runs_on(
        scene, small_disk, monkeypatch):  # noqa: F811 - the fixtures imported above
    device = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(device)
    try:
        monkeypatch.setenv("CS_STORE_HMAC_KEY", STORE_HMAC_KEY_HEX)
        _broker, observer, start_agent = scene(extra=f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n')
        agent = start_agent()
        observer.wait_online()
        assert emulator.wait_for_reader(WAIT_S), "the agent's reader never polled"
        observer.push("staff", PUSHES["staff"].example)
        observer.push("card-link", {"card": card_token(bytes.fromhex(STORE_HMAC_KEY_HEX), STAFF_UID), "version": 1,
                                    "kind": "staff", "staff": "s-anna"})
        wait_until(lambda: observer.query("SELECT 1 FROM card_links") and observer.query("SELECT 1 FROM staff"),
                   WAIT_S, "the staff member and their badge stored")

        def started() -> list[dict]:
            return [d["data"] for d in observer.on("/local/session") if d["data"]["state"] == "started"]

        def tap() -> dict:
            before = len(started())
            emulator.hold(Type2Card(STAFF_UID))
            try:
                wait_until(lambda: len(started()) > before, WAIT_S, "a session for the tap")
            finally:
                emulator.remove()
            time.sleep(1.0)  # put back before the reader saw it leave, it is the same presence (a real reader too)
            return started()[-1]

        small_disk.fill()
        refused = tap()
        assert refused["outcome"] == "rejected" and refused["reason"] == "try-again", refused
        assert refused["staff"] is None
        assert not any(d["data"]["session"] == refused["session"] for d in observer.on("/local/staff")), \
            "a badge whose tap could not be recorded opened no PIN pad"
        assert not observer.query("SELECT 1 FROM staff_audit")
        answer = observer.request("staff-pin", {"session": refused["session"], "pin": EXAMPLE_PIN})
        assert answer["status"] == "error", "no PIN is taken for a badge that was refused"

        small_disk.free()
        badge = tap()
        assert badge["outcome"] == "staff"
        wait_until(lambda: any(d["data"]["session"] == badge["session"] and d["data"]["state"] == "pin-required"
                               for d in observer.on("/local/staff")), WAIT_S, "the PIN pad after space returned")
        wait_until(lambda: any(d["data"]["action"] == "staff-badge" for d in observer.on("/event/staff-audit")),
                   WAIT_S, "the badge's audit upstream")
        assert observer.query("SELECT action, result FROM staff_audit") == [("staff-badge", "ok")]

        # A PIN while the disk is full: refused saying why, unchecked and uncounted; never staff mode.
        small_disk.fill()
        for pin in ("0000", EXAMPLE_PIN):
            answer = observer.request("staff-pin", {"session": badge["session"], "pin": pin})
            assert answer["status"] == "error" and answer["error"].startswith("storage full:"), answer
        assert not any(d["data"]["state"] == "active" for d in observer.on("/local/staff"))
        small_disk.free()
        answer = observer.request("staff-pin", {"session": badge["session"], "pin": "0000"})
        assert answer["status"] == "ok" and answer["data"]["attempts_left"] == 4, answer
        answer = observer.request("staff-pin", {"session": badge["session"], "pin": EXAMPLE_PIN})
        assert answer["status"] == "ok" and answer["data"]["state"] == "active", answer
        assert observer.query("SELECT action, result FROM staff_audit ORDER BY seq") == [
            ("staff-badge", "ok"), ("pin-attempt", "wrong-pin"), ("pin-attempt", "ok"), ("staff-mode-start", "ok")]
        assert EXAMPLE_PIN not in agent.log()
        assert agent.alive
        no_traceback(agent)
    finally:
        emulator.close()


def test_disk_full_between_tap_and_badge_audit_refuses_with_try_again_and_writes_the_entry_once_space_returns(
        disk_world, monkeypatch):
    world, disk = disk_world
    real_record = audit_module.AuditLog.record

    def record_on_a_full_disk(self, staff, action, result, target=None):
        disk.fill()  # the tap is recorded; the disk fills before the badge's own entry
        monkeypatch.setattr(audit_module.AuditLog, "record", real_record)
        return real_record(self, staff, action, result, target)

    monkeypatch.setattr(audit_module.AuditLog, "record", record_on_a_full_disk)
    session = world.tap(STAFF_UID)
    assert world.last("staff")["state"] == "refused" and world.last("staff")["reason"] == "try-again"
    assert "active" not in staff_states(world) and "pin-required" not in staff_states(world)
    with pytest.raises(CommandError, match="no staff member"):
        world.pin(session, ANNA_PIN)
    assert world.audits() == [] and world.staff.audit.owed == 1

    disk.free()
    session = world.tap(STAFF_UID)
    assert world.last("staff")["state"] == "pin-required"
    assert [(a["action"], a["result"], a["target"]) for a in world.audits()] == [
        ("staff-badge", "refused", "try-again"), ("staff-badge", "ok", None)], "the refused tap's entry came first"
    assert world.staff.audit.owed == 0
    assert world.pin(session, ANNA_PIN).state == "active"


# --------------------------------------------------------------------------- the PIN


def test_disk_full_before_a_pin_attempt_refuses_it_unchecked_so_no_guess_is_free_and_none_is_counted(
        disk_world, monkeypatch):
    world, disk = disk_world
    session = world.tap(STAFF_UID)
    checked: list[str] = []
    real_verify = mode_module.verify_pin
    monkeypatch.setattr(mode_module, "verify_pin", lambda verifier, pin: checked.append(pin) or
                        real_verify(verifier, pin))
    disk.fill()
    for pin in ("0000", ANNA_PIN):
        with pytest.raises(sqlite3.Error) as raised:
            world.pin(session, pin)
        assert fault_of(raised.value) is Fault.FULL
    assert checked == [], "a PIN is not checked before its attempt is counted: nothing learned, no guess"
    assert lockout_row(world) is None and world.last("staff")["state"] == "pin-required"
    with pytest.raises(CommandError, match="not in staff mode"):
        world.staff.gate.require(session)

    disk.free()
    assert world.pin(session, "0000").attempts_left == 4, "the refused attempts took none of the five"
    assert world.pin(session, ANNA_PIN).state == "active"
    assert [a["result"] for a in world.audits() if a["action"] == "pin-attempt"] == ["wrong-pin", "ok"]


@pytest.mark.parametrize("pin", ["0000", ANNA_PIN])
def test_disk_full_after_a_pin_attempt_is_counted_keeps_the_count_opens_no_staff_mode_and_owes_its_entry(
        disk_world, monkeypatch, pin):
    world, disk = disk_world
    session = world.tap(STAFF_UID)
    real_verify = mode_module.verify_pin

    def verify_then_fill(verifier: str, typed: str) -> bool:
        disk.fill()  # the attempt is counted; its result cannot be written
        return real_verify(verifier, typed)

    monkeypatch.setattr(mode_module, "verify_pin", verify_then_fill)
    with pytest.raises(sqlite3.Error) as raised:
        world.pin(session, pin)
    assert fault_of(raised.value) is Fault.FULL
    assert "active" not in staff_states(world), "never staff mode without its audit written"
    with pytest.raises(CommandError, match="not in staff mode"):
        world.staff.gate.require(session)
    assert lockout_row(world) == (1, 0), "the attempt counted, right PIN or wrong"

    monkeypatch.setattr(mode_module, "verify_pin", real_verify)
    disk.free()
    assert world.pin(session, ANNA_PIN).state == "active"
    owed = "failed" if pin == ANNA_PIN else "wrong-pin"
    assert [(a["action"], a["result"], a["target"]) for a in world.audits() if a["action"] == "pin-attempt"] == [
        ("pin-attempt", owed, "try-again"), ("pin-attempt", "ok", None)]
    assert lockout_row(world) is None, "the right PIN cleared the count"


def test_database_locked_by_another_process_refuses_a_pin_unchecked_and_the_next_one_after_the_lock_counts(
        tmp_path):
    world = World(tmp_path / "agent.db", StaffConfig())
    try:
        session = world.tap(STAFF_UID)
        world.store.conn.execute("PRAGMA busy_timeout=0")  # fail at once instead of after five seconds
        other = sqlite3.connect(tmp_path / "agent.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(sqlite3.Error) as raised:
                world.pin(session, "0000")
            assert fault_of(raised.value) is Fault.BUSY
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert lockout_row(world) is None
        assert world.pin(session, "0000").attempts_left == 4
    finally:
        world.sessions.close()
        world.store.close()


# --------------------------------------------------------------------------- the agent's idle end


def test_staff_mode_ended_idle_logs_staff_mode_s_own_limit_not_the_shopper_s(tmp_path, caplog):
    world = World(tmp_path / "agent.db", StaffConfig(idle_s=5))
    try:
        ticks = {"t": 1000.0}
        world.sessions._clock = lambda: ticks["t"]
        session = world.tap(STAFF_UID)
        world.pin(session, ANNA_PIN)
        caplog.set_level(logging.INFO, logger="edge_agent.sessions")
        ticks["t"] += 5 + mode_module.IDLE_GRACE_S + 0.1
        assert world.sessions.expire()
        limit = 5 + mode_module.IDLE_GRACE_S
        assert f"session ended by the agent: no request for {limit:g} s" in caplog.text, caplog.text
        assert "no request for 60 s" not in caplog.text
        with pytest.raises(CommandError, match=f"no request for {limit:g} s"):
            world.staff.modes.pin(StaffPinRequest(session=session, pin=ANNA_PIN))
    finally:
        world.sessions.close()
        world.store.close()


# --------------------------------------------------------------------------- store key rotation


def test_relink_moves_a_staff_badge_s_lockout_in_the_same_transaction_keeping_the_stricter(tmp_path):
    store = Store(tmp_path / "agent.db")
    try:
        outbox = Outbox(store, TOPICS, 1000)
        old, new = (card_token(bytes.fromhex(key), STAFF_UID) for key in (ROTATED_KEY, NEW_KEY))
        with store.transaction(durable=True) as conn:
            conn.execute("INSERT INTO card_links (card, version, kind, subject, active, updated) "
                         "VALUES (?, 1, 'staff', 's-anna', 1, 0)", (old,))
            conn.execute("INSERT INTO staff_lockouts (card, failures, locks, locked_at, locked_s) "
                         "VALUES (?, 0, 2, 5000.0, 600.0)", (old,))
        with pytest.raises(RuntimeError), store.transaction(durable=True) as conn:
            assert relink_card(conn, old, new, outbox)
            raise RuntimeError("rolled back")
        with store.reading() as conn:
            assert [r[0] for r in conn.execute("SELECT card FROM staff_lockouts")] == [old], "moved with it or not"
        with store.transaction(durable=True) as conn:
            assert relink_card(conn, old, new, outbox)
        with store.reading() as conn:
            assert conn.execute("SELECT card, failures, locks, locked_at, locked_s FROM staff_lockouts").fetchall() \
                == [(new, 0, 2, 5000.0, 600.0)]
        with store.transaction(durable=True) as conn:  # both tokens counted: the stricter of each
            conn.execute("INSERT INTO staff_lockouts VALUES ('t-a', 3, 1, NULL, NULL), ('t-b', 1, 2, 100.0, 300.0)")
            assert move_lockout(conn, "t-a", "t-b") and not move_lockout(conn, "t-a", "t-b")
            assert conn.execute("SELECT failures, locks, locked_at, locked_s FROM staff_lockouts "
                                "WHERE card = 't-b'").fetchone() == (3, 2, 100.0, 300.0)
    finally:
        store.close()


def test_key_rotation_keeps_a_locked_staff_badge_locked_under_its_new_token_no_fresh_guesses(
        mosquitto, make_config, capture, publisher, caplog):
    caplog.set_level(logging.DEBUG)
    _, config = make_config(mosquitto)
    store = config.store.id
    cap = capture(mosquitto, ["cs/#"])
    pub = publisher(mosquitto)

    def staff_view(session: str) -> dict:
        views = [m.json()["data"] for m in cap.on("/local/staff") if m.json()["data"]["session"] == session]
        return views[-1]

    phase = Phase(mosquitto, make_config, caplog, store, credentials(ROTATED_KEY), None)
    try:
        for kind, data in (("staff", PUSHES["staff"].example),
                           ("card-link", {"card": card_token(bytes.fromhex(ROTATED_KEY), STAFF_UID), "version": 1,
                                          "kind": "staff", "staff": "s-anna"})):
            pub.publish(PUSHES[kind].topic_for(store), encode(PUSHES[kind], data)[1])
        cap.wait_for(lambda ms: phase.agent.inbox.applied >= 2, timeout=15)
        session = phase.tap(cap, Type2Card(STAFF_UID))["session"]
        for _ in range(5):
            view = phase.agent.staff.modes.pin(StaffPinRequest(session=session, pin="0000"))
        assert view.state == "locked"
    finally:
        phase.stop()

    phase = Phase(mosquitto, make_config, caplog, store, credentials(NEW_KEY, ROTATED_KEY),
                  datetime.now(UTC) + timedelta(days=1))
    try:
        tapped = phase.tap(cap, Type2Card(STAFF_UID))
        assert tapped["outcome"] == "staff" and phase.agent.sessions.relinked == 1
        cap.wait_for(lambda ms: staff_view(tapped["session"])["state"] == "locked", timeout=15)
        new = card_token(bytes.fromhex(NEW_KEY), STAFF_UID)
        with phase.agent.store.reading() as conn:
            assert [row[0] for row in conn.execute("SELECT card FROM staff_lockouts")] == [new]
        assert phase.agent.staff.modes.pin(StaffPinRequest(session=tapped["session"], pin=EXAMPLE_PIN)).state \
            == "locked", "the right PIN is not even checked: the lock moved with the badge"
    finally:
        phase.stop()


def test_badge_central_linked_under_its_new_token_first_brings_its_old_token_s_lock_along(tmp_path):
    world = World(tmp_path / "agent.db", StaffConfig())  # Anna's badge linked under KEY: the new key
    previous = bytes(range(100, 132))
    try:
        with world.store.transaction(durable=True) as conn:
            conn.execute("INSERT INTO staff_lockouts (card, failures, locks, locked_at, locked_s) "
                         "VALUES (?, 0, 1, ?, ?)", (card_token(previous, STAFF_UID), world.clock(), 300.0))
        world.sessions.close()
        world.sessions = SessionService(world.store, world.outbox, lambda topic, payload: world.published.append(
            (topic, json.loads(payload))) or True, device="kiosk-1", session_topic=TOPICS.session,
            hmac_key=StoreKeys(KEY, previous, datetime.now(UTC) + timedelta(days=1)), end_on_removal=True)
        world.staff = StaffService(world.store, world.outbox, world.sessions, lambda topic, payload: world.published
                                   .append((topic, json.loads(payload))) or True, "store-1", "kiosk-1",
                                   world.config, clock=world.clock)
        session = world.tap(STAFF_UID)
        assert world.last("staff")["state"] == "locked", "no fresh five guesses under the new token"
        assert world.pin(session, ANNA_PIN).state == "locked"
        assert lockout_row(world) == (0, 1) and world.sessions.relinked == 0
    finally:
        world.sessions.close()
        world.store.close()
