"""The kiosk's side of a call answered from the store console and of clienteling (kiosk/state.py, staff_state.py):
a recognised shopper is asked whether staff may see who they are, for this call only (never assumed; an
anonymous shopper is not asked); "Anna komt eraan" shows for this kiosk's call only."""

from __future__ import annotations

import pytest

from edge_agent.contract import CallShareResult, QueuedResult, StaffCallState, new_id
from kiosk.state import KioskState, Request, Screen
from kiosk.visit import Status
from tests.test_kiosk_state import FakeClock, session


@pytest.fixture
def state():
    return KioskState(idle_timeout_s=45, countdown_s=10, clock=FakeClock())


def _called(state: KioskState, sid: str | None) -> str:
    state.open(Screen.CONTINUEER)
    assert state.call_staff() == [Request("staff-assist", sid, phase="continue")]
    call = new_id()
    state.on_response("staff-assist", sid, True, QueuedResult(event=call), None)
    return call


def test_a_recognised_shopper_is_asked_after_her_call_and_her_answer_goes_for_that_call_only(state):
    state.on_session(session())
    sid = state.visit.session.id
    assert state.visit.assist_share.status is Status.IDLE, "nothing is asked before she calls"
    call = _called(state, sid)
    assert state.visit.view()["assist_share_status"] is Status.CONFIRM
    assert state.share_with_staff(True) == [Request("staff-call-share", sid, call=call, share=True)]
    assert state.share_with_staff(False) == [], "one answer at a time"
    state.on_response("staff-call-share", sid, True, CallShareResult(call=call, shared=True), None)
    assert state.visit.assist_share.status is Status.SENT and state.visit.assist_share.value.shared
    state.done()
    assert state.visit.assist_share.status is Status.IDLE, "the next shopper is asked nothing of hers"


def test_a_failed_answer_can_be_given_again_and_a_no_is_sent_as_no(state):
    state.on_session(session())
    sid = state.visit.session.id
    call = _called(state, sid)
    state.share_with_staff(False)
    state.on_response("staff-call-share", sid, False, None, "timed out")
    assert state.visit.assist_share.status is Status.FAILED
    assert state.share_with_staff(False) == [Request("staff-call-share", sid, call=call, share=False)]


def test_an_anonymous_shopper_is_not_asked(state):
    _called(state, None)
    assert state.visit.assist_share.status is Status.IDLE
    assert state.share_with_staff(True) == []


def test_the_kiosk_that_called_shows_who_is_coming_and_no_other_kiosk_s_answer(state):
    call = _called(state, None)
    state.on_staff_call(StaffCallState(call=new_id(), state="coming", display_name="Bob"))
    assert state.visit.assist_coming is None, "another kiosk's call"
    state.on_staff_call(StaffCallState(call=call, state="coming", display_name="Anna"))
    assert state.visit.view()["assist_coming"] == "Anna"
    state.on_staff_call(StaffCallState(call=call, state="handled"))
    assert state.visit.assist_handled
    state.done()
    assert state.visit.assist_coming is None
