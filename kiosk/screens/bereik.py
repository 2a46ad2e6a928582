"""Bereik: the attract loop, from the content pack's scheduled images and videos, or built-in texts.

Each step shows one of the pack's attract items scheduled for now
(:meth:`kiosk.content.ContentPack.attract`, asked again at every step, so a
schedule or a new pack takes effect at the next one). Images show for their
``seconds``; videos play muted and looping for theirs, from the start, in
Kivy's ``Video`` widget (ffpyplayer). Nothing plays or cycles unless Bereik is
shown. Without a pack, or with nothing scheduled, the screen cycles its
built-in taglines. Presence (the camera sees someone) changes the texts, not
the loop; a session wakes the kiosk from it (the state machine switches
screens).

Each attract video keeps one player, loaded once and paused between its slots
(a paused ffpyplayer thread waits without using the CPU); the players are
unloaded when the pack no longer schedules their video, when another pack comes
into use, and when the app stops. Loading a video again for every slot
made the kiosk grow ~1 MB per load in Kivy's ffpyplayer provider (C side):
on the demo pack 204 MB -> 249 MB in 30 min, still growing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._event = None
        self._reported_second = -1
        self._players: dict[str, AttractVideo] = {}  # video path -> its player, loaded once
        self._players_revision = None  # the content pack revision the players were loaded from

    @property
    def player(self) -> AttractVideo | None:
        """The player of the video shown now, or None."""
        return self._players.get(self.video_source) if self.video_source else None

    def on_pre_enter(self, *args) -> None:
        self.index = 0
        self._show()

    def on_leave(self, *args) -> None:
        app = App.get_running_app()
        if app is not None:
            app.usage.play_stopped()  # the item shown ends with the loop (kiosk.usage_report)
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self.video_source = ""
        self._play("")  # paused: nothing decodes behind another screen

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
            usage_item: str | None = item.id or None
        else:
            self.item_kind = self.item_path = self.slide_source = self.video_source = ""
            self.caption = None
            self.tagline = TAGLINES[self.index % len(TAGLINES)]
            seconds = TAGLINE_SECONDS
            usage_item = None
        if app is not None and app.content.revision != self._players_revision:
            self._players_revision = app.content.revision
            self.unload_players()  # a new pack may bring another file under the same name
        self._forget_players({str(item.path) for item in items if item.kind == "video"})
        self._play(self.video_source)
        if self._event is not None:
            self._event.cancel()
        self._event = Clock.schedule_once(self._next, seconds)
        if app is not None:
            # Proof of play (kiosk.usage_report): this item came up, the one before it ended.
            pack = app.content.current
            app.usage.play_started(usage_item, self.item_kind or "text",
                                   f"{pack.name} {pack.version}".strip() or None if items else None)
            app.request_status()

    def _next(self, _dt) -> None:
        self.index += 1
        self._show()

    # ------------------------------------------------------------------ the videos' players

    def _play(self, path: str) -> None:
        """Show and play the video at ``path`` from its start (nothing for ""); pause and hide the others."""
        for source, other in self._players.items():
            if source != path:
                other.state = "pause"
                other.size_hint = (None, None)
                other.size = (0, 0)  # no size: nothing of it is drawn
        if not path:
            return
        player = self._players.get(path)
        if player is None:
            player = self._players[path] = AttractVideo(
                source=path, state="play", volume=0, options={"eos": "loop"}, fit_mode="contain",
                pos_hint={"x": 0, "y": 0.22}, opacity=0)
            player.bind(loaded=self._on_player, position=self._on_player)
            layers = self.ids.layers
            layers.add_widget(player, index=len(layers.children) - 1)  # drawn right after the image
        else:
            player.state = "play"
            if player.loaded:
                player.seek(0)  # each slot from the start
        player.size_hint = (1, 0.78)
        player.opacity = 1 if player.loaded else 0

    def _on_player(self, player: AttractVideo, _value) -> None:
        if player is self.player:
            player.opacity = 1 if player.loaded else 0
            self.on_video_progress()

    def unload_players(self) -> None:
        """Unload every video's player (a new pack; the app stopping: ffpyplayer's threads would keep the
        process alive)."""
        self._forget_players(set())

    def _forget_players(self, keep: set[str]) -> None:
        """Unload the players of the videos not in ``keep`` (paths)."""
        for path in [path for path in self._players if path not in keep]:
            player = self._players.pop(path)
            player.unload()
            self.ids.layers.remove_widget(player)

    def on_video_progress(self) -> None:
        """The video loaded or played on: the status file says so once a second."""
        player = self.player
        second = int(player.position) if player is not None and player.loaded else -1
        if second != self._reported_second:
            self._reported_second = second
            app = App.get_running_app()
            if app is not None:
                app.request_status()

    def report(self) -> dict:
        """What the loop shows, for the status file: kind and pack path of the item, for a video whether
        it is loaded, its position and duration (seconds), and how many videos' players are kept loaded."""
        player = self.player
        app = App.get_running_app()
        items = [item.id for item in app.content.current.attract(datetime.now(app.tz))] if app is not None else []
        return {"kind": self.item_kind, "path": self.item_path, "items": items,
                "loaded": player.loaded if player is not None else False,
                "position": round(player.position, 2) if player is not None else 0.0,
                "duration": round(player.duration, 2) if player is not None else 0.0,
                "players": len(self._players)}
