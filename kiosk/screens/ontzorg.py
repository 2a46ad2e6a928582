"""Ontzorg: the customer's orders with their pick-up status and place, and the instruction videos.

The orders come from the agent's ``account`` answer (the kiosk keeps none);
the videos from the content pack, the ones for what the customer bought
first. A video plays in :class:`InstructionPlayer`: Kivy's ``Video`` widget on
its ffpyplayer provider, with play/pause, ten seconds back and forward, a seek
bar and "Opnieuw". The player is loaded only while the visit's ``video``
(:class:`kiosk.visit.Visit`) names one and Ontzorg is shown; leaving, closing or a wipe unloads it.
While it plays, the app keeps the session alive (see ``KioskApp._tick``).
"""

from __future__ import annotations

import logging

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.slider import Slider

from ..widgets import KioskButton, Panel, RebuiltList, TextBlock
from . import KioskScreen
from .bereik import AttractVideo

logger = logging.getLogger(__name__)

SKIP_S = 10.0


class InstructionVideo(AttractVideo):
    """The player's video: Kivy's ``Video`` on ffpyplayer, without the still-image attempt that logs an error."""


class SeekBar(Slider):
    """The player's position; tapping or dragging it seeks (``on_seek`` with the fraction under the finger, so
    the playing video moving the bar meanwhile cannot undo the touch). A touch target like the buttons."""

    target = StringProperty("")
    __events__ = ("on_seek",)

    def on_touch_down(self, touch) -> bool:
        if self.disabled or not self.collide_point(*touch.pos):
            return False
        touch.grab(self)
        self.dispatch("on_seek", self._fraction(touch))
        return True

    def on_touch_move(self, touch) -> bool:
        if touch.grab_current is not self:
            return False
        self.dispatch("on_seek", self._fraction(touch))
        return True

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is not self:
            return False
        touch.ungrab(self)
        return True

    def _fraction(self, touch) -> float:
        inner = max(1.0, self.width - 2 * self.padding)
        return min(1.0, max(0.0, (touch.x - self.x - self.padding) / inner))

    def on_seek(self, fraction: float) -> None:
        """A shopper moved the bar to ``fraction`` (0..1) of the video."""


class InstructionPlayer(BoxLayout):
    """The video and its controls (``ontzorg.kv``)."""

    source = StringProperty("")
    title = StringProperty("")
    position = NumericProperty(0.0)
    duration = NumericProperty(0.0)
    state = StringProperty("stop")  # play | pause | stop, as Kivy's Video
    seeking = BooleanProperty(False)

    def on_state(self, *_args) -> None:
        self._report()

    def on_duration(self, *_args) -> None:
        self._report()

    @staticmethod
    def _report() -> None:
        app = App.get_running_app()
        if app is not None:
            app.request_status()

    def load(self, source: str, title: str) -> None:
        """Start playing ``source`` from the beginning."""
        video = self.ids.video
        self.title = title
        if video.source != source:
            video.state = "stop"
            video.source = source
        video.state = "play"

    def unload(self) -> None:
        video = self.ids.video
        video.state = "stop"
        video.source = ""  # frees the decoder: nothing keeps playing behind another screen
        self.title, self.position, self.duration = "", 0.0, 0.0

    def toggle(self) -> None:
        video = self.ids.video
        video.state = "pause" if video.state == "play" else "play"

    def skip(self, seconds: float) -> None:
        video = self.ids.video
        if video.duration and video.duration > 0:
            target = min(max(0.0, video.position + seconds), max(0.0, video.duration - 0.5))
            video.seek(target / video.duration, precise=True)
            self.position = target
            self._report()

    def seek_to(self, fraction: float) -> None:
        video = self.ids.video
        if video.duration and video.duration > 0:
            fraction = min(max(0.0, fraction), 0.98)
            video.seek(fraction, precise=True)
            self.position = fraction * video.duration
            self._report()
            if video.state == "stop":
                video.state = "play"

    def replay(self) -> None:
        """From the beginning (also after the end, when the video stopped)."""
        video = self.ids.video
        if video.state == "stop":
            video.state = "play"
        else:
            video.seek(0, precise=True)
            video.state = "play"
        self.position = 0.0

    def status(self) -> dict:
        video = self.ids.video
        return {"source": video.source, "state": video.state, "position": round(float(video.position or 0), 2),
                "duration": round(float(video.duration or 0), 2), "loaded": bool(video.loaded)}


class OrderList(RebuiltList):
    """One panel per order of the agent's ``account`` answer."""

    account = ObjectProperty(None, allownone=True)
    watched = ("account",)

    def refresh(self) -> None:
        self.clear_widgets()
        app = App.get_running_app()
        if app is None:
            return
        for order in app.words.orders(self.account, self.language, app.tz):
            panel = Panel()
            panel.add_widget(TextBlock(role="heading", text=f"{order['title']}: {order['status']}"))
            for key in ("place", "when", "items"):
                if order[key]:
                    panel.add_widget(TextBlock(text=order[key], role="small" if key == "items" else "body"))
            self.add_widget(panel)


class VideoList(RebuiltList):
    """A button per instruction video, the customer's first."""

    instructions = ObjectProperty((), allownone=True)
    watched = ("instructions",)

    def refresh(self) -> None:
        self.clear_widgets()
        app = App.get_running_app()
        if app is None:
            return
        for instruction in self.instructions or ():
            button = KioskButton(target=f"video-{instruction.id}", kind="secondary",
                                 text=instruction.title.text(self.language))
            button.bind(on_release=lambda _b, name=instruction.id: app.play(name))
            self.add_widget(button)


class OntzorgScreen(KioskScreen):
    """Ontzorg."""

    video = StringProperty("")  # app.video: the instruction being played, or "" (the kv rule turns None into "")

    def on_video(self, *_args) -> None:
        Clock.schedule_once(self._apply_video, 0)

    def on_pre_enter(self, *args) -> None:
        self._apply_video()

    def on_leave(self, *args) -> None:
        self.ids.player.unload()

    def _apply_video(self, *_args) -> None:
        app = App.get_running_app()
        player = self.ids.player
        if app is None or not self.video:
            player.unload()
            return
        instruction = app.content.current.instruction(self.video)
        if instruction is None:
            logger.warning("instruction video %s is not in the content pack", self.video)
            player.unload()
            return
        player.load(str(instruction.video), instruction.title.text(app.lang))
