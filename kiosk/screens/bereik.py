"""Bereik: the attract loop, from the content folder's slides or built-in texts.

It cycles only while shown, so a kiosk in use spends nothing on it; a
session wakes the kiosk from it (the state machine switches screens).
"""

from __future__ import annotations

import logging

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import NumericProperty, StringProperty

from ..state import N_
from . import KioskScreen

logger = logging.getLogger(__name__)

# The built-in attract, shown without content: one line at a time.
TAGLINES = (
    N_("Zie uw punten, uw voordelen en uw bestellingen."),
    N_("Nieuw hier? Vraag naar onze klantenpas en spaar voor korting."),
    N_("U bepaalt zelf wat we van u weten: kijk bij Mijn gegevens."),
)
TAGLINE_SECONDS = 6.0


class BereikScreen(KioskScreen):
    """The attract screen."""

    slide_source = StringProperty("")
    slide_caption = StringProperty("")
    tagline = StringProperty(TAGLINES[0])
    index = NumericProperty(0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._event = None

    def on_pre_enter(self, *args) -> None:
        self.index = 0
        self._show()

    def on_leave(self, *args) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def _show(self) -> None:
        app = App.get_running_app()
        slides = app.slides if app else []
        if slides:
            slide = slides[self.index % len(slides)]
            self.slide_source = str(slide.image)
            self.slide_caption = slide.caption.text(app.lang) if slide.caption else ""
            seconds = slide.seconds
        else:
            self.slide_source, self.slide_caption = "", ""
            self.tagline = TAGLINES[self.index % len(TAGLINES)]
            seconds = TAGLINE_SECONDS
        if self._event is not None:
            self._event.cancel()
        self._event = Clock.schedule_once(self._next, seconds)
        if app is not None:
            app.request_status()

    def _next(self, _dt) -> None:
        self.index += 1
        self._show()
