"""The kiosk's staff rules alone (kiosk/staff_state.py in KioskState): the PIN pad, staff mode by role, its
own idle timeout and countdown, the keep-alive, and nothing of the PIN in what a view or the status file sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.contract import SessionPayload, StaffCallsResult, StaffModeView, new_id
from kiosk.state import KioskState, Request, Screen
from kiosk.visit import Mode, Status
from tests.test_kiosk_state import FakeClock, session


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def state(clock):
    return KioskState(idle_timeout_s=45, countdown_s=10, clock=clock)


def badge(state: KioskState) -> str:
    payload: SessionPayload = session("staff", staff="s-anna")
    state.on_session(payload)
    return payload.session


def mode(sid: str, state: str = "active", role: str | None = "manager", **fields) -> StaffModeView:
    active = state == "active"
    return StaffModeView(session=sid, state=state, display_name="Anna" if active else None,
                         role=role if active else None, idle_s=60.0 if active else None, **fields)


def test_a_badge_opens_the_pin_pad_and_only_it(state):
    badge(state)
    assert (state.mode, state.screen, state.screens) == (Mode.STAFF, Screen.STAFF_PIN, (Screen.STAFF_PIN,))
    assert state.open(Screen.STAFF_AUDIT) == [] and state.screen is Screen.STAFF_PIN


def test_the_pin_pad_takes_4_to_8_digits_sends_them_once_and_keeps_only_their_count(state):
    sid = badge(state)
    for digit in "123":
        state.pin_digit(digit)
    assert state.pin_submit() == [], "fewer than 4 digits are not sent"
    for digit in "456789x":
        state.pin_digit(digit)
    assert state.visit.pin_length == 8, "at most 8 digits, digits only"
    state.pin_back()
    view = state.visit.view()
    assert view["pin_length"] == 7 and "pin" not in view and "1234567" not in repr(view)
    assert "1234567" not in repr(state.visit.statuses()) and "1234567" not in repr(state.visit)
    effects = state.pin_submit()
    assert effects == [Request("staff-pin", sid, pin="1234567")]
    assert "1234567" not in repr(effects), "a request's repr (a log line) never shows the PIN"
    assert (state.visit.pin, state.visit.pin_length, state.visit.pin_status) == ("", 0, Status.SENDING)
    assert state.pin_submit() == [], "one at a time"


def test_a_wrong_pin_shows_the_attempts_left_and_a_locked_badge_takes_no_digits(state):
    sid = badge(state)
    for digit in "0000":
        state.pin_digit(digit)
    state.pin_submit()
    state.on_response("staff-pin", sid, True, mode(sid, "pin-required", attempts_left=4, reason="wrong-pin"), None)
    assert state.visit.staff_mode.attempts_left == 4 and state.visit.pin_status is Status.IDLE
    until = datetime.now(UTC) + timedelta(minutes=5)
    state.on_staff_mode(mode(sid, "locked", attempts_left=0, locked_until=until, reason="locked"))
    state.pin_digit("1")
    assert state.visit.pin_length == 0 and state.screen is Screen.STAFF_PIN


def test_the_right_pin_opens_the_staff_home_and_the_role_decides_the_screens(state):
    sid = badge(state)
    state.on_response("staff-pin", sid, True, mode(sid, role="staff"), None)
    assert state.screen is Screen.STAFF and state.staff_active
    assert state.screens == (Screen.STAFF, Screen.STAFF_CALLS, Screen.STAFF_CHECKS,  # the checks: staff role too
                             Screen.INHOUD, Screen.VOORBEELD)  # content: staff; schedules need a manager (agent)
    assert state.open(Screen.STAFF_AUDIT) == []
    assert state.open(Screen.STAFF_CALLS) == [Request("staff-calls", sid)]
    state.on_staff_mode(mode(sid, role="manager"))
    assert state.open(Screen.STAFF_AUDIT) == [Request("staff-audit-log", sid)]


def test_staff_mode_counts_down_its_own_idle_timeout_and_keeps_the_agent_told(state, clock):
    sid = badge(state)
    state.on_staff_mode(mode(sid))
    assert state.staff_seconds_left() == 60
    clock.now += 5
    state.touched()
    clock.now += 4
    assert state.tick() == [], "told at most every 10 s"
    clock.now += 1
    assert state.tick() == [Request("staff-status", sid)]
    assert state.tick() == [], "not again without a touch"
    clock.now += 55  # 60 s after the last touch
    assert state.staff_seconds_left() == 0 and state.countdown() == 0
    clock.now += 0.1
    assert state.tick() == [Request("end-session", sid)] and state.screen is Screen.BEREIK


def test_a_customer_session_replaces_staff_mode_and_forgets_it(state):
    sid = badge(state)
    state.on_staff_mode(mode(sid))
    state.on_session(session())
    assert state.mode is Mode.CUSTOMER and state.visit.staff_mode is None and not state.staff_active


def test_handling_a_call_asks_the_agent_and_its_answer_lists_the_calls_left(state):
    sid = badge(state)
    state.on_staff_mode(mode(sid))
    state.open(Screen.STAFF_CALLS)
    call = new_id()
    effects = state.handle_call(call)
    assert effects == [Request("staff-call-handled", sid, call=call)]
    state.on_response("staff-call-handled", sid, True, StaffCallsResult(calls=[]), None)
    assert state.visit.staff_calls.status is Status.LOADED and state.visit.staff_calls.value.calls == []


def test_a_staff_mode_message_of_another_session_is_ignored(state):
    badge(state)
    state.on_staff_mode(mode(new_id()))
    assert not state.staff_active and state.screen is Screen.STAFF_PIN


def test_the_shopper_who_called_sees_when_staff_handled_their_call_and_no_other(state):
    from edge_agent.contract import QueuedResult, StaffCallState

    state.open(Screen.CONTINUEER)
    assert state.call_staff() == [Request("staff-assist", None, phase="continue")]
    call = new_id()
    state.on_response("staff-assist", None, True, QueuedResult(event=call), None)
    state.on_staff_call(StaffCallState(call=new_id(), state="handled"))
    assert not state.visit.assist_handled, "another kiosk's call"
    state.on_staff_call(StaffCallState(call=call, state="handled"))
    assert state.visit.assist_handled and state.visit.view()["assist_handled"] is True
    state.done()
    assert not state.visit.assist_handled and state.visit.assist_call is None


def test_open_call_s_phase_word_is_shown_as_the_phase_s_name_in_the_language_not_the_contract_s_word():
    from edge_agent.contract import Phase
    from kiosk.i18n import Translator
    from kiosk.phase_names import phase_name
    from kiosk.texts import Words

    words = Words(Translator())
    assert [phase_name(words, Phase.CONTINUE, language) for language in ("nl", "en", "fr")] == [
        "Continueer", "Continue", "Fidéliser"]
    for phase in Phase:
        names = {language: phase_name(words, phase, language) for language in ("nl", "en", "fr")}
        assert phase.value not in names.values() and len(set(names.values())) >= 2, names
