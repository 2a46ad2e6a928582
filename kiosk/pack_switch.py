"""The kiosk's side of a pack switch: the agent's active pack loaded, shown without a gap, and reported.

The agent (``edge_agent.content_delivery``) says which delivered pack to show
in its retained local ``content-active``: ``active`` (pack, release number,
folder), ``previous`` (what it falls back to). When ``active`` names another
pack than the one in use, the kiosk:

1. reads and validates the folder in a worker thread
   (:meth:`kiosk.content.ContentLibrary.read_folder`: :func:`~kiosk.content.load_pack`'s
   checks), so the frames never wait for it;
2. has the attract loop make the new pack's first item ready while the old
   pack's item keeps showing (:meth:`kiosk.screens.bereik.BereikScreen.preload`);
3. takes the pack into use in one UI callback (screens follow ``content_rev``,
   the attract loop swaps to the ready item), so the switch is one frame;
4. answers ``request/content-loaded`` {pack, version, ok: true}.

A pack that fails (the manifest does not validate, the folder holds another
pack, its first attract item cannot be decoded) leaves the old one on screen:
the kiosk logs why and answers ``ok: false`` with the reason (the first
:data:`REASON_CHARS` characters), and the agent makes the previous pack active
again. ``active: null`` means no delivered pack: the kiosk shows the folder
pack of its own configuration (``[content] folder``), as it does in a shop
without central. The retained message comes again on every reconnection:
a pack already in use is not loaded again.

One reading at a time: a switch that arrives while the folder is being read
(the periodic check, or another switch) waits for it, and only the latest
waiting switch is made.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock

from edge_agent.contract.payloads_content_delivery import ContentActivePayload, PackRef

from .content import PackUpdate, apply_overlay
from .state import Screen

if TYPE_CHECKING:
    from .app import KioskApp

logger = logging.getLogger(__name__)

#: The longest reason sent in ``content-loaded`` (the contract's limit).
REASON_CHARS = 1000


class PackSwitch:
    """Follows the agent's ``content-active`` for ``app`` (all on the UI thread, but the reading)."""

    def __init__(self, app: KioskApp):
        self._app = app
        self._waiting: ContentActivePayload | None = None
        self._in_use: tuple[str, int | None, str] | None = None  # the delivered pack shown: (pack, version, path)
        self.last: dict[str, Any] | None = None  # the last outcome, for the status file
        self.latest: ContentActivePayload | None = None  # the last content-active (its staged pack)

    def on_content_active(self, payload: ContentActivePayload) -> None:
        """The agent's retained ``content-active``: switch to its active pack once no reading is under way."""
        self._waiting = payload
        # A staged pack waiting for a manager (the Inhoud screen's approval, kiosk.screens.inhoud): pack15's.
        self.latest = payload
        self._app.screens[Screen.INHOUD].changed()
        self.idle()

    def idle(self) -> None:
        """No reading is under way (any more): make the waiting switch, if any."""
        app = self._app
        if self._waiting is None or app.content_busy:
            return
        payload, self._waiting = self._waiting, None
        active = payload.active
        if active is None:
            configured = app.settings.content.folder
            if self._in_use is None or configured is None:
                return  # the configuration's own pack (or none) is in use already
            self._start(None, Path(configured))
            return
        if (active.pack, active.version, active.path) == self._in_use:
            return  # the retained message again (a reconnection): in use already
        self._start(active, Path(active.path))

    def _start(self, ref: PackRef | None, folder: Path) -> None:
        self._app.content_busy = True
        threading.Thread(target=self._read, args=(ref, folder), name="content-switch", daemon=True).start()

    def _read(self, ref: PackRef | None, folder: Path) -> None:
        update, error = None, None
        try:
            update = self._app.content.read_folder(folder)
        except Exception as exc:  # any failure is the switch's reason; the kiosk stays up
            logger.exception("reading the content pack in %s failed", folder)
            error = f"reading {folder} failed: {exc}"
        Clock.schedule_once(functools.partial(self._read_done, ref, update, error), 0)

    def _read_done(self, ref: PackRef | None, update: PackUpdate | None, error: str | None, _dt: float) -> None:
        app = self._app
        pack = update.reading.pack if update is not None else None
        if update is None or pack is None:
            problems = update.reading.problems if update is not None else []
            self._failed(ref, error or "\n".join(str(problem) for problem in problems) or "not a content pack")
            return
        if ref is not None and pack.name != ref.pack:
            self._failed(ref, f"{ref.path} holds pack {pack.name!r}, not {ref.pack!r}")
            return
        bereik = app.screens[Screen.BEREIK]
        bereik.preload(apply_overlay(pack, app.content.schedule),
                       functools.partial(self._ready, ref, update))

    def _ready(self, ref: PackRef | None, update: PackUpdate, ok: bool, reason: str) -> None:
        if not ok:
            self._failed(ref, reason)
            return
        self._in_use = (ref.pack, ref.version, ref.path) if ref is not None else None
        self._app.take_content(update)  # in use now; a waiting switch starts from there (idle)
        pack = update.reading.pack
        assert pack is not None
        logger.info("content pack %s %s from %s shown", pack.name, pack.version, update.folder)
        if ref is not None:
            self._report(ref, True, None)

    def _failed(self, ref: PackRef | None, reason: str) -> None:
        app = self._app
        current = app.content.current
        logger.error("content pack %s not used (keeping %s): %s",
                     f"{ref.pack} {ref.version} in {ref.path}" if ref is not None else str(app.settings.content.folder),
                     f"{current.name} {current.version}" if current else "the built-in texts", reason)
        app.content_busy = False
        if ref is not None:
            self._report(ref, False, reason)
        self.idle()

    def _report(self, ref: PackRef, ok: bool, reason: str | None) -> None:
        short = reason if reason is None or len(reason) <= REASON_CHARS else reason[:REASON_CHARS - 1] + "…"
        self.last = {"pack": ref.pack, "version": ref.version, "ok": ok, "reason": short}
        self._app.bridge.request_data("content-loaded",
                                      {"pack": ref.pack, "version": ref.version, "ok": ok, "reason": short})
        self._app.request_status()

    def answered(self, ok: bool, data: Any, error: str | None) -> None:
        """The agent's response to ``content-loaded``."""
        if ok:
            logger.info("the agent took the pack switch's outcome (fallback: %s)", getattr(data, "fallback", None))
        else:
            logger.warning("the agent did not take the pack switch's outcome: %s", error)
