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

No frame shows only the background (:mod:`kiosk.attract_stage`): as soon as
an item shows, the next one is made ready (image decoded into its texture,
video at its first frame); when the item's time is up the next one is swapped
in if it is ready, else the current one stays until it is. The caption and
the item's kind change in the same call as the picture, so they show in the
same frame. A new pack (:meth:`BereikScreen.preload`) has its first item made
ready while the old pack's item shows, and the app takes the pack into use
only then: the swap to it is one frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import NumericProperty, ObjectProperty, StringProperty

from ..attract_stage import AttractStage, AttractVideo, Prepared
from ..content import AttractItem, ContentPack
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
#: Seconds after a swap before the next item is made ready (items show for 2 s at least).
AHEAD_S = 0.25


class BereikScreen(KioskScreen):
    """The attract screen."""

    slide_source = StringProperty("")  # the image shown, or ""
    video_source = StringProperty("")  # the video playing (muted, looping), or ""
    caption = ObjectProperty(None, allownone=True)  # the item's kiosk.content.Localized caption
    item_kind = StringProperty("")  # "image", "video", or "" for the built-in texts
    item_path = StringProperty("")  # the item's path inside the pack, e.g. "videos/gazon-bemesten.mp4"
    tagline = StringProperty(TAGLINES[0])
    index = NumericProperty(0)
    shows = NumericProperty(0)  # items swapped in so far (the frame recorder marks the frame of each)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._event = None  # the end of the item showing (or of the tagline)
        self._ahead = None  # making the next item ready, just after a swap
        self._wanted: tuple[str, str] | None = None  # (kind, path) to swap in as soon as it is ready
        self._wanted_item: AttractItem | None = None
        self._reported_second = -1
        self._revision = None  # the content pack revision the stage's players were opened for
        self._failed: set[str] = set()  # media of this pack that could not be made ready: skipped
        self._preload: tuple[Prepared, Callable[[bool, str], None]] | None = None  # a new pack's first item
        self.stage: AttractStage = self.ids.stage
        self.stage.on_ready = self._on_ready
        self.stage.on_failed = self._on_failed
        self._watched: set[int] = set()  # the players whose position the status file follows

    @property
    def player(self) -> AttractVideo | None:
        """The player of the video shown now, or None."""
        return self.stage.player

    @property
    def _players(self) -> dict[str, AttractVideo]:
        return self.stage.players

    def on_pre_enter(self, *args) -> None:
        self.index = 0
        self.stage.resume()
        self._want()

    def on_leave(self, *args) -> None:
        app = App.get_running_app()
        if app is not None:
            app.usage.play_stopped()  # the item shown ends with the loop (kiosk.usage_report)
        self._cancel_ahead()
        if self._preload is not None:  # a new pack's first item is not needed now: the pack is taken into use
            then = self._preload[1]
            self._preload = None
            then(True, "")
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self._wanted = self._wanted_item = None
        self.video_source = ""
        self.stage.pause()  # paused: nothing decodes behind another screen

    # ------------------------------------------------------------------ the loop

    def _items(self, pack: ContentPack | None = None) -> list[AttractItem]:
        app = App.get_running_app()
        if app is None:
            return []
        pack = pack if pack is not None else app.content.current
        return [item for item in pack.attract(datetime.now(app.tz)) if str(item.path) not in self._failed]

    def _want(self) -> None:
        """Show the item at ``index`` as soon as it is ready (at once when it is); the one showing stays till then.
        While a new pack's first item is made ready (:meth:`preload`), nothing: the pack comes first."""
        if self._preload is not None:
            return
        app = App.get_running_app()
        if app is not None and app.content.revision != self._revision:
            self._revision = app.content.revision
            self._failed.clear()
            self.stage.renew()  # a new pack may bring another file under the same name
        items = self._items()
        self._cancel_ahead()
        if self._event is not None:
            self._event.cancel()
            self._event = None
        if not items:
            self._wanted = self._wanted_item = None
            self.stage.clear()
            self._present(None)
            self.tagline = TAGLINES[self.index % len(TAGLINES)]
            self._event = Clock.schedule_once(self._next, TAGLINE_SECONDS)
            return
        item = items[self.index % len(items)]
        self.stage.keep_players({str(each.path) for each in items if each.kind == "video"})
        self._wanted, self._wanted_item = (item.kind, str(item.path)), item
        self.stage.prepare(item.kind, str(item.path), key=item)  # on_ready swaps it in, now if it is ready

    def _next(self, _dt) -> None:
        self.index += 1
        self._want()

    def _on_ready(self, prepared: Prepared) -> None:
        if self._preload is not None and prepared is self._preload[0]:
            then = self._preload[1]
            self._preload = None
            then(True, "")  # the app takes the pack into use, and _want() swaps to this item
            return
        if self._wanted != (prepared.kind, prepared.path) or self._wanted_item is None:
            return  # made ready ahead of time: it shows when the current item's time is up
        item = self._wanted_item
        self._wanted = self._wanted_item = None
        self.stage.show(prepared)
        player = self.player
        if player is not None and id(player) not in self._watched:
            self._watched.add(id(player))
            player.bind(position=self._on_position)
        self._present(item)
        self._event = Clock.schedule_once(self._next, item.seconds)
        # The next item is made ready a moment later, not in this frame: opening a new video's player (Kivy opens
        # ffpyplayer's MediaPlayer on the UI thread, before the next frame) would lengthen the swap's own frame.
        self._ahead = Clock.schedule_once(self._prepare_following, AHEAD_S)

    def _prepare_following(self, _dt) -> None:
        self._ahead = None
        upcoming, shown = self._items(), self.stage.shown
        if upcoming and shown is not None:  # made ready now, while the item shows for its seconds
            following = upcoming[(self.index + 1) % len(upcoming)]
            if (following.kind, str(following.path)) != (shown.kind, shown.path):
                self.stage.prepare(following.kind, str(following.path), key=following)

    def _cancel_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None

    def _on_failed(self, prepared: Prepared) -> None:
        if self._preload is not None and prepared is self._preload[0]:
            then = self._preload[1]
            self._preload = None
            then(False, f"{Path(prepared.path).name}: {prepared.reason}")
            self._next(0)  # the pack in use loops on (its item showing stays until the next one is ready)
            return
        self._failed.add(prepared.path)
        if self._wanted == (prepared.kind, prepared.path):
            self._want()  # the same index now names the next item (the failed one is skipped)

    def _present(self, item: AttractItem | None) -> None:
        """The item's kind, path and caption, set with the swap (so they show in its frame)."""
        app = App.get_running_app()
        if item is None:
            self.item_kind = self.item_path = self.slide_source = self.video_source = ""
            self.caption = None
        else:
            folder = app.content.current.folder if app is not None else None
            self.item_kind = item.kind
            self.item_path = (item.path.relative_to(folder.resolve()).as_posix()
                              if folder is not None and item.path.is_relative_to(folder.resolve()) else item.path.name)
            self.slide_source = str(item.path) if item.kind == "image" else ""
            self.video_source = str(item.path) if item.kind == "video" else ""
            self.caption = item.caption
            self.shows += 1
        if app is not None:
            # Proof of play (kiosk.usage_report): this item came up (in this frame), the one before it ended.
            pack = app.content.current
            app.usage.play_started(item.id or None if item is not None else None, self.item_kind or "text",
                                   f"{pack.name} {pack.version}".strip() or None if item is not None else None)
            app.request_status()

    # ------------------------------------------------------------------ a new pack

    def preload(self, pack: ContentPack, then: Callable[[bool, str], None]) -> None:
        """Make ``pack``'s first attract item ready while the current one shows, then call ``then(ok, reason)``
        (``ok`` False with the reason when it cannot be made ready); at once when Bereik is not shown or the pack
        has nothing to show now. ``then`` takes the pack into use; :meth:`on_pre_enter` then swaps to the item."""
        if self.manager is None or self.manager.current_screen is not self or not pack:
            then(True, "")
            return
        app = App.get_running_app()
        items = pack.attract(datetime.now(app.tz)) if app is not None else []
        if not items:
            then(True, "")
            return
        self._cancel_ahead()
        if self._event is not None:  # the current item stays until the new pack's is ready
            self._event.cancel()
            self._event = None
        self._wanted = self._wanted_item = None
        item = items[0]
        self._preload = (self.stage.prepare(item.kind, str(item.path), key=item), then)
        if self._preload is not None and self._preload[0].ready:
            self._on_ready(self._preload[0])

    # ------------------------------------------------------------------ the videos' players

    def unload_players(self) -> None:
        """Unload every video's player (the app stopping: ffpyplayer's threads would keep the process alive)."""
        self.stage.unload_players()

    def _on_position(self, player: AttractVideo, _value) -> None:
        if player is self.player:
            self.on_video_progress()

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
        it is loaded, its position and duration (seconds), how many videos' players are kept loaded, how many
        items were swapped in (``shows``) and whether the next one is ready (``next_ready``). ``items`` are the
        ids scheduled now, those that could not be made ready (and are skipped) included."""
        player = self.player
        pending = self.stage.pending
        app = App.get_running_app()
        scheduled = app.content.current.attract(datetime.now(app.tz)) if app is not None else []
        return {"kind": self.item_kind, "path": self.item_path, "items": [item.id for item in scheduled],
                "loaded": player.loaded if player is not None else False,
                "position": round(player.position, 2) if player is not None else 0.0,
                "duration": round(player.duration, 2) if player is not None else 0.0,
                "players": len(self._players), "shows": self.shows,
                "next_ready": bool(pending is not None and pending.ready)}
