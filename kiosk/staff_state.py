"""Store staff at the kiosk, as a part of the state machine (:class:`kiosk.state.KioskState` mixes it in).

No Kivy, no MQTT: the rules alone, like the rest of :mod:`kiosk.state`.

* A staff badge's session opens the PIN pad (:attr:`Screen.STAFF_PIN`); the kiosk sends the PIN (4 to 8
  digits) in ``staff-pin`` and forgets the digits as soon as it has sent them. The pad shows dots only.
* The agent answers with the staff mode (:class:`edge_agent.contract.StaffModeView`), and publishes it on
  ``local/staff`` on every change: ``active`` opens the staff home with the member's name and role;
  ``pin-required`` again after a wrong PIN (how many tries are left), ``locked`` (until when), ``refused``.
* Staff mode has its own idle timeout (the agent's ``[staff] idle_s``, in its answer), shown as a countdown
  on every staff screen; the shell's "Bent u er nog?" countdown shows in its last seconds as for a shopper.
  While staff touch the screen, the kiosk tells the agent at most every :data:`STATUS_INTERVAL_S`
  (``staff-status``), which keeps the agent's own limit from ending staff mode under them.
* Which staff screens may be opened follows the granted role (:data:`STAFF_SCREENS`): the audit needs a
  manager. "Klaar", the idle timeout and any card tap end staff mode (a new session replaces it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from edge_agent.contract import StaffCallState, StaffModeView, StaffRole, StaffState

from .visit import Answer, Mode, Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from .state import Request, Screen
    from .visit import Visit

PIN_MIN, PIN_MAX = 4, 8
STATUS_INTERVAL_S = 10.0  # the agent allows 15 s more than the kiosk's own staff idle timeout


def staff_screens() -> dict[Screen, StaffRole]:
    """The staff screens after the PIN, each with the role it needs, in the order the staff home lists them.
    Other staff screens (content, checks) add themselves here."""
    from .state import Screen

    return {Screen.STAFF: StaffRole.STAFF, Screen.STAFF_CALLS: StaffRole.STAFF, Screen.STAFF_AUDIT: StaffRole.MANAGER,
            Screen.STAFF_CHECKS: StaffRole.STAFF,  # the device checks (kiosk/device_checks_state.py)
            # The content under the store's control (kiosk/screens/inhoud.py, voorbeeld.py); schedules need a
            # manager, which the agent checks and the screen shows.
            Screen.INHOUD: StaffRole.STAFF, Screen.VOORBEELD: StaffRole.STAFF}


class StaffStateMixin:
    """The staff part of :class:`kiosk.state.KioskState` (it provides what is declared here)."""

    visit: Visit
    screen: Screen
    idle_timeout_s: float
    _clock: Callable[[], float]
    _last_touch: float
    _staff_told: float = 0.0  # kiosk clock when the agent was last told staff mode is in use

    if TYPE_CHECKING:
        def _changed(self) -> None: ...
        def touched(self) -> None: ...

        @property
        def mode(self) -> Mode: ...

    # ------------------------------------------------------------------ derived

    @property
    def staff_active(self) -> bool:
        """True while the session is in staff mode (the right PIN was given)."""
        view = self.visit.staff_mode
        return self.mode is Mode.STAFF and view is not None and view.state is StaffState.ACTIVE

    def staff_may(self, screen: Screen) -> bool:
        """Whether the granted role may open ``screen`` (a staff screen)."""
        needed = staff_screens().get(screen)
        view = self.visit.staff_mode
        if needed is None or not self.staff_active or view is None or view.role is None:
            return False
        return view.role is StaffRole.MANAGER or needed is StaffRole.STAFF

    def _staff_allowed(self) -> tuple[Screen, ...]:
        """The screens of a staff badge's session now: the PIN pad until staff mode, then by role."""
        from .state import Screen

        if not self.staff_active:
            return (Screen.STAFF_PIN,)
        return tuple(screen for screen in staff_screens() if self.staff_may(screen))

    def _idle_limit_s(self) -> float:
        """The idle timeout now: staff mode's own while it is active, else the kiosk's."""
        view = self.visit.staff_mode
        if self.staff_active and view is not None and view.idle_s is not None:
            return view.idle_s
        return self.idle_timeout_s

    def staff_seconds_left(self) -> int | None:
        """Whole seconds left before staff mode ends for want of a touch, or None outside staff mode."""
        if not self.staff_active:
            return None
        return max(0, math.ceil(self._last_touch + self._idle_limit_s() - self._clock()))

    # ------------------------------------------------------------------ from the agent

    def on_staff_mode(self, payload: StaffModeView) -> None:
        """The agent's staff mode of a session (``local/staff``, or its answer to ``staff-pin``)."""
        session = self.visit.session
        if session is None or session.id != payload.session or session.mode is not Mode.STAFF:
            return
        if payload.state is StaffState.ENDED:
            return  # the session's own end follows and wipes
        from .state import Screen

        was_active = self.staff_active
        self.visit.staff_mode = payload
        if payload.state is StaffState.ACTIVE and not was_active:
            self.visit.pin, self.visit.pin_length = "", 0
            self.screen = Screen.STAFF
            self._staff_told = self._clock()
            self.touched()
        elif payload.state is not StaffState.ACTIVE:
            self.screen = Screen.STAFF_PIN
        self.visit.pin_status = Status.IDLE
        self._changed()

    def on_staff_call(self, payload: StaffCallState) -> None:
        """A call made at this kiosk was answered (``local/staff-call``): the shopper who made it sees who is
        coming ("Anna komt eraan", from the store console), or that it was handled."""
        if payload.call != self.visit.assist_call or self.visit.assist_handled:
            return
        if payload.state == "handled":
            self.visit.assist_handled = True
        elif payload.display_name:
            self.visit.assist_coming = payload.display_name
        self._changed()

    def _on_staff_answer(self, ok: bool, data: object | None, error: str | None) -> None:
        """The answer to ``staff-pin`` or ``staff-status``."""
        if ok and isinstance(data, StaffModeView):
            self.on_staff_mode(data)
            return
        if self.visit.pin_status is Status.SENDING:
            self.visit.pin_status = Status.FAILED
            self._changed()

    # ------------------------------------------------------------------ the PIN pad

    def pin_digit(self, digit: str) -> None:
        """A digit key of the PIN pad (ignored beyond 8 digits, while a PIN is with the agent, or when locked)."""
        self.touched()
        visit = self.visit
        view = visit.staff_mode
        if (self.mode is not Mode.STAFF or self.staff_active or len(visit.pin) >= PIN_MAX
                or visit.pin_status is Status.SENDING or not (len(digit) == 1 and digit.isdigit())
                or (view is not None and view.state in (StaffState.LOCKED, StaffState.REFUSED))):
            return
        visit.pin += digit
        visit.pin_length = len(visit.pin)
        if visit.pin_status is Status.FAILED:
            visit.pin_status = Status.IDLE
        self._changed()

    def pin_back(self) -> None:
        """The PIN pad's back key: the last digit goes."""
        self.touched()
        visit = self.visit
        if visit.pin and visit.pin_status is not Status.SENDING:
            visit.pin = visit.pin[:-1]
            visit.pin_length = len(visit.pin)
            self._changed()

    def pin_submit(self) -> list[Request]:
        """The PIN pad's OK: send the PIN (4 to 8 digits) to the agent and forget it here."""
        from .state import Request

        self.touched()
        visit = self.visit
        session = visit.session
        if (session is None or self.mode is not Mode.STAFF or self.staff_active
                or not PIN_MIN <= len(visit.pin) <= PIN_MAX or visit.pin_status is Status.SENDING):
            return []
        pin, visit.pin, visit.pin_length = visit.pin, "", 0
        visit.pin_status = Status.SENDING
        self._changed()
        return [Request("staff-pin", session.id, pin=pin)]

    # ------------------------------------------------------------------ staff screens

    def _staff_open(self, screen: Screen) -> list[Request]:
        """What opening a staff screen asks the agent for."""
        from .state import Request, Screen

        session = self.visit.session
        if session is None:
            return []
        if screen is Screen.STAFF_AUDIT:
            self.visit.staff_audit = self.visit.staff_audit.again()
            return [Request("staff-audit-log", session.id)]
        if screen is Screen.STAFF_CALLS:
            self.visit.staff_calls = self.visit.staff_calls.again()
            return [Request("staff-calls", session.id)]
        return []

    def _on_calls(self) -> None:
        """An answer with the open calls arrived: their waits count from now."""
        self.visit.staff_calls_at = self._clock()

    def handle_call(self, call: str) -> list[Request]:
        """"Afgehandeld" on one of the open calls."""
        from .state import Request, Screen

        self.touched()
        session = self.visit.session
        if session is None or self.screen is not Screen.STAFF_CALLS or not self.staff_active:
            return []
        self.visit.staff_calls = Answer(Status.LOADING, self.visit.staff_calls.value)
        self._changed()
        return [Request("staff-call-handled", session.id, call=call)]

    def _staff_keepalive(self) -> list[Request]:
        """Tell the agent staff mode is in use, when it was touched since it was last told (tick)."""
        from .state import Request

        session = self.visit.session
        now = self._clock()
        if (session is None or not self.staff_active or self._last_touch <= self._staff_told
                or now - self._staff_told < STATUS_INTERVAL_S):
            return []
        self._staff_told = now
        return [Request("staff-status", session.id)]
