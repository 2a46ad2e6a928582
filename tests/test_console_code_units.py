"""The one-time console code's rules alone: the agent draws it only in staff mode and offers the console a
verifier, never the code (edge_agent/staff/console_code.py); the console logs a code in once, not after it
expired, not for a member it no longer has, with the lesser role, and locks an address after five wrong codes
(edge_agent/console/kiosk_codes.py); the kiosk asks only in staff mode and forgets the code with the visit
(kiosk/console_code_state.py). The whole path, with a real kiosk, agent, broker and browser, is
tests/test_console_code_e2e.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.commands import CommandError
from edge_agent.console.database import ConsoleDatabase
from edge_agent.console.kiosk_codes import MAX_OFFERS, KioskCodes
from edge_agent.console.login import Outcome, StaffLogin
from edge_agent.contract import (
    CONSOLE_CODE,
    AuditResult,
    ConsoleCodeResult,
    SessionRequest,
    StaffPush,
    StaffRole,
    StaffState,
    encode,
    new_id,
)
from edge_agent.staff.console_code import ConsoleCodes, draw_code
from edge_agent.staff.gate import StaffGate, StaffMember
from edge_agent.staff.pin import hash_pin
from kiosk.console_code_state import console_code_shown
from kiosk.state import KioskState, Request
from kiosk.visit import Status
from tests.test_staff_kiosk_state import badge, mode

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
SESSION = "01a20735-b502-769a-a830-637530718552"


class Audit:
    def __init__(self) -> None:
        self.entries: list[tuple[str | None, str, AuditResult, str | None]] = []

    def record(self, staff, action, result, target=None) -> str:
        self.entries.append((staff, action, result, target))
        return new_id()


def _codes(member: StaffMember | StaffState | None, published: list[tuple[str, bytes]], ok: bool = True):
    audit = Audit()
    gate = StaffGate(lambda session: member, audit)

    def publish(topic: str, raw: bytes) -> bool:
        published.append((topic, raw))
        return ok

    return ConsoleCodes(gate, audit, publish, "store-1", "kiosk-1", lambda: NOW), audit


def test_the_agent_draws_eight_digits_in_staff_mode_and_offers_only_their_verifier():
    published: list[tuple[str, bytes]] = []
    codes, audit = _codes(StaffMember("s-anna", "Anna", StaffRole.MANAGER, SESSION), published)
    result = codes.issue(SessionRequest(session=SESSION))
    assert len(result.code) == 8 and result.code.isdigit() and result.valid_until == NOW + timedelta(seconds=120)
    [(topic, raw)] = published
    assert topic == CONSOLE_CODE.topic_for("store-1", "kiosk-1") == "cs/v1/store-1/kiosk-1/local/console-code"
    data = json.loads(raw)["data"]
    assert result.code.encode() not in raw and data["verifier"].startswith("$argon2id$")
    assert (data["staff"], data["role"], data["display_name"]) == ("s-anna", "manager", "Anna")
    assert [(e[1], e[2]) for e in audit.entries] == [("console-code", AuditResult.OK)]
    assert result.code not in repr(audit.entries)


def test_no_code_outside_staff_mode_and_none_shown_when_the_console_cannot_be_told():
    published: list[tuple[str, bytes]] = []
    codes, audit = _codes(StaffState.PIN_REQUIRED, published)
    with pytest.raises(CommandError, match="not in staff mode"):
        codes.issue(SessionRequest(session=SESSION))
    assert not published and audit.entries[-1][1:3] == ("console-code", AuditResult.REFUSED)
    codes, audit = _codes(StaffMember("s-anna", "Anna", StaffRole.STAFF, SESSION), published, ok=False)
    with pytest.raises(CommandError, match="could not be told"):
        codes.issue(SessionRequest(session=SESSION))
    assert audit.entries[-1][1:3] == ("console-code", AuditResult.FAILED)


def test_drawn_codes_keep_leading_zeros_and_spread_over_the_digits():
    drawn = [draw_code() for _ in range(200)]
    assert all(len(code) == 8 and code.isdigit() for code in drawn)
    assert len(set(drawn)) == 200
    assert len({code[0] for code in drawn}) >= 8  # the first digit too (zeros kept): no code is cut short


# ---------------------------------------------------------------------- the console


def _console(tmp_path: Path, now: list[float], role: str = "manager") -> KioskCodes:
    login = StaffLogin(ConsoleDatabase(tmp_path / "console.db"), clock=lambda: now[0])
    login.apply_push(StaffPush(staff="s-anna", version=1, display_name="Anna", role=role,
                               pin_verifier=hash_pin("2468")))
    return KioskCodes(ConsoleDatabase(tmp_path / "console.db"), login, clock=lambda: now[0])


def _offer(code: str, now: float, valid_s: float = 120, role: str = "manager", staff: str = "s-anna") -> bytes:
    return encode(CONSOLE_CODE, {"offer": new_id(), "staff": staff, "display_name": "Anna", "role": role,
                                 "verifier": hash_pin(code),
                                 "valid_until": datetime.fromtimestamp(now + valid_s, UTC)})[1]


def test_a_code_logs_in_once_and_not_after_it_expired(tmp_path: Path):
    now = [1_000_000.0]
    codes = _console(tmp_path, now)
    codes.receive("kiosk-1", _offer("40392817", now[0]), retained=False)
    result, device = codes.attempt("40392817", "10.0.0.7")
    assert (result.outcome, result.staff, result.display_name, result.role, device) == (
        Outcome.OK, "s-anna", "Anna", StaffRole.MANAGER, "kiosk-1")
    assert codes.attempt("40392817", "10.0.0.7")[0].outcome is Outcome.WRONG  # used up
    codes.receive("kiosk-1", _offer("11223344", now[0]), retained=False)
    now[0] += 121
    assert codes.attempt("11223344", "10.0.0.8")[0].outcome is Outcome.WRONG
    assert codes.pending() == 0


def test_a_retained_or_already_expired_offer_is_never_kept(tmp_path: Path):
    now = [1_000_000.0]
    codes = _console(tmp_path, now)
    codes.receive("kiosk-1", _offer("40392817", now[0]), retained=True)
    codes.receive("kiosk-1", _offer("55667788", now[0], valid_s=-1), retained=False)
    assert codes.pending() == 0


def test_the_lesser_role_is_granted_and_a_member_the_console_lacks_is_refused(tmp_path: Path):
    now = [1_000_000.0]
    codes = _console(tmp_path, now, role="staff")  # a manager at the kiosk, staff in the console's records
    codes.receive("kiosk-1", _offer("40392817", now[0], role="manager"), retained=False)
    assert codes.attempt("40392817", "10.0.0.7")[0].role is StaffRole.STAFF
    codes.receive("kiosk-1", _offer("12121212", now[0], staff="s-nobody"), retained=False)
    assert codes.attempt("12121212", "10.0.0.7")[0].outcome is Outcome.WRONG


def test_five_wrong_codes_lock_that_address_even_for_the_right_code_and_not_another(tmp_path: Path):
    now = [1_000_000.0]
    codes = _console(tmp_path, now)
    codes.receive("kiosk-1", _offer("40392817", now[0]), retained=False)
    outcomes = [codes.attempt("00000000", "10.0.0.9")[0].outcome for _ in range(5)]
    assert outcomes == [Outcome.WRONG] * 4 + [Outcome.LOCKED]
    assert codes.attempt("40392817", "10.0.0.9")[0].outcome is Outcome.LOCKED
    assert codes.attempt("40392817", "10.0.0.10")[0].outcome is Outcome.OK


def test_the_offers_kept_are_bounded_oldest_out_first(tmp_path: Path):
    now = [1_000_000.0]
    codes = _console(tmp_path, now)
    first = _offer("10000000", now[0], valid_s=60)
    codes.receive("kiosk-1", first, retained=False)
    for index in range(MAX_OFFERS):
        codes.receive("kiosk-1", encode(CONSOLE_CODE, {
            "offer": new_id(), "staff": "s-anna", "display_name": "Anna", "role": "staff",
            "verifier": json.loads(first)["data"]["verifier"],
            "valid_until": datetime.fromtimestamp(now[0] + 120 + index, UTC)})[1], retained=False)
    assert codes.pending() == MAX_OFFERS


# ---------------------------------------------------------------------- the kiosk


def test_the_kiosk_asks_only_in_staff_mode_shows_the_code_until_it_expires_and_forgets_it():
    state = KioskState(idle_timeout_s=45, countdown_s=10)
    sid = badge(state)
    assert state.console_code_request() == []  # the PIN pad: not yet
    state.on_staff_mode(mode(sid))
    assert state.console_code_request() == [Request("staff-console-code", sid)]
    assert state.console_code_request() == []  # one at a time
    answer = ConsoleCodeResult(code="04039281", valid_until=datetime.now(UTC) + timedelta(minutes=2))
    state.on_response("staff-console-code", sid, True, answer, None)
    assert state.visit.console_code.status is Status.LOADED
    assert console_code_shown(state.visit.console_code.value) == "0403 9281"
    assert console_code_shown(answer, now=lambda: answer.valid_until) == ""
    assert "04039281" not in repr(state.visit)
    state.done()  # Klaar: staff mode ends, the visit and the code with it
    assert state.visit.console_code.value is None
