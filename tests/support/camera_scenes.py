"""Synthetic camera scenes for the camera tests and benchmarks, written as real video files.

Every scene is drawn with OpenCV and written with ``cv2.VideoWriter`` as
Motion-JPEG in an AVI container (OpenCV's own encoder, present in every
build), so the pipeline reads it through the same ``VideoCapture`` path as a
camera recording, compression noise included. The generators return what
happens when (frame numbers), for the tests to check the events against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

FOURCC = "MJPG"


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    """Write BGR frames to ``path`` as MJPG/AVI; returns the number of frames written.

    :raises RuntimeError: when OpenCV cannot open a writer.
    """
    writer = None
    count = 0
    try:
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*FOURCC), fps, (width, height))
                if not writer.isOpened():
                    raise RuntimeError(f"cannot write {path}")
            writer.write(frame)
            count += 1
    finally:
        if writer is not None:
            writer.release()
    return count


def background(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A store-like backdrop: soft texture, a floor, a few shapes; the same for the same seed."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(60, 200, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    image = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    image = cv2.GaussianBlur(image, (0, 0), 2)
    cv2.rectangle(image, (0, height * 3 // 4), (width, height), (120, 130, 140), -1)
    for index in range(4):
        x = int(width * (0.1 + 0.22 * index))
        cv2.rectangle(image, (x, height // 6), (x + width // 10, height // 2), (90 + 30 * index, 160, 200), -1)
    return image


def draw_person(image: np.ndarray, cx: int, height_px: int, rng: np.random.Generator) -> None:
    """A dark, person-sized figure (head and body) standing on the floor at ``cx``."""
    h = image.shape[0]
    foot = int(h * 0.92)
    body_w = max(8, height_px // 4)
    top = foot - height_px
    head = max(4, body_w // 2)
    colour = tuple(int(c) for c in rng.integers(20, 60, 3))
    cv2.rectangle(image, (cx - body_w // 2, top + 2 * head), (cx + body_w // 2, foot), colour, -1)
    cv2.circle(image, (cx, top + head), head, (40, 60, 90), -1)


@dataclass
class PresenceScene:
    """What happens in a presence video: frame numbers of entry into the region and of leaving it."""

    frames: int
    fps: float
    enter_frame: int  # first frame with the figure inside the frame
    leave_frame: int  # first frame with the figure completely gone
    stand_frames: int


def presence_video(path: Path, width: int = 320, height: int = 240, fps: float = 15.0, empty_before: int = 20,
                   stand_frames: int = 45, empty_after: int = 45, speed_px: int | None = None,
                   seed: int = 3) -> PresenceScene:
    """Someone walks in from the left, stands in the middle (swaying slightly), and leaves to the right.

    ``speed_px`` defaults to a walk across the frame in about 1.6 s.
    """
    rng = np.random.default_rng(seed)
    base = background(width, height)
    speed = speed_px or max(4, round(width / (1.6 * fps)))
    person_h = int(height * 0.7)
    half = max(8, person_h // 4) // 2 + 1
    frames: list[np.ndarray] = [base.copy() for _ in range(empty_before)]
    enter_frame = len(frames)
    x = -half + speed  # the first step already shows part of the body
    while x < width // 2:
        frame = base.copy()
        draw_person(frame, x, person_h, rng)
        frames.append(frame)
        x += speed
    for index in range(stand_frames):
        frame = base.copy()
        draw_person(frame, width // 2 + int(2 * np.sin(index / 3)), person_h, rng)
        frames.append(frame)
    x = width // 2
    while x - half < width:
        frame = base.copy()
        draw_person(frame, x, person_h, rng)
        frames.append(frame)
        x += speed
    leave_frame = len(frames)
    frames.extend(base.copy() for _ in range(empty_after))
    write_video(path, frames, fps)
    return PresenceScene(len(frames), fps, enter_frame, leave_frame, stand_frames)


# --------------------------------------------------------------------------- shelf


@dataclass
class ShelfScene:
    frames: int
    fps: float
    zones: dict[str, list[list[float]]]  # name -> normalised polygon
    timeline: list[tuple[int, str, str]] = field(default_factory=list)  # (frame, what, zone) as staged


def _product(image: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, int, int], label: int) -> None:
    x0, y0, x1, y1 = box
    cv2.rectangle(image, (x0, y0), (x1, y1), colour, -1)
    cv2.rectangle(image, (x0 + 3, y0 + 6), (x1 - 3, y0 + (y1 - y0) // 3), (240, 240, 240), -1)
    for stripe in range(3):
        y = y0 + (y1 - y0) // 2 + stripe * 6
        cv2.line(image, (x0 + 4, y), (x1 - 4, y), (30 + 60 * label, 30, 30), 2)


def _hand(image: np.ndarray, cx: int, cy: int, size: int) -> None:
    cv2.ellipse(image, (cx, cy), (size, int(size * 1.4)), 0, 0, 360, (120, 160, 215), -1)
    cv2.rectangle(image, (cx - size // 2, cy), (cx + size // 2, image.shape[0]), (110, 150, 205), -1)


def shelf_video(path: Path, width: int = 320, height: int = 240, fps: float = 10.0,
                empty_hold_frames: int = 40) -> ShelfScene:
    """A shelf with three products (zones a, b, c). A hand lifts product a out and puts it back;
    then lifts product b out and does not bring it back; c is never touched."""
    shelf = np.full((height, width, 3), (70, 90, 110), np.uint8)
    cv2.rectangle(shelf, (0, int(height * 0.62)), (width, int(height * 0.68)), (50, 60, 70), -1)
    boxes = {}
    colours = {"a": (40, 40, 200), "b": (40, 170, 40), "c": (200, 90, 30)}
    zone_w = width // 5
    for index, name in enumerate("abc"):
        x0 = int(width * (0.1 + 0.3 * index))
        boxes[name] = (x0, int(height * 0.25), x0 + zone_w, int(height * 0.62) - 1)
    zones = {}
    for name, (x0, y0, x1, y1) in boxes.items():
        pad = 4
        zones[name] = [[(x0 - pad) / (width - 1), (y0 - pad) / (height - 1)],
                       [(x1 + pad) / (width - 1), (y0 - pad) / (height - 1)],
                       [(x1 + pad) / (width - 1), (y1 + pad) / (height - 1)],
                       [(x0 - pad) / (width - 1), (y1 + pad) / (height - 1)]]
    present = {"a": True, "b": True, "c": True}
    frames: list[np.ndarray] = []
    timeline: list[tuple[int, str, str]] = []

    def still(count: int) -> None:
        frames.extend(scene() for _ in range(count))

    def scene(carried: str | None = None, dy: int = 0) -> np.ndarray:
        frame = shelf.copy()
        for index, name in enumerate("abc"):
            if present[name]:
                _product(frame, boxes[name], colours[name], index)
        if carried is not None:
            x0, y0, x1, y1 = boxes[carried]
            _product(frame, (x0, y0 + dy, x1, y1 + dy), colours[carried], "abc".index(carried))
        return frame

    def reach(name: str, inwards: bool, carrying: bool) -> None:
        """A hand moving up to zone ``name`` (or back down), with its product in hand or not."""
        x0, y0, x1, y1 = boxes[name]
        steps = [height + 20 - (height + 20 - (y0 + y1) // 2) * step // 8 for step in range(9)]
        for cy in steps if inwards else steps[::-1]:
            frame = scene(name if carrying else None, cy - (y0 + y1) // 2)
            _hand(frame, (x0 + x1) // 2, cy + (y1 - y0) // 2, zone_w // 3)
            frames.append(frame)

    def take(name: str) -> None:
        timeline.append((len(frames), "reach-take", name))
        reach(name, inwards=True, carrying=False)  # the hand goes in empty-handed...
        present[name] = False
        reach(name, inwards=False, carrying=True)  # ...and comes out with the product
        timeline.append((len(frames), "out", name))

    still(20)
    take("a")
    still(20)
    timeline.append((len(frames), "reach-return", "a"))
    reach("a", inwards=True, carrying=True)
    present["a"] = True
    reach("a", inwards=False, carrying=False)
    timeline.append((len(frames), "back", "a"))
    still(20)
    take("b")  # product b never comes back
    still(empty_hold_frames)
    write_video(path, frames, fps)
    return ShelfScene(len(frames), fps, zones, timeline)


# --------------------------------------------------------------------------- codes held up


def code_image(text: str, kind: str = "qr", scale: int = 4) -> np.ndarray:
    """A code as a grey image with its quiet zone: ``kind`` ``qr`` (segno) or a zxing-cpp format
    name (``EAN13``, ``UPCA``, ``UPCE``, ``EAN8``) drawn by zxing-cpp's writer."""
    if kind == "qr":
        import segno

        qr = segno.make_qr(text, error="m")
        matrix = np.array([[0 if dark else 255 for dark in row] for row in qr.matrix], dtype=np.uint8)
        matrix = np.pad(matrix, 4, constant_values=255)
        return cv2.resize(matrix, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    import zxingcpp

    barcode = zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, kind))
    return np.asarray(barcode.to_image(scale=scale))


