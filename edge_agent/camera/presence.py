"""Presence: is someone in front of the camera, since when, and how many came by.

Two layers:

* :class:`MotionMeter` (OpenCV, NumPy) measures, per frame, the fraction of the
  region of interest that differs from a background model, on a downscaled,
  blurred grey copy. The background is a running average that learns quickly
  (``learn_s``) while nobody is there and slowly (``absorb_s``) while someone
  is, so a person standing still at the kiosk stays foreground for minutes,
  while a moved chair becomes background in the end. Learning everywhere
  while nobody is there (not only at background pixels) lets a "ghost" (the
  place where someone stood when the agent started) fade in ``learn_s``
  instead of holding a presence. A change of most of the region at once (the
  lights) resets the background instead of reporting a crowd.
* :class:`PresenceTracker` (plain Python) turns those fractions into presence
  start and end with hysteresis: present after ``on_frames`` consecutive frames
  at or above ``on_fraction``; absent after ``off_s`` seconds below
  ``off_fraction``. The end carries the dwell time. :class:`FootfallCounter`
  counts presence starts per wall-clock interval.

Nothing here knows who anyone is: a fraction of changed pixels is all that
is measured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .geometry import FULL_FRAME, Polygon, bounding_box, is_full_frame, polygon_mask

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- domain: hysteresis, footfall


@dataclass(frozen=True)
class PresenceChange:
    """A presence start (``ended`` None) or end, in the caller's clock (seconds)."""

    kind: str  # "start" | "end"
    started: float
    ended: float | None = None

    @property
    def dwell_s(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


class PresenceTracker:
    """Hysteresis from per-frame foreground fractions to presence start and end.

    :param on_fraction: a frame counts as "someone there" at or above this fraction.
    :param off_fraction: a frame counts as "nobody there" below this fraction (<= on_fraction).
    :param on_frames: consecutive "someone" frames before presence starts.
    :param off_s: seconds of "nobody" frames (or no frames at all) before presence ends.
    :raises ValueError: for thresholds out of order or non-positive counts.
    """

    def __init__(self, on_fraction: float = 0.01, off_fraction: float = 0.005, on_frames: int = 2,
                 off_s: float = 2.0):
        if not 0 <= off_fraction <= on_fraction <= 1:
            raise ValueError("need 0 <= off_fraction <= on_fraction <= 1")
        if on_frames < 1 or off_s < 0:
            raise ValueError("on_frames must be >= 1 and off_s >= 0")
        self.on_fraction = on_fraction
        self.off_fraction = off_fraction
        self.on_frames = on_frames
        self.off_s = off_s
        self.present = False
        self.since: float | None = None  # start of the current presence
        self._above = 0
        self._first_above: float | None = None
        self._last_seen: float | None = None  # last frame at or above off_fraction while present

    def update(self, t: float, fraction: float) -> PresenceChange | None:
        """Feed one frame's foreground fraction at time ``t``; returns a change or None."""
        if not self.present:
            if fraction >= self.on_fraction:
                if self._above == 0:
                    self._first_above = t
                self._above += 1
                if self._above >= self.on_frames:
                    since = self._first_above
                    assert since is not None, "set by the first frame above"
                    self.present, self.since, self._last_seen = True, since, t
                    self._above = 0
                    return PresenceChange("start", since)
            else:
                self._above = 0
            return None
        if fraction >= self.off_fraction:
            self._last_seen = t
            return None
        return self.tick(t)

    def tick(self, t: float) -> PresenceChange | None:
        """Let time pass without a "someone" frame (also when no frames come): may end presence."""
        if self.present and t - self._times()[1] >= self.off_s:
            return self.end()
        return None

    def end(self) -> PresenceChange | None:
        """End the presence now, at the last time someone was seen (a lost source, a stop)."""
        if not self.present:
            return None
        change = PresenceChange("end", *self._times())
        self.present, self.since, self._last_seen, self._above = False, None, None, 0
        return change

    def _times(self) -> tuple[float, float]:
        """The start and the last sighting of the current presence (both set when it starts)."""
        assert self.since is not None and self._last_seen is not None, "a presence has both times"
        return self.since, self._last_seen


class FootfallCounter:
    """Presence starts counted per wall-clock interval aligned to multiples of ``interval_s``.

    :param interval_s: the interval length (60: per minute, starting at :00).
    :raises ValueError: for a non-positive interval.
    """

    def __init__(self, interval_s: float = 60.0):
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.interval_s = interval_s
        self._start: float | None = None
        self._count = 0

    def _align(self, wall: float) -> float:
        return wall - wall % self.interval_s

    def add(self, wall: float) -> list[tuple[float, float, int]]:
        """Count one arrival at Unix time ``wall``; returns the intervals that closed before it."""
        closed = self.tick(wall)
        if self._start is None:
            self._start = self._align(wall)
        self._count += 1
        return closed

    def tick(self, wall: float) -> list[tuple[float, float, int]]:
        """``(interval_start, interval_s, count)`` of every interval that ended by ``wall``.

        The first interval starts at the first tick; an interval without arrivals is
        reported with count 0 (a camera that works and saw nobody). After a long gap
        (no ticks: the source was down) only the interval in which the gap began is
        reported, not every empty one since.
        """
        current = self._align(wall)
        if self._start is None:
            self._start = current
            return []
        if current <= self._start:
            return []
        closed = [(self._start, self.interval_s, self._count)]
        self._start, self._count = current, 0
        return closed


# --------------------------------------------------------------------------- OpenCV: foreground fraction


class MotionMeter:
    """Fraction of a region that differs from a learned background.

    :param region: the region of interest, normalised polygon (default: the whole frame).
    :param width: analysis width in pixels; frames are downscaled to it (keeping the aspect).
    :param pixel_threshold: grey-level difference (0..255) at which a pixel is foreground.
    :param learn_s: time constant of the background while nobody is there.
    :param absorb_s: time constant while someone is: something that stays still this long fades into
        the background.
    :param reset_fraction: a change of at least this fraction of the region at once is a lighting
        change: the background is reset to the frame and the frame reports 0.
    """

    def __init__(self, region: Polygon = FULL_FRAME, width: int = 160, pixel_threshold: int = 25,
                 learn_s: float = 2.0, absorb_s: float = 120.0, reset_fraction: float = 0.8):
        if width < 16 or not 0 < pixel_threshold < 256 or learn_s <= 0 or absorb_s <= 0:
            raise ValueError("need width >= 16, 0 < pixel_threshold < 256, learn_s > 0, absorb_s > 0")
        self.region = region
        self.width = width
        self.pixel_threshold = pixel_threshold
        self.learn_s = learn_s
        self.absorb_s = absorb_s
        self.reset_fraction = reset_fraction
        self._shape: tuple[int, int] | None = None
        self._crop: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._size: tuple[int, int] = (0, 0)
        self._mask: np.ndarray | None = None
        self._area = 1
        self._background: np.ndarray | None = None
        self._last_t: float | None = None
        self.resets = 0

    def reset(self) -> None:
        """Forget the background (a new source, a camera that moved)."""
        self._background = None
        self._last_t = None

    def _setup(self, height: int, width: int) -> None:
        import numpy as np

        self._shape = (height, width)
        self._crop = bounding_box(self.region, width, height)
        x0, y0, x1, y1 = self._crop
        scale = min(1.0, self.width / max(1, x1 - x0))
        self._size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        if is_full_frame(self.region):
            self._mask = None
            self._area = self._size[0] * self._size[1]
        else:
            full = polygon_mask([self.region], width, height)[y0:y1, x0:x1]
            import cv2

            self._mask = cv2.resize(full, self._size, interpolation=cv2.INTER_NEAREST)
            self._area = max(1, int(np.count_nonzero(self._mask)))
        self.reset()

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """The downscaled, blurred grey region of ``frame`` (BGR or grey), as the meter compares it."""
        import cv2

        height, width = frame.shape[:2]
        if self._shape != (height, width):
            self._setup(height, width)
        x0, y0, x1, y1 = self._crop
        region = frame[y0:y1, x0:x1]
        small = cv2.resize(region, self._size, interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(small, (5, 5), 0)

    def measure(self, frame: np.ndarray, t: float, present: bool = False) -> float:
        """The foreground fraction of ``frame`` at time ``t``, and learn from it.

        :param present: whether someone is there now (slows learning down to ``absorb_s``).
        """
        import cv2
        import numpy as np

        small = self.prepare(frame)
        if self._background is None:
            self._background = small.astype(np.float32)
            self._last_t = t
            return 0.0
        background_u8 = cv2.convertScaleAbs(self._background)
        diff = cv2.absdiff(small, background_u8)
        _, foreground = cv2.threshold(diff, self.pixel_threshold, 255, cv2.THRESH_BINARY)
        if self._mask is not None:
            foreground = cv2.bitwise_and(foreground, self._mask)
        fraction = cv2.countNonZero(foreground) / self._area
        dt = max(0.0, t - self._last_t) if self._last_t is not None else 0.0
        self._last_t = t
        if fraction >= self.reset_fraction:
            self.resets += 1
            logger.debug("most of the region changed at once (%.0f%%): background reset", fraction * 100)
            self._background = small.astype(np.float32)
            return 0.0
        # Someone there: everything learns at absorb_s, so a person standing still is not learned
        # away from the edges inwards. Nobody there: everything learns at learn_s; the frame or two
        # before a presence starts leave a trace of a few percent at most.
        alpha = min(1.0, dt / (self.absorb_s if present else self.learn_s))
        if alpha > 0:
            cv2.accumulateWeighted(small, self._background, alpha)
        return fraction
