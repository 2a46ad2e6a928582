"""The device checks screen in staff mode, as a part of the state machine (:class:`kiosk.state.KioskState`
mixes it in). No Kivy, no MQTT.

The kiosk is a view: every figure comes from the agent's ``device-checks`` answer
(:class:`edge_agent.contract.payloads_device_checks.DeviceChecksReport`), asked for every
:data:`POLL_S` while the screen is shown (:meth:`DeviceChecksMixin.checks_poll`, one request at a time).
Staff may arm the reader test ("tap a card to test the reader"); managers may send a test event upstream
and restart the kiosk app. Whether they may is the agent's to say (it refuses the staff role and audits
it): the screen only hides the managers' buttons from staff. The restart is carried out once the agent has
agreed: the app exits with the code in its answer, which the kiosk's unit restarts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_agent.contract import StaffRole

from .visit import Answer, Mode, Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from .state import Request, Screen
    from .visit import Visit

POLL_S = 1.0  # the figures are asked for this often while the checks screen is shown


class DeviceChecksMixin:
    """The checks part of :class:`kiosk.state.KioskState` (it provides what is declared here)."""

    visit: Visit
    screen: Screen
    _clock: Callable[[], float]
    _checks_asked: float = -POLL_S  # kiosk clock of the last device-checks request

    if TYPE_CHECKING:
        def _changed(self) -> None: ...
        def touched(self) -> None: ...

        @property
        def mode(self) -> Mode: ...

        @property
        def staff_active(self) -> bool: ...

    def _checks_session(self) -> str | None:
        """The session, while it is in staff mode on the checks screen."""
        from .state import Screen

        session = self.visit.session
        if (session is None or self.mode is not Mode.STAFF or not self.staff_active
                or self.screen is not Screen.STAFF_CHECKS):
            return None
        return session.id

    @property
    def checks_manager(self) -> bool:
        """Whether the staff member was granted the manager role (the screen shows the managers' buttons)."""
        view = self.visit.staff_mode
        return self.staff_active and view is not None and view.role is StaffRole.MANAGER

    def checks_poll(self) -> list[Request]:
        """Ask for the figures again (the screen calls it every :data:`POLL_S` while shown); none while an
        earlier request is unanswered, unless it is older than the bridge's own time-out would let it be."""
        from .state import Request

        session = self._checks_session()
        now = self._clock()
        if session is None or (self.visit.device_checks.status is Status.LOADING and now - self._checks_asked < 10):
            return []
        self._checks_asked = now
        self.visit.device_checks = self.visit.device_checks.again()
        return [Request("device-checks", session)]

    def arm_reader_test(self) -> list[Request]:
        """"Test de kaartlezer": the next card tapped is a test (its result comes with the figures)."""
        from .state import Request

        self.touched()
        session = self._checks_session()
        if session is None or self.visit.reader_test.status is Status.SENDING:
            return []
        self.visit.reader_test = Answer(Status.SENDING)
        self._changed()
        return [Request("reader-test", session)]

    def send_test_event(self) -> list[Request]:
        """Managers: "Testbericht versturen" (when it reached the broker comes with the figures)."""
        return self._manager_action("test_event", "test-event")

    def restart_kiosk(self) -> list[Request]:
        """Managers: "Kiosk herstarten"; the app exits once the agent agrees (:attr:`restart_exit_code`)."""
        return self._manager_action("kiosk_restart", "restart-kiosk")

    def _manager_action(self, answer: str, command: str) -> list[Request]:
        """Send ``command`` (a manager's) once at a time, its answer going to the visit's ``answer``."""
        from .state import Request

        self.touched()
        session = self._checks_session()
        if session is None or not self.checks_manager or getattr(self.visit, answer).status is Status.SENDING:
            return []
        setattr(self.visit, answer, Answer(Status.SENDING))
        self._changed()
        return [Request(command, session)]

    @property
    def restart_exit_code(self) -> int | None:
        """The exit code the agent agreed the kiosk restarts with, or None."""
        answer = self.visit.kiosk_restart
        return answer.value.exit_code if answer.status is Status.SENT and answer.value is not None else None
