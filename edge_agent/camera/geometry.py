"""Polygons in normalised image coordinates, and their masks at a given frame size.

Every region the camera configuration names (privacy masks, the presence
region, the scan region, shelf zones) is a polygon of ``(x, y)`` points with
``0 <= x, y <= 1``: ``(0, 0)`` is the top-left corner of the frame and
``(1, 1)`` the bottom-right one. Normalised points survive a change of
resolution, and the regions can be drawn on any picture of the scene.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # OpenCV and NumPy are imported where pixels are made, so configs check without them
    import numpy as np

Point = tuple[float, float]
Polygon = tuple[Point, ...]

FULL_FRAME: Polygon = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def check_polygon(points: Sequence[Sequence[float]]) -> Polygon:
    """A polygon as a tuple of float pairs.

    :raises ValueError: for fewer than 3 points, a point that is not a pair, or a
        coordinate outside 0..1.
    """
    polygon = []
    for point in points:
        if len(point) != 2:
            raise ValueError(f"a point is an [x, y] pair, got {list(point)!r}")
        x, y = float(point[0]), float(point[1])
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point ({x}, {y}) is outside the frame: coordinates run from 0 to 1")
        polygon.append((x, y))
    if len(polygon) < 3:
        raise ValueError("a polygon needs at least 3 points")
    return tuple(polygon)


def to_pixels(polygon: Polygon, width: int, height: int) -> np.ndarray:
    """The polygon's corners in pixels of a ``width`` x ``height`` image, as OpenCV wants them."""
    import numpy as np

    points = np.array(polygon, dtype=np.float64) * (width - 1, height - 1)
    return np.round(points).astype(np.int32).reshape(-1, 1, 2)


def polygon_mask(polygons: Iterable[Polygon], width: int, height: int) -> np.ndarray:
    """A ``uint8`` mask of the image size: 255 inside any of ``polygons``, 0 elsewhere."""
    import cv2
    import numpy as np

    mask = np.zeros((height, width), dtype=np.uint8)
    pixels = [to_pixels(polygon, width, height) for polygon in polygons]
    if pixels:
        cv2.fillPoly(mask, pixels, 255)
    return mask


def bounding_box(polygon: Polygon, width: int, height: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` in pixels, end exclusive, of the polygon in a ``width`` x ``height`` image."""
    pixels = to_pixels(polygon, width, height).reshape(-1, 2)
    x0, y0 = pixels.min(axis=0)
    x1, y1 = pixels.max(axis=0) + 1
    return int(x0), int(y0), int(min(x1, width)), int(min(y1, height))


def is_full_frame(polygon: Polygon) -> bool:
    """True when ``polygon`` is the whole frame (the default region)."""
    return tuple(polygon) == FULL_FRAME
