"""A record of every frame the kiosk draws, for tests and ``bench/attract_transitions.py``: its time, and
whether the attract area showed only the background.

With ``--frame-record FILE`` (or ``CS_KIOSK_FRAME_RECORD=FILE``) the app
appends one JSON line per frame drawn::

    {"n": 812, "t": 1764640000.123, "work_ms": 3.1, "read_ms": 0.9, "gap_ms": 16.7, "screen": "bereik",
     "moving": false, "shows": 21, "item": "attract/lente.png", "pack": "test 2", "background_only": false}

The verdict is read back from the frame itself, the honest measure: once
the frame is drawn and before its buffers are swapped (``on_flip``, see
:class:`kiosk.diagnostics.FrameLog`), the pixels of the attract area (the
Bereik screen's stage, where the items and the built-in texts show, above its
bottom box of caption and buttons) are read
with ``glReadPixels`` and compared with the window's clear colour (the
theme's background). ``background_only`` is true when no pixel there differs
from it by more than :data:`TOLERANCE` in any channel; null when Bereik is not
the screen drawn alone (another screen, or a screen transition: its frames
move the area, they do not show it). ``work_ms`` is the frame's time from
the clock's tick (the frame's start, after its sleep) to the end of its
drawing, before the read-back (``read_ms``); with software GL the read waits
for the rasteriser, so its time belongs to the frame too. ``gap_ms`` is the
time since the previous frame drawn; ``shows`` is the Bereik screen's count of
items swapped in, so the first frame with a new value is the transition's.

The lines hold no personal data: screen names, pack paths and numbers.
Lines are written in batches (every :data:`FLUSH_S`) and the file is
flushed when the app stops. Not to be combined with ``--frame-log``: both
observe the same ``on_flip``, and the frame log ends its dispatch.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from kivy.clock import Clock
from kivy.graphics.opengl import GL_PACK_ALIGNMENT, GL_RGB, GL_UNSIGNED_BYTE, glPixelStorei, glReadPixels

from .state import Screen

if TYPE_CHECKING:
    from .app import KioskApp

logger = logging.getLogger(__name__)

#: Largest difference per colour channel (0-255) still counted as the background (rounding of the clear colour).
TOLERANCE = 3
#: Seconds between writes of the buffered lines.
FLUSH_S = 0.5


def background_only(pixels: bytes, width: int, height: int, background: tuple[float, ...]) -> bool:
    """Whether every RGB pixel of ``pixels`` (``width`` x ``height``, rows packed) is ``background`` (RGB(A) in
    0..1) within :data:`TOLERANCE`."""
    array = np.frombuffer(pixels, dtype=np.uint8)[:width * height * 3].reshape(height, width, 3)
    colour = np.array([round(channel * 255) for channel in background[:3]], dtype=np.int16)
    return bool(np.all(np.abs(array.astype(np.int16) - colour) <= TOLERANCE))


class FrameRecorder:
    """Appends a line per frame to ``path`` (see the module docstring).

    :param path: the file to append to.
    :param app: the running kiosk (its window, screens and content).
    """

    def __init__(self, path: Path, app: KioskApp):
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the app's lifetime
        self._app = app
        self._lines: list[str] = []
        self._last_flip: float | None = None
        self._count = 0
        app.window.fbind("on_flip", self._on_flip)
        self._flushing = Clock.schedule_interval(lambda _dt: self.flush(), FLUSH_S)  # no frame is drawn for it

    def region(self) -> tuple[int, int, int, int] | None:
        """The attract area in window pixels (x, y from the bottom, width, height), or None when Bereik is not
        the screen drawn alone."""
        app = self._app
        bereik = app.screens.get(Screen.BEREIK)
        if bereik is None or app.manager.current_screen is not bereik or app.manager.transition.is_active:
            return None
        stage, bottom = bereik.stage, bereik.ids.bottom
        x0, y0 = stage.to_window(stage.x, max(stage.y, bottom.top))  # what the bottom bar covers is not the stage's
        x1, y1 = stage.to_window(stage.right, stage.top)
        width, height = app.window.size
        # Whole pixels inside the area, one in from each edge: an edge on a fraction of a pixel is blended with
        # its neighbour (anti-aliasing) and is neither the area's nor the neighbour's colour.
        left, bottom = max(0, math.ceil(x0) + 1), max(0, math.ceil(y0) + 1)
        right, top = min(int(width), math.floor(x1) - 1), min(int(height), math.floor(y1) - 1)
        if right <= left or top <= bottom:
            return None
        return left, bottom, right - left, top - bottom

    def _on_flip(self, *_args: Any) -> bool:
        drawn = Clock.time()
        work_ms = (drawn - Clock.get_time()) * 1000
        verdict = None
        region = self.region()
        if region is not None:
            x, y, width, height = region
            glPixelStorei(GL_PACK_ALIGNMENT, 1)
            pixels = glReadPixels(x, y, width, height, GL_RGB, GL_UNSIGNED_BYTE)
            verdict = background_only(pixels, width, height, tuple(self._app.window.clearcolor))
        read_done = Clock.time()
        app = self._app
        bereik = app.screens.get(Screen.BEREIK)
        pack = app.content.current
        self._count += 1
        self._lines.append(json.dumps({
            "n": self._count, "t": time.time(), "work_ms": round(work_ms, 3),
            "read_ms": round((read_done - drawn) * 1000, 3),
            "gap_ms": round((drawn - self._last_flip) * 1000, 3) if self._last_flip is not None else None,
            "screen": app.manager.current_screen.name if app.manager.current_screen is not None else None,
            "moving": bool(app.manager.transition.is_active),
            "shows": bereik.shows if bereik is not None else 0,
            "item": bereik.item_path if bereik is not None else "",
            "pack": f"{pack.name} {pack.version}" if pack else "",
            "background_only": verdict}) + "\n")
        self._last_flip = drawn
        return False  # the window swaps the buffers as usual

    def flush(self) -> None:
        """Write the buffered lines."""
        lines, self._lines = self._lines, []
        if not lines:
            return
        try:
            self._file.write("".join(lines))
            self._file.flush()
        except OSError as exc:
            logger.warning("cannot write the frame record: %s", exc)

    def close(self) -> None:
        """Write what is left and close the file."""
        self._flushing.cancel()
        self.flush()
        self._app.window.funbind("on_flip", self._on_flip)
        self._file.close()
