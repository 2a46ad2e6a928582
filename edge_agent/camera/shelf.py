"""Smart shelf: zones mapped to GTINs; pickup, putback and out-of-stock.

A zone is a polygon of the camera's view where one product stands (a facing
on a shelf, a display hook), mapped to its GTIN in the configuration. For
each zone and frame two fractions are measured on a downscaled, blurred grey
copy (:class:`ShelfWatcher`, OpenCV):

* ``motion``: how much of the zone changed since the previous frame (a hand in it);
* ``diff``: how much of the zone differs from its *reference*, the zone as it
  looked stocked.

:class:`ZoneTracker` (plain Python) decides only on *settled* frames, after
``settle_frames`` frames without motion, so a hand reaching in is never a
pickup by itself:

* stocked, and the settled zone differs from the reference by ``lift_fraction``
  or more: the product was lifted out: **pickup** (the kiosk shows that product:
  lift-and-learn);
* lifted, and the zone is back within ``return_fraction``: **putback**;
* lifted and still different after ``empty_after_s``: **out-of-stock** (an alert for staff);
* out of stock, and the zone is back within ``return_fraction``: **restocked**.

The reference is learned from the first settled view after start (the shelf
is assumed stocked then; :meth:`ShelfWatcher.relearn` learns it again), and
follows slow lighting drift while the zone is stocked and still. It lives in
memory only, like every frame.

Known limit: someone standing still in front of a zone for ``settle_frames``
looks like a missing product; mount the camera above the shelf edge.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .geometry import Polygon, bounding_box, polygon_mask

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

# ZoneTracker states
LEARNING = "learning"
STOCKED = "stocked"
LIFTED = "lifted"
EMPTY = "empty"


@dataclass(frozen=True)
class Zone:
    """A shelf zone: a name, the product's GTIN-14 and where it is in the view (normalised)."""

    name: str
    gtin: str
    polygon: Polygon


@dataclass(frozen=True)
class ZoneEvent:
    """What happened in a zone: ``pickup``, ``putback``, ``out-of-stock`` or ``restocked``.

    ``duration_s`` is how long the product was out (putback), or has been (out-of-stock).
    """

    kind: str
    zone: str
    gtin: str
    t: float
    duration_s: float | None = None


class ZoneTracker:
    """The state machine of one zone (see the module docstring); no I/O.

    :param zone: the zone it tracks.
    :param motion_fraction: a frame with at least this fraction of changed pixels is "moving".
    :param settle_frames: frames without motion before the zone is judged.
    :param lift_fraction: a settled difference from the reference at or above this is "product out".
    :param return_fraction: a settled difference at or below this is "product in" (< lift_fraction).
    :param empty_after_s: seconds out before an out-of-stock alert.
    :raises ValueError: for thresholds out of order.
    """

    def __init__(self, zone: Zone, motion_fraction: float = 0.02, settle_frames: int = 3,
                 lift_fraction: float = 0.25, return_fraction: float = 0.10, empty_after_s: float = 30.0):
        if not 0 <= return_fraction < lift_fraction <= 1:
            raise ValueError("need 0 <= return_fraction < lift_fraction <= 1")
        if settle_frames < 1 or empty_after_s <= 0 or not 0 < motion_fraction <= 1:
            raise ValueError("need settle_frames >= 1, empty_after_s > 0 and 0 < motion_fraction <= 1")
        self.zone = zone
        self.motion_fraction = motion_fraction
        self.settle_frames = settle_frames
        self.lift_fraction = lift_fraction
        self.return_fraction = return_fraction
        self.empty_after_s = empty_after_s
        self.state = LEARNING
        self._still = 0
        self._out_since: float | None = None

    @property
    def settled(self) -> bool:
        """Whether the last frames were still enough to judge the zone."""
        return self._still >= self.settle_frames

    def relearn(self) -> None:
        """Start again: the next settled view becomes the reference."""
        self.state, self._still, self._out_since = LEARNING, 0, None

    def update(self, t: float, motion: float, diff: float | None) -> ZoneEvent | None:
        """Feed one frame's fractions at time ``t`` (``diff`` None while there is no reference)."""
        self._still = 0 if motion >= self.motion_fraction else self._still + 1
        if self.state == LIFTED and self._out_for(t) >= self.empty_after_s:
            # Also while the zone moves: an empty zone with people passing is still empty.
            self.state = EMPTY
            return self._event("out-of-stock", t, self._out_for(t))
        if not self.settled or diff is None:
            return None
        if self.state == LEARNING:
            return None  # the caller takes the reference and calls stocked()
        if self.state == STOCKED and diff >= self.lift_fraction:
            self.state, self._out_since = LIFTED, t
            return self._event("pickup", t)
        if self.state == LIFTED and diff <= self.return_fraction:
            self.state = STOCKED
            return self._event("putback", t, self._out_for(t))
        if self.state == EMPTY and diff <= self.return_fraction:
            self.state = STOCKED
            return self._event("restocked", t, self._out_for(t))
        return None

    def _out_for(self, t: float) -> float:
        """Seconds the product has been out at ``t``; only LIFTED and EMPTY, which set the time it went."""
        assert self._out_since is not None, "LIFTED and EMPTY set _out_since"
        return t - self._out_since

    def stocked(self) -> None:
        """The reference was taken: the zone counts as stocked from now on."""
        if self.state == LEARNING:
            self.state = STOCKED

    def _event(self, kind: str, t: float, duration: float | None = None) -> ZoneEvent:
        logger.info("shelf zone %s: %s", self.zone.name, kind)
        return ZoneEvent(kind, self.zone.name, self.zone.gtin, t, None if duration is None else round(duration, 3))


