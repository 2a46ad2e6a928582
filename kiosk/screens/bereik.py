"""Bereik: the attract loop, from the content pack's scheduled images and videos, or built-in texts.

Each step shows one of the pack's attract items scheduled for now
(:meth:`kiosk.content.ContentPack.attract`, asked again at every step, so a
schedule or a new pack takes effect at the next one). Images show for their
``seconds``; videos play muted and looping for theirs, in Kivy's ``Video``
widget (ffpyplayer). Nothing plays or cycles unless Bereik is shown: leaving
unloads the video. Without a pack, or with nothing scheduled, the screen
cycles its built-in taglines. Presence (the camera sees someone) changes the
texts, not the loop; a session wakes the kiosk from it (the state machine
switches screens).
"""

from __future__ import annotations

import logging
from datetime import datetime

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.video import Video

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


class AttractVideo(Video):
    """Kivy's ``Video`` without its attempt to load the video file as a still image first (which fails and
    logs "Image: Error loading" for every video); the frames come from the player (ffpyplayer)."""

    def texture_update(self, *largs) -> None:
        if self.preview:
            super().texture_update(*largs)


class BereikScreen(KioskScreen):
    """The attract screen."""

    slide_source = StringProperty("")  # the image shown, or ""
    video_source = StringProperty("")  # the video playing (muted, looping), or ""
    caption = ObjectProperty(None, allownone=True)  # the item's kiosk.content.Localized caption
    item_kind = StringProperty("")  # "image", "video", or "" for the built-in texts
    item_path = StringProperty("")  # the item's path inside the pack, e.g. "videos/gazon-bemesten.mp4"
    tagline = StringProperty(TAGLINES[0])
    index = NumericProperty(0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._event = None
        self._reported_second = -1

    def on_pre_enter(self, *args) -> None:
        self.index = 0
        self._show()

    def on_leave(self, *args) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self.video_source = ""  # unloads the video: nothing decodes behind another screen

    def _show(self) -> None:
        app = App.get_running_app()
        items = app.content.current.attract(datetime.now(app.tz)) if app is not None else []
        if items:
            item = items[self.index % len(items)]
            pack = app.content.current
            self.item_kind = item.kind
            self.item_path = item.path.relative_to(pack.folder.resolve()).as_posix()
            self.slide_source = str(item.path) if item.kind == "image" else ""
            self.video_source = str(item.path) if item.kind == "video" else ""
            self.caption = item.caption
            seconds = item.seconds
        else:
            self.item_kind = self.item_path = self.slide_source = self.video_source = ""
            self.caption = None
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

    def on_video_progress(self) -> None:
        """The video loaded or played on (``bereik.kv``): the status file says so once a second."""
        second = int(self.ids.video.position) if self.ids.video.loaded else -1
        if second != self._reported_second:
            self._reported_second = second
            app = App.get_running_app()
            if app is not None:
                app.request_status()

    def report(self) -> dict:
        """What the loop shows, for the status file: kind and pack path of the item, and for a video whether
        it is loaded, its position and duration (seconds)."""
        video = self.ids.video
        playing = bool(self.video_source)
        return {"kind": self.item_kind, "path": self.item_path,
                "loaded": video.loaded if playing else False,
                "position": round(video.position, 2) if playing else 0.0,
                "duration": round(video.duration, 2) if playing else 0.0}