def paste(frame: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    """Paste a grey ``image`` into the BGR ``frame`` at (x, y), clipped to the frame."""
    h = min(image.shape[0], frame.shape[0] - y)
    w = min(image.shape[1], frame.shape[1] - x)
    frame[y:y + h, x:x + w] = cv2.cvtColor(image[:h, :w], cv2.COLOR_GRAY2BGR)


def codes_video(path: Path, shown: list[tuple[np.ndarray | None, int]], width: int = 640, height: int = 480,
                fps: float = 15.0) -> list[tuple[int, int]]:
    """Codes held up one after another: each ``(image or None, frames)``; returns each item's
    ``(first frame, end frame)``."""
    base = background(width, height, seed=11)
    frames: list[np.ndarray] = []
    spans = []
    for image, count in shown:
        start = len(frames)
        for index in range(count):
            frame = base.copy()
            if image is not None:
                x = (width - image.shape[1]) // 2 + (index % 3) - 1  # held by hand: a little jitter
                y = (height - image.shape[0]) // 2
                paste(frame, image, max(0, x), max(0, y))
            frames.append(frame)
        spans.append((start, len(frames)))
    write_video(path, frames, fps)
    return spans


# --------------------------------------------------------------------------- running a file through a processor


def run_file(path: Path, processor, timeout: float = 5.0, **source_options) -> list[tuple[int, str, dict]]:
    """Play ``path`` once, as fast as ``processor`` takes frames (none dropped), through the real
    :class:`~edge_agent.camera.capture.OpenCvSource`; returns ``(frame seq, kind, data)`` of every event.

    ``processor`` is a :class:`~edge_agent.camera.pipeline.FrameProcessor` whose ``on_event``
    appends ``(kind, data)`` to ``processor.collected`` (see :func:`collecting`).
    """
    from edge_agent.camera.capture import OpenCvSource

    source = OpenCvSource(str(path), pace="fast", loop=False, **source_options)
    events: list[tuple[int, str, dict]] = []
    source.start()
    try:
        while True:
            frame = source.read(timeout=timeout)
            if frame is None:
                break
            before = len(processor.collected)
            processor.process(frame)
            events.extend((frame.seq, kind, data) for kind, data in processor.collected[before:])
    finally:
        source.stop()
    return events


def collecting(**stages):
    """A FrameProcessor with the given stages that collects its events in ``.collected``."""
    from edge_agent.camera.pipeline import FrameProcessor

    collected: list[tuple[str, dict]] = []
    processor = FrameProcessor(lambda kind, data: collected.append((kind, data)), **stages)
    processor.collected = collected
    return processor
