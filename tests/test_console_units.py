"""The console's pieces without a browser: the device model survives a restart, staff records and their removal,
the lockout's five wrong PINs, idle logins, the audit queue until PUBACK, safe redirects, config mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.console.audit import ConsoleAudit
from edge_agent.console.config import parse_console_config
from edge_agent.console.database import ConsoleDatabase
from edge_agent.console.devices import DeviceModel
from edge_agent.console.login import Outcome, StaffLogin
from edge_agent.console.pages_login import _safe_next
from edge_agent.console.sessions import Sessions
from edge_agent.contract import BIRTH, CONTENT_SCHEDULE, HEALTH, AuditResult, StaffPush, StaffRole
from edge_agent.errors import ConfigError, RejectedMessage
from edge_agent.staff.pin import hash_pin


def _data(message, **changes):
    return message.model.model_validate({**message.example, **changes}).model_dump(mode="json")


def test_the_device_model_is_kept_in_sqlite_so_a_console_restart_shows_every_device_at_once(tmp_path: Path):
    db = ConsoleDatabase(tmp_path / "console.db")
    changed: list[str] = []
    model = DeviceModel(db, changed.append)
    model.apply("state", "kiosk-1", {"state": "online", "reason": "connected"})
    model.apply("birth", "kiosk-1", _data(BIRTH))
    model.apply("health", "kiosk-1", _data(HEALTH, reconnects=2))
    model.apply("schedule", "kiosk-1", _data(CONTENT_SCHEDULE))
    model.apply("state", "kiosk-1", {"state": "offline", "reason": "last-will"})
    model.apply("state", "shelf-1", {"state": "online", "reason": "connected"})
    db.close()
    again = DeviceModel(ConsoleDatabase(tmp_path / "console.db"))
    kiosk, shelf = again.all()
    assert (kiosk.device, kiosk.online, kiosk.agent_version, kiosk.pack) == ("kiosk-1", False, "0.1.0",
                                                                             "tuincentrum-de-linde 2026.11.1")
    assert kiosk.reconnects == 3  # the agent's two since its start, and the drop the console saw
    assert (shelf.device, shelf.online, shelf.pack) == ("shelf-1", True, None)
    assert changed == ["kiosk-1"] * 5 + ["shelf-1"]


def test_a_cleared_retained_message_empties_that_part_and_an_unknown_kind_is_refused(tmp_path: Path):
    model = DeviceModel(ConsoleDatabase(tmp_path / "console.db"))
    model.apply("schedule", "kiosk-1", _data(CONTENT_SCHEDULE))
    model.apply("schedule", "kiosk-1", None)
    assert model.get("kiosk-1").pack is None
    with pytest.raises(ValueError, match="unknown kind"):
        model.apply("password", "kiosk-1", {})


def _push(staff="s-anna", version=1, pin="2468", active=True, role="staff"):
    if not active:
        return StaffPush(staff=staff, version=version, active=False)
    return StaffPush(staff=staff, version=version, display_name="Anna", role=role, pin_verifier=hash_pin(pin))


def test_five_wrong_pins_lock_the_staff_id_even_for_the_right_pin_until_the_lock_ends(tmp_path: Path):
    now = [1_000_000.0]
    login = StaffLogin(ConsoleDatabase(tmp_path / "console.db"), clock=lambda: now[0])
    login.apply_push(_push())
    results = [login.attempt("s-anna", "0000") for _ in range(5)]
    assert [r.outcome for r in results] == [Outcome.WRONG] * 4 + [Outcome.LOCKED]
    assert [r.attempts_left for r in results[:4]] == [4, 3, 2, 1]
    assert login.attempt("s-anna", "2468").outcome is Outcome.LOCKED
    now[0] += 301
    ok = login.attempt("s-anna", "2468")
    assert (ok.outcome, ok.display_name, ok.role) == (Outcome.OK, "Anna", StaffRole.STAFF)


def test_an_unknown_staff_id_gets_the_same_answer_as_a_wrong_pin(tmp_path: Path):
    login = StaffLogin(ConsoleDatabase(tmp_path / "console.db"))
    assert login.attempt("s-nobody", "2468").outcome is Outcome.WRONG


def test_an_older_staff_record_is_refused_and_a_removed_member_cannot_log_in(tmp_path: Path):
    login = StaffLogin(ConsoleDatabase(tmp_path / "console.db"))
    login.apply_push(_push(version=2))
    with pytest.raises(RejectedMessage, match="older"):
        login.apply_push(_push(version=1, pin="1111"))
    login.apply_push(_push(version=3, active=False))
    assert login.attempt("s-anna", "2468").outcome is Outcome.WRONG
    assert login.member("s-anna") is None


def test_a_login_ends_after_its_idle_time_and_when_its_member_is_removed():
    now = [0.0]
    sessions = Sessions(idle_s=60, clock=lambda: now[0])
    first = sessions.start("s-anna", "Anna", StaffRole.STAFF)
    second = sessions.start("s-anna", "Anna", StaffRole.STAFF)
    now[0] = 59
    assert sessions.find(first.token) is first
    now[0] = 120
    assert sessions.find(first.token) is None  # idle since 59
    assert sessions.find(second.token) is None
    third = sessions.start("s-anna", "Anna", StaffRole.STAFF)
    assert sessions.end_staff("s-anna") == 1 and sessions.find(third.token) is None
    assert first.csrf != second.csrf and first.token != second.token


def test_an_audit_entry_waits_in_sqlite_until_the_brokers_puback(tmp_path: Path):
    db = ConsoleDatabase(tmp_path / "console.db")
    audit = ConsoleAudit(db, "store-1", "console")
    assert audit.topic == "cs/v1/store-1/console/event/staff-audit"
    audit.record("s-anna", "console-login", AuditResult.OK)
    assert audit.pending() == 1  # not connected: kept
    sent: list[bytes] = []
    audit.attach(lambda topic, payload: sent.append(payload) or 7)
    assert audit.resend() == 1 and b"console-login" in sent[0] and b"s-anna" in sent[0]
    audit.acknowledged(7)
    assert audit.pending() == 0


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil", "", None])
def test_the_login_never_redirects_off_the_console(target):
    assert _safe_next(target) == "/"


def test_a_mistake_in_the_console_config_names_its_line_and_key():
    with pytest.raises(ConfigError) as caught:
        parse_console_config('[store]\nid = "store-1"\n[mqtt]\nhost = "x"\n[https]\ncert_file = "a"\n'
                             'key_file = "b"\nlisten = ["no-port"]\ncolour = "green"\n', "console.toml")
    text = str(caught.value)
    assert "console.toml:8: https.listen" in text and "is not host:port" in text
    assert "https.colour: unknown key" in text
