"""The attract loop's stage: the next item made ready while the current one shows, then swapped in one frame.

Signage users ask first for "no black frame between items": a player that
sets the next image's ``source`` or opens the next video only when the
current item ends shows the background until the file is decoded (a PNG of
1280x720 takes tens of milliseconds, a video's first frame longer). The
stage never does that. :meth:`AttractStage.prepare` starts readying an item
while another shows, and :meth:`AttractStage.show` swaps to it only once it
is ready; the swap changes the visible widget in one call, so the frame that
stops drawing the old item is the frame that draws the new one (for a
video, the old item stays drawn under it until the video's next frame has
reached its texture: see :meth:`AttractStage.show`).

What "ready" means:

* an **image**: its file decoded in a worker thread (``attract-image``: Kivy's
  ``ImageLoader``, as ``kivy.loader`` does for ``AsyncImage``) and its
  texture created on the UI thread, in one of the two image widgets (the
  one not showing);
* a **video**: its player (Kivy's ``Video`` on ffpyplayer) opened and a frame
  from its start decoded into its texture. A new player plays hidden until
  its second frame and pauses there (shown at its first, it drew nothing
  until the next one); a player kept from an earlier slot is
  sought to the start while paused (Kivy's ffpyplayer provider decodes the
  frame there) and is ready when that frame arrives. Each video keeps one
  player, loaded once: loading it for every slot made Kivy's ffpyplayer
  provider grow ~1 MB a load (C side), 204 MB -> 249 MB in 30 min on the demo.

An item that cannot be made ready (a file that does not decode, a video that
gives no frame within :data:`READY_TIMEOUT_S`) is reported through
``on_failed`` and never shown; the item showing stays. Hidden widgets have no
size: under software GL every full-size rectangle costs each frame.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.core.image import ImageLoader
from kivy.properties import NumericProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.image import Image
from kivy.uix.video import Video
from kivy.uix.widget import Widget

logger = logging.getLogger(__name__)

#: Seconds an item may take to become ready before it counts as failed (a video that never gives a frame).
READY_TIMEOUT_S = 10.0
#: Seconds the item before a video stays drawn under it at most, waiting for the video's next frame.
HAND_OVER_S = 0.5


class AttractVideo(Video):
    """Kivy's ``Video`` without its attempt to load the video file as a still image first (which fails and
    logs "Image: Error loading" for every video); the frames come from the player (ffpyplayer).
    ``frames`` counts the frames that reached its texture."""

    frames = NumericProperty(0)

    def texture_update(self, *largs) -> None:
        if self.preview:
            super().texture_update(*largs)

    def _on_video_frame(self, *largs) -> None:
        super()._on_video_frame(*largs)
        self.frames += 1


@dataclass(eq=False)
class Prepared:
    """An item being made ready: ``kind`` ("image" or "video"), ``path``, the widget that will show it,
    whether it is ``ready`` or ``failed`` (with ``reason``). ``key`` tells the stage's caller which item it is."""

    kind: str
    path: str
    key: Any = None
    widget: Widget | None = None
    ready: bool = False
    failed: bool = False
    reason: str = ""
    _frames_at: int = -1  # a kept player's frame count when it was sought to its start
    _unbind: list[Callable[[], None]] = field(default_factory=list)


def _decode(path: str) -> Any:
    """The image at ``path`` decoded (no texture yet: textures are made on the UI thread); raises on failure."""
    loaded = ImageLoader.load(path, keep_data=True, nocache=True)
    if loaded is None:
        raise ValueError("no image loader could read it")
    return loaded


