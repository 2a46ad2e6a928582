"""A tap the agent could not record (a full disk on the agent: a rejected session, reason ``try-again``) is
not an anonymous shopper: the kiosk keeps what it shows and asks to tap again."""

from edge_agent.sessions import TRY_AGAIN as AGENT_TRY_AGAIN
from kiosk.state import NOTICE_TRY_AGAIN, TRY_AGAIN, KioskState, Mode, Screen
from tests.test_kiosk_state import FakeClock, session


def test_tap_answered_try_again_keeps_the_current_screen_and_shows_the_retry_text_not_anonymous_mode():
    assert TRY_AGAIN == AGENT_TRY_AGAIN
    clock = FakeClock()
    state = KioskState(idle_timeout_s=45, countdown_s=10, notice_s=8, clock=clock)
    state.open(Screen.INSPIREER)  # browsing without a card
    before = (state.screen, state.mode, state.visit)
    assert state.on_session(session("rejected", reason=TRY_AGAIN)) == []
    assert (state.screen, state.mode, state.visit) == before
    assert state.mode is Mode.NOBODY and state.notice == NOTICE_TRY_AGAIN
    clock.now += 9
    state.tick()
    assert state.notice is None, "the retry text goes like any notice"


def test_tap_answered_try_again_during_a_customer_session_leaves_that_session_as_it_is():
    state = KioskState(idle_timeout_s=45, countdown_s=10, clock=FakeClock())
    sanne = session()
    state.on_session(sanne)
    state.open(Screen.CONVERTEER)
    assert state.on_session(session("rejected", reason=TRY_AGAIN)) == []
    assert state.visit.session is not None and state.visit.session.id == sanne.session
    assert state.screen is Screen.CONVERTEER and state.notice == NOTICE_TRY_AGAIN


def test_card_rejected_for_another_reason_still_gives_anonymous_mode():
    state = KioskState(idle_timeout_s=45, countdown_s=10, clock=FakeClock())
    state.on_session(session("rejected", reason="unreadable"))
    assert state.mode is Mode.ANONYMOUS and state.notice is None
