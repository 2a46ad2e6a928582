"""Privacy masks: configured polygons blanked before any processing.

A camera that sees a till, a door to the staff room or the pavement outside
gets those areas masked. The capture thread applies the mask to every frame
right after it is read, so no other part of the agent ever holds the
unmasked pixels. Masked pixels are set to black, which reads as "nothing
here" to presence, codes and shelf zones alike.

Frames are never written anywhere: this module, like the rest of the camera
package, has no code path to the disk or the network.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import cv2
import numpy as np

from .geometry import Polygon, polygon_mask, to_pixels

logger = logging.getLogger(__name__)


class PrivacyMask:
    """Blanks configured polygons in frames, in place.

    :param polygons: areas to blank, in normalised coordinates (see :mod:`.geometry`).
    """

    def __init__(self, polygons: Iterable[Polygon] = ()):
        self.polygons: tuple[Polygon, ...] = tuple(polygons)
        self._keep: dict[tuple[int, int], np.ndarray] = {}
        self._pixels: dict[tuple[int, int], list[np.ndarray]] = {}

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def keep_mask(self, width: int, height: int) -> np.ndarray:
        """``uint8`` mask of the pixels that survive (255) at this frame size; cached per size."""
        key = (width, height)
        keep = self._keep.get(key)
        if keep is None:
            keep = 255 - polygon_mask(self.polygons, width, height)
            self._keep[key] = keep
            logger.debug("privacy mask for %dx%d: %d of %d pixels blanked", width, height,
                         int(np.count_nonzero(keep == 0)), width * height)
        return keep

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Blank the masked areas of ``frame`` (grey or colour) in place; returns ``frame``."""
        if not self.polygons:
            return frame
        height, width = frame.shape[:2]
        pixels = self._pixels.get((width, height))
        if pixels is None:
            pixels = [to_pixels(polygon, width, height) for polygon in self.polygons]
            self._pixels[(width, height)] = pixels
        # fillPoly touches only the masked pixels (a boolean index would visit all of them)
        # and rasterises exactly as polygon_mask() does.
        cv2.fillPoly(frame, pixels, (0,) * (frame.shape[2] if frame.ndim == 3 else 1))
        return frame