class AttractStage(FloatLayout):
    """Two image widgets and one player per video, of which at most one shows at a time.

    :param on_ready: called with a :class:`Prepared` once it is ready (on the UI thread).
    :param on_failed: called with a :class:`Prepared` that cannot be made ready.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.on_ready: Callable[[Prepared], None] | None = None
        self.on_failed: Callable[[Prepared], None] | None = None
        super().__init__(**kwargs)
        self._images = [self._hidden(Image(fit_mode="contain")) for _ in range(2)]
        for image in self._images:
            self.add_widget(image)
        self.players: dict[str, AttractVideo] = {}  # video path -> its player, loaded once
        self._stale: set[str] = set()  # videos whose file may have changed (another pack): opened again
        self._retiring: list[AttractVideo] = []  # stale players still on screen, unloaded once swapped away
        self.shown: Prepared | None = None
        self.pending: Prepared | None = None  # the item being made ready, or ready and waiting to be shown
        self._timeout = None
        self._handing: tuple[Widget, Callable[[], Any]] | None = None  # the item before a video, until it drew

    # ------------------------------------------------------------------ what shows

    @property
    def visible_widget(self) -> Widget | None:
        """The widget showing now, or None (nothing shown yet: the screen's built-in texts show)."""
        return self.shown.widget if self.shown is not None else None

    def ready_to_draw(self) -> bool:
        """Whether the widget showing has a texture (for the frame recorder's cheap check)."""
        widget = self.visible_widget
        return widget is not None and getattr(widget, "texture", None) is not None

    @staticmethod
    def _hidden(widget: Widget) -> Widget:
        widget.opacity = 0
        widget.size_hint = (None, None)
        widget.size = (0, 0)
        return widget

    @staticmethod
    def _visible(widget: Widget) -> None:
        widget.size_hint = (1, 1)
        widget.opacity = 1

    # ------------------------------------------------------------------ making an item ready

    def prepare(self, kind: str, path: str, key: Any = None) -> Prepared:
        """Start making the item ready (an image decoded into the hidden image widget, a video's player at its
        first frame); ``on_ready`` follows, at once when it already is. Replaces an earlier :meth:`prepare`
        not shown yet."""
        if self.pending is not None and (self.pending.kind, self.pending.path) == (kind, path):
            self.pending.key = key
            if self.pending.ready:
                self._ready(self.pending)
            return self.pending
        self.cancel()
        prepared = self.pending = Prepared(kind, path, key)
        self._timeout = Clock.schedule_once(lambda _dt: self._fail(prepared, "not ready in time"), READY_TIMEOUT_S)
        if kind == "image":
            self._prepare_image(prepared)
        else:
            self._prepare_video(prepared)
        return prepared

    def cancel(self) -> None:
        """Forget the item being made ready (a video's player stays loaded, paused)."""
        pending, self.pending = self.pending, None
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None
        if pending is not None:
            for unbind in pending._unbind:
                unbind()
            player = self.players.get(pending.path) if pending.kind == "video" else None
            if player is not None and (self.shown is None or self.shown.widget is not player):
                player.state = "pause"

    def _prepare_image(self, prepared: Prepared) -> None:
        shown = self.visible_widget
        prepared.widget = next(image for image in self._images if image is not shown)

        def work() -> None:
            try:
                decoded = _decode(prepared.path)
            except Exception as exc:  # noqa: BLE001 - Kivy's loaders raise bare Exception for a file they cannot read
                reason = f"cannot decode: {exc}"
                Clock.schedule_once(lambda _dt: self._fail(prepared, reason), 0)
                return
            Clock.schedule_once(lambda _dt: self._image_decoded(prepared, decoded), 0)

        threading.Thread(target=work, name="attract-image", daemon=True).start()

    def _image_decoded(self, prepared: Prepared, decoded: Any) -> None:
        if prepared is not self.pending:
            return
        try:
            texture = CoreImage(decoded).texture  # made here, on the UI thread that owns the GL context
        except Exception as exc:  # noqa: BLE001 - as in _decode: Kivy raises bare Exception
            self._fail(prepared, f"cannot make its texture: {exc}")
            return
        if texture is None:
            self._fail(prepared, "no texture")
            return
        assert isinstance(prepared.widget, Image)
        prepared.widget.texture = texture
        self._ready(prepared)

    def _prepare_video(self, prepared: Prepared) -> None:
        player = self.players.get(prepared.path)
        if player is not None and prepared.path in self._stale:
            # Another pack's file under the same name: a new player, the old one shows until the swap.
            self._stale.discard(prepared.path)
            del self.players[prepared.path]
            self._retiring.append(player)
            player = None
        prepared.widget = player
        if player is not None and self.shown is not None and self.shown.widget is player:
            # The same video again: it is on screen already, and the swap seeks it to its start.
            self._ready(prepared)
            return
        fresh = player is None
        if player is None:
            player = prepared.widget = self.players[prepared.path] = AttractVideo(
                source=prepared.path, state="play", volume=0, options={"eos": "loop"}, fit_mode="contain")
            self._hidden(player)
            self.add_widget(player)
            # Kivy's ffpyplayer provider counts its first frame twice (on_load, on_frame) and draws it into a
            # texture through an Fbo it makes in that same call. Shown at that first frame, the video drew
            # nothing until its next frame (tests/test_kiosk_gapless.py recorded 1-2 background-only frames
            # per new player); from its second decoded frame on it shows. Ready then.
            prepared._frames_at = 2
        elif player.loaded:
            prepared._frames_at = player.frames
            player.state = "pause"
            player.seek(0)  # paused: the provider decodes the frame at the start
        else:
            fresh = True  # opened earlier but never gave a frame (its preparation was cancelled)
            prepared._frames_at = max(player.frames, 2)

        def frame(*_args) -> None:
            if prepared is not self.pending or not player.loaded or player.frames <= prepared._frames_at:
                return
            if fresh:
                player.state = "pause"  # a frame from its start is in the texture: wait there, decoding nothing
            self._ready(prepared)

        player.bind(frames=frame)
        prepared._unbind.append(lambda: player.unbind(frames=frame))
        if player.state != "play" and not player.loaded:
            player.state = "play"

    def _ready(self, prepared: Prepared) -> None:
        if prepared is not self.pending:
            return
        for unbind in prepared._unbind:
            unbind()
        prepared._unbind.clear()
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None
        prepared.ready = True
        if self.on_ready is not None:
            self.on_ready(prepared)

    def _fail(self, prepared: Prepared, reason: str) -> None:
        if prepared is not self.pending:
            return
        self.cancel()
        prepared.failed, prepared.reason = True, reason
        logger.warning("attract %s %s not shown: %s", prepared.kind, Path(prepared.path).name, reason)
        if prepared.kind == "video":
            self._forget(prepared.path)  # a player that gave no frame is opened again next time
        if self.on_failed is not None:
            self.on_failed(prepared)

    # ------------------------------------------------------------------ the swap

    def show(self, prepared: Prepared) -> None:
        """Swap to ``prepared`` (ready): it shows and the item before it is hidden, in this one call (so in
        one frame). A video plays on from its start."""
        if not prepared.ready or prepared.widget is None:
            raise ValueError(f"attract {prepared.kind} {prepared.path} is not ready")
        if prepared is self.pending:
            self.pending = None
        self._hand_over()
        previous = self.visible_widget
        widget = prepared.widget
        self._visible(widget)
        self.shown = prepared
        if isinstance(widget, AttractVideo):
            if id(previous) == id(widget):  # (not `is`: mypy would narrow widget to previous's Optional type)
                widget.seek(0)  # the same video's next slot
            widget.state = "play"
            if previous is not None and id(previous) != id(widget):
                # A video ready at its frame from the start still drew nothing, now and then, in the frame it
                # first showed (recorded: one background-only frame, then its next frame drew). So the item
                # before stays drawn under it until the video's next frame is in its texture.
                self.remove_widget(widget)
                self.add_widget(widget)  # drawn last: over the item before
                frames_at = widget.frames

                def drawn(*_args: Any) -> None:
                    if widget.frames > frames_at:
                        self._hand_over()

                widget.bind(frames=drawn)
                timeout = Clock.schedule_once(lambda _dt: self._hand_over(), HAND_OVER_S)
                self._handing = (previous, lambda: (widget.unbind(frames=drawn), timeout.cancel()))
                return
        self._leave(previous, widget)

    def _hand_over(self) -> None:
        """The video swapped in drew its frame: the item before it is hidden now."""
        handing, self._handing = self._handing, None
        if handing is not None:
            previous, unbind = handing
            unbind()
            self._leave(previous, self.visible_widget)

    def _leave(self, previous: Widget | None, widget: Widget | None) -> None:
        if previous is not None and previous is not widget:
            self._hidden(previous)
            if isinstance(previous, AttractVideo):
                previous.state = "pause"
                if previous in self._retiring:
                    self._retiring.remove(previous)
                    previous.unload()
                    self.remove_widget(previous)

    def clear(self) -> None:
        """Show nothing (the screen's built-in texts): no pack, or nothing scheduled."""
        self.cancel()
        self._hand_over()
        previous = self.visible_widget
        if previous is not None:
            self._hidden(previous)
            if isinstance(previous, AttractVideo):
                previous.state = "pause"
        self.shown = None

    def pause(self) -> None:
        """Another screen is shown: the video showing pauses (its frame stays), nothing is being made ready."""
        self.cancel()
        self._hand_over()
        widget = self.visible_widget
        if isinstance(widget, AttractVideo):
            widget.state = "pause"

    def resume(self) -> None:
        """Bereik is back: the video showing plays on."""
        widget = self.visible_widget
        if isinstance(widget, AttractVideo):
            widget.state = "play"

    # ------------------------------------------------------------------ the videos' players

    @property
    def player(self) -> AttractVideo | None:
        """The player of the video showing, or None."""
        widget = self.visible_widget
        return widget if isinstance(widget, AttractVideo) else None

    def keep_players(self, keep: set[str]) -> None:
        """Unload the players of the videos not in ``keep`` (paths), except the one showing or being made ready
        (it goes once it is no longer needed)."""
        busy = {prepared.path for prepared in (self.shown, self.pending)
                if prepared is not None and prepared.kind == "video"}
        for path in [path for path in self.players if path not in keep and path not in busy]:
            self._forget(path)

    def renew(self) -> None:
        """Another pack came into use: its files may differ under the same names, so the players are opened
        again for it. The one showing stays until it is swapped away; the item being made ready (the new pack's
        first, :meth:`kiosk.screens.bereik.BereikScreen.preload`) is kept."""
        keep = {self.player, self.pending.widget if self.pending is not None else None}
        for path in [path for path, player in self.players.items() if player not in keep]:
            self._forget(path)
        pending = self.pending.widget if self.pending is not None else None
        self._stale = {path for path, player in self.players.items() if player is not pending}

    def unload_players(self) -> None:
        """Unload every player (the app stopping: ffpyplayer's threads would keep the process alive)."""
        self.clear()
        for path in list(self.players):
            self._forget(path)
        for player in self._retiring:
            player.unload()
            self.remove_widget(player)
        self._retiring.clear()

    def _forget(self, path: str) -> None:
        player = self.players.pop(path, None)
        if player is not None:
            player.unload()
            self.remove_widget(player)