class ShelfWatcher:
    """Measures every zone per frame and runs its :class:`ZoneTracker`.

    :param zones: the shelf's zones.
    :param width: analysis width in pixels (frames are downscaled to it).
    :param pixel_threshold: grey-level difference at which a pixel counts as changed.
    :param drift_s: time constant with which a stocked, still zone's reference follows the light.
    :param tracker_options: passed to each :class:`ZoneTracker`.
    :raises ValueError: for duplicate zone names or bad thresholds.
    """

    def __init__(self, zones: Sequence[Zone], width: int = 320, pixel_threshold: int = 30,
                 drift_s: float = 60.0, **tracker_options):
        names = [zone.name for zone in zones]
        if len(set(names)) != len(names):
            raise ValueError("shelf zone names must be unique")
        self.zones = tuple(zones)
        self.width = width
        self.pixel_threshold = pixel_threshold
        self.drift_s = drift_s
        self.trackers = [ZoneTracker(zone, **tracker_options) for zone in self.zones]
        self._shape: tuple[int, int] | None = None
        self._size = (0, 0)
        self._boxes: list[tuple[int, int, int, int]] = []
        self._masks: list[np.ndarray] = []
        self._areas: list[int] = []
        self._references: list[np.ndarray | None] = [None] * len(self.zones)
        self._previous: np.ndarray | None = None
        self._last_t: float | None = None

    def relearn(self) -> None:
        """Forget every reference: the next settled view of each zone is its stocked look."""
        self._references = [None] * len(self.zones)
        for tracker in self.trackers:
            tracker.relearn()

    def reset_motion(self) -> None:
        """Forget the previous frame (after a gap in the source), keeping the references."""
        self._previous = None

    def states(self) -> dict[str, str]:
        """Zone name -> ``learning`` | ``stocked`` | ``lifted`` | ``empty``."""
        return {tracker.zone.name: tracker.state for tracker in self.trackers}

    def _setup(self, height: int, width: int) -> None:
        import numpy as np

        self._shape = (height, width)
        scale = min(1.0, self.width / width)
        self._size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small_w, small_h = self._size
        self._boxes, self._masks, self._areas = [], [], []
        for zone in self.zones:
            x0, y0, x1, y1 = bounding_box(zone.polygon, small_w, small_h)
            mask = polygon_mask([zone.polygon], small_w, small_h)[y0:y1, x0:x1]
            self._boxes.append((x0, y0, x1, y1))
            self._masks.append(mask)
            self._areas.append(max(1, int(np.count_nonzero(mask))))
        self._previous = None

    def _changed(self, a: np.ndarray, b: np.ndarray, index: int) -> float:
        import cv2

        diff = cv2.absdiff(a, b)
        _, changed = cv2.threshold(diff, self.pixel_threshold, 255, cv2.THRESH_BINARY)
        return cv2.countNonZero(cv2.bitwise_and(changed, self._masks[index])) / self._areas[index]

    def update(self, frame: np.ndarray, t: float) -> list[ZoneEvent]:
        """Measure ``frame`` (BGR or grey) at time ``t``; returns the zones' events."""
        import cv2
        import numpy as np

        height, width = frame.shape[:2]
        if self._shape != (height, width):
            self._setup(height, width)
        small = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        previous, self._previous = self._previous, small
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        events = []
        for index, tracker in enumerate(self.trackers):
            x0, y0, x1, y1 = self._boxes[index]
            crop = small[y0:y1, x0:x1]
            motion = 1.0 if previous is None else self._changed(crop, previous[y0:y1, x0:x1], index)
            reference = self._references[index]
            diff = None if reference is None else self._changed(crop, cv2.convertScaleAbs(reference), index)
            event = tracker.update(t, motion, diff)
            if event is not None:
                events.append(event)
            if tracker.settled:
                if reference is None:
                    self._references[index] = crop.astype(np.float32)
                    tracker.stocked()
                    logger.info("shelf zone %s: reference learned", tracker.zone.name)
                elif tracker.state == STOCKED and diff is not None and diff <= tracker.return_fraction / 2 and dt:
                    cv2.accumulateWeighted(crop, reference, min(1.0, dt / self.drift_s))
        return events
