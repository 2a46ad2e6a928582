"""The one-time code for the store console, on the staff home, as a part of the state machine
(:class:`kiosk.state.KioskState` mixes it in). No Kivy, no MQTT.

"Code voor de telefoon" asks the agent for a code (``staff-console-code``); the agent offers the console only
its verifier and answers the kiosk with the code and until when it is valid
(:class:`edge_agent.contract.ConsoleCodeResult`). The staff home shows the code until then; the code is part of
the visit, so it goes with staff mode (Klaar, idle, a card tap wipe the visit). It is never logged: a request
for it carries the session only, and the answer's value is kept in the visit alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .visit import Mode, Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from .state import Request, Screen
    from .visit import Visit


class ConsoleCodeMixin:
    """The console code part of :class:`kiosk.state.KioskState` (it provides what is declared here)."""

    visit: Visit
    screen: Screen

    if TYPE_CHECKING:
        def _changed(self) -> None: ...
        def touched(self) -> None: ...

        @property
        def mode(self) -> Mode: ...

        @property
        def staff_active(self) -> bool: ...

    def console_code_request(self) -> list[Request]:
        """"Code voor de telefoon": ask the agent for a new code (not while one is being asked)."""
        from .state import Request

        self.touched()
        session = self.visit.session
        if (session is None or self.mode is not Mode.STAFF or not self.staff_active
                or self.visit.console_code.status is Status.LOADING):
            return []
        self.visit.console_code = self.visit.console_code.again()
        self._changed()
        return [Request("staff-console-code", session.id)]


def console_code_shown(answer_value: object, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    """The code as the staff home shows it (two groups of four digits), or "" when there is none or it expired."""
    from edge_agent.contract import ConsoleCodeResult

    if not isinstance(answer_value, ConsoleCodeResult) or answer_value.valid_until <= now():
        return ""
    code = answer_value.code
    return f"{code[:4]} {code[4:]}"
