"""The demo's camera: two generated videos played into the real camera pipeline.

:func:`make_videos` draws, with OpenCV and deterministically, two short
Motion-JPEG videos of a garden-centre aisle into the demo's state folder
(kept there and reused when they are already made):

* ``idle``: the empty aisle, then someone walks into view, stands in front
  of the kiosk a while and walks off (presence: the kiosk wakes up);
* ``product``: someone holds up a bag of Gazonmest 5 kg with its EAN-13
  barcode (8712345000011) drawn by zxing-cpp's writer, then lowers it.

:class:`DemoCamera` is an ``opener`` for :class:`~edge_agent.camera.capture.OpenCvSource`
(the hook that makes its ``cv2.VideoCapture``): it plays the idle video in a
loop and, when :meth:`DemoCamera.hold_up_product` is called, the product
clip once, then the idle video again where it left off. Everything after the
``VideoCapture`` is the agent's own: pacing, privacy masks, presence,
barcode decoding and the events on the local topics. Frames never leave
memory, as with a real camera.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEMO_PRODUCT_GTIN = "8712345000011"  # Gazonmest 5 kg in config/central-fixtures.example.yaml
WIDTH, HEIGHT, FPS = 640, 480, 15.0
VERSION = 1  # in the file names: a new drawing makes new files
FOURCC = "MJPG"


@dataclass(frozen=True)
class DemoVideos:
    """The two video files."""

    idle: Path
    product: Path


def make_videos(folder: Path, force: bool = False) -> DemoVideos:
    """Draw the demo videos into ``folder`` unless they are there already (``force``: draw them again).

    :raises RuntimeError: when OpenCV cannot write a video file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    videos = DemoVideos(folder / f"demo-idle-v{VERSION}.avi", folder / f"demo-product-v{VERSION}.avi")
    for path, frames in ((videos.idle, _idle_frames), (videos.product, _product_frames)):
        if force or not path.is_file() or path.stat().st_size == 0:
            partial = path.with_suffix(".partial.avi")
            count = _write(partial, frames())
            partial.replace(path)  # a demo stopped half-way never leaves half a video behind
            logger.info("demo video %s: %d frames", path.name, count)
    return videos


# --------------------------------------------------------------------------- drawing


