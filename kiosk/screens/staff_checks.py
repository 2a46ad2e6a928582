"""The device checks screen in staff mode (``staff_checks.kv``): the agent's figures, "tap a card to test the
reader", and for managers the test event upstream and the kiosk restart (:mod:`kiosk.device_checks_state`).

While the screen is shown it asks the agent for the figures every second (the agent measures them: the
kiosk is a view). When the agent has agreed to a restart the app stops, and the process exits with the code
of the agent's answer, which the kiosk's unit restarts.
"""

from __future__ import annotations

from kivy.app import App
from kivy.clock import Clock

from ..device_checks_state import POLL_S
from . import KioskScreen


class StaffChecksScreen(KioskScreen):
    """The device checks."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._poll = None
        app = App.get_running_app()
        if app is not None:
            app.fbind("kiosk_restart_status", self._restart)

    def on_pre_enter(self, *_args) -> None:
        app = App.get_running_app()
        app.poll_checks()
        if self._poll is None:
            self._poll = Clock.schedule_interval(lambda _dt: app.poll_checks(), POLL_S)

    def on_leave(self, *_args) -> None:
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None

    def _restart(self, app, status: str) -> None:
        if status == "sent":
            app.restart_now()