def _aisle():
    """The empty aisle: a wall with shelves of coloured packs, a floor."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(2027)
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = (200, 214, 222)  # a light wall (BGR)
    cv2.rectangle(image, (0, int(HEIGHT * 0.78)), (WIDTH, HEIGHT), (112, 124, 132), -1)  # floor
    for row in range(3):
        top = 40 + row * 95
        cv2.rectangle(image, (0, top + 70), (WIDTH, top + 78), (70, 80, 90), -1)  # shelf board
        x = 6
        while x < WIDTH - 30:
            width = int(rng.integers(24, 48))
            height = int(rng.integers(40, 68))
            colour = tuple(int(c) for c in rng.integers(40, 200, 3))
            cv2.rectangle(image, (x, top + 70 - height), (x + width, top + 70), colour, -1)
            x += width + int(rng.integers(3, 10))
    return image


def _person(image, cx: int, sway: int = 0) -> None:
    """A person-sized figure standing on the floor at ``cx`` (no face: the camera is anonymous anyway)."""
    import cv2

    foot = int(HEIGHT * 0.95)
    height = int(HEIGHT * 0.78)
    top = foot - height
    body = height // 4
    head = body // 2
    cx += sway
    cv2.rectangle(image, (cx - body // 2, top + 2 * head), (cx + body // 2, foot - height // 3), (70, 90, 40), -1)
    cv2.rectangle(image, (cx - body // 2, foot - height // 3), (cx - 4, foot), (60, 50, 40), -1)
    cv2.rectangle(image, (cx + 4, foot - height // 3), (cx + body // 2, foot), (60, 50, 40), -1)
    cv2.circle(image, (cx, top + head), head, (120, 150, 200), -1)


def _product_pack(image, cx: int, top: int, barcode) -> None:
    """The bag of lawn fertiliser with its barcode facing the camera, held by two hands."""
    import cv2

    bh, bw = barcode.shape[:2]
    width, height = bw + 40, bh + 120
    x0 = cx - width // 2
    cv2.rectangle(image, (x0, top), (x0 + width, top + height), (40, 140, 60), -1)
    cv2.putText(image, "GAZONMEST 5 KG", (x0 + 14, top + 40), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    y, x = top + 70, x0 + 20
    visible = image[max(0, y):min(HEIGHT, y + bh), max(0, x):min(WIDTH, x + bw)]
    if visible.size:
        part = barcode[max(0, -y):max(0, -y) + visible.shape[0], max(0, -x):max(0, -x) + visible.shape[1]]
        visible[:] = cv2.cvtColor(part, cv2.COLOR_GRAY2BGR)
    for hand_x in (x0 - 6, x0 + width + 6):
        cv2.circle(image, (hand_x, top + height // 2), 14, (120, 150, 200), -1)


def _barcode():
    import numpy as np
    import zxingcpp

    code = zxingcpp.create_barcode(DEMO_PRODUCT_GTIN, zxingcpp.BarcodeFormat.EAN13)
    return np.asarray(code.to_image(scale=3))


def _idle_frames():
    """3 s empty, a walk in (2 s), 20 s standing (a little sway), a walk out (2 s), 3 s empty."""
    import math

    base = _aisle()
    empty = int(3 * FPS)
    walk = int(2 * FPS)
    stand = int(20 * FPS)
    middle = WIDTH // 2
    for _ in range(empty):
        yield base.copy()
    for step in range(walk):
        frame = base.copy()
        _person(frame, -60 + (middle + 60) * (step + 1) // walk)
        yield frame
    for step in range(stand):
        frame = base.copy()
        _person(frame, middle, round(3 * math.sin(step / 4)))
        yield frame
    for step in range(walk):
        frame = base.copy()
        _person(frame, middle + (WIDTH // 2 + 80) * (step + 1) // walk)
        yield frame
    for _ in range(empty):
        yield base.copy()


def _product_frames():
    """Someone standing in front of the kiosk lifts the pack into view, holds it up 3 s, lowers it."""
    base = _aisle()
    barcode = _barcode()
    middle = WIDTH // 2
    lift = int(0.8 * FPS)
    hold = int(3 * FPS)
    held_top = 60
    start_top = HEIGHT + 10
    tops = ([start_top - (start_top - held_top) * (step + 1) // lift for step in range(lift)]
            + [held_top + (step % 4 in (1, 2)) for step in range(hold)]  # held by hand: a little jitter
            + [held_top + (start_top - held_top) * (step + 1) // lift for step in range(lift)])
    for top in tops:
        frame = base.copy()
        _person(frame, middle)
        _product_pack(frame, middle, top, barcode)
        yield frame
    for _ in range(int(0.5 * FPS)):
        frame = base.copy()
        _person(frame, middle)
        yield frame


def _write(path: Path, frames) -> int:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*FOURCC), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    count = 0
    try:
        for frame in frames:
            writer.write(frame)
            count += 1
    finally:
        writer.release()
    return count


# --------------------------------------------------------------------------- playing


class DemoCamera:
    """Plays the demo videos as one camera; ``opener`` goes to :class:`~edge_agent.camera.capture.OpenCvSource`.

    :param videos: the files from :func:`make_videos`.
    """

    def __init__(self, videos: DemoVideos):
        self.videos = videos
        self._product_wanted = threading.Event()

    def hold_up_product(self) -> None:
        """Play the product clip next (at once, from any thread); a request while it plays is dropped."""
        self._product_wanted.set()

    def opener(self, _spec) -> _DemoCapture:
        """What ``OpenCvSource`` calls to open its source (the configured file path is the idle video)."""
        return _DemoCapture(self)


class _DemoCapture:
    """The ``cv2.VideoCapture`` interface (``isOpened``, ``read``, ``get``, ``set``, ``release``) over
    the idle video, looped in place, with the product clip cut in on request."""

    def __init__(self, camera: DemoCamera):
        import cv2

        self._cv2 = cv2
        self._camera = camera
        self._idle = cv2.VideoCapture(str(camera.videos.idle))
        self._clip: Any = None

    def isOpened(self) -> bool:  # OpenCV's name
        return self._idle.isOpened()

    def read(self):
        if self._clip is None and self._camera._product_wanted.is_set():
            self._camera._product_wanted.clear()
            self._clip = self._cv2.VideoCapture(str(self._camera.videos.product))
        if self._clip is not None:
            ok, image = self._clip.read()
            if ok:
                return ok, image
            self._clip.release()
            self._clip = None
            self._camera._product_wanted.clear()  # taps of the button while it played
        ok, image = self._idle.read()
        if not ok:  # the end of the idle video: again from the start, without a reopen (same background)
            self._idle.release()
            self._idle = self._cv2.VideoCapture(str(self._camera.videos.idle))
            ok, image = self._idle.read()
        return ok, image

    def get(self, prop: int) -> float:
        return self._idle.get(prop)

    def set(self, prop: int, value: float) -> bool:
        return False

    def release(self) -> None:
        self._idle.release()
        if self._clip is not None:
            self._clip.release()
            self._clip = None
