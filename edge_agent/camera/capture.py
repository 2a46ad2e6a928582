"""Frames in: the frame source port (:class:`FrameSource`) and its OpenCV adapter (:class:`OpenCvSource`).

A source runs one named thread, ``camera-capture``, which owns the device
from open to close:

1. **Open** the source: a V4L2 device (``0``, ``/dev/video0``), a video file
   (looped: the demo and the tests) or a stream URL (``rtsp://``, ``http://``).
   When that fails, or the source fails later (unplugged, file gone, stream
   down), :meth:`~FrameSource.health` says ``failed`` and the thread retries
   with :func:`edge_agent.backoff.backoff_delay`; it never dies of it. OpenCV
   cannot revive a ``VideoCapture`` whose stream broke (``read()`` keeps
   returning False), so every retry is a fresh one; a stream that hangs is cut
   by FFmpeg's read timeout (``CAP_PROP_READ_TIMEOUT_MSEC``) instead of
   blocking the thread for FFmpeg's default 30 s.
2. **Mask** every frame with the :class:`~.privacy.PrivacyMask` right after it
   is read: no other thread ever sees unmasked pixels.
3. **Queue** it in a bounded queue. A live source (device, stream) drops the
   oldest frame when the queue is full: the pipeline always works on the
   newest frames and a slow frame never builds up latency. A file read
   with ``pace="fast"`` (tests, benchmarks) waits for room instead, so every
   frame is processed, with time stamps from the file's frame rate.

A file is looped by opening it again at its end (a seek is not exact in
every container, and reopening notices a file that was deleted or
replaced). Files are paced to their frame rate unless ``pace="fast"``.

Each :class:`Frame` carries an ``epoch`` that changes whenever the source was
opened again, so consumers can drop what they learned from the old one.

Frames stay in memory: nothing here writes a frame anywhere. A stream URL's
password is never logged or reported (:func:`redact`).

OpenCV is imported when a source starts, not with this module.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..backoff import backoff_delay
from . import SourceError
from .privacy import PrivacyMask

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

STOP_JOIN_S = 10.0
FPS_WINDOW_S = 2.0
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp")
_USERINFO = re.compile(r"//[^/@]*@")

# FrameSource health states
OPENING = "opening"
OK = "ok"
FAILED = "failed"
STOPPED = "stopped"


@dataclass(frozen=True, repr=False)
class Frame:
    """One frame, masked already.

    :param image: the pixels (``uint8``, BGR); in memory only.
    :param seq: frame number since the source started (0, 1, 2 ...).
    :param t: time stamp in seconds for durations (monotonic; media time for fast files).
    :param wall: Unix time of the frame, for event time stamps.
    :param epoch: increments every time the source is opened again.
    """

    image: Any
    seq: int
    t: float
    wall: float
    epoch: int

    def __repr__(self) -> str:  # never the pixels
        shape = "x".join(str(n) for n in getattr(self.image, "shape", ()))
        return f"Frame(seq={self.seq}, t={self.t:.3f}, epoch={self.epoch}, image=<{shape}>)"


@dataclass(frozen=True)
class SourceSpec:
    """What a configured source string means: ``kind`` ``device``, ``file`` or ``stream``."""

    kind: str
    target: int | str


def parse_source(text: str) -> SourceSpec:
    """``"0"`` or ``"/dev/video0"`` -> device, ``"rtsp://…"`` -> stream, anything else -> file.

    :raises ValueError: for an empty source.
    """
    text = str(text).strip()
    if not text:
        raise ValueError("the camera source is empty")
    if text.isdigit():
        return SourceSpec("device", int(text))
    if text.startswith("/dev/video"):
        return SourceSpec("device", text)
    if urlsplit(text).scheme.lower() in STREAM_SCHEMES:
        return SourceSpec("stream", text)
    return SourceSpec("file", text)


def redact(source: str) -> str:
    """The source with any ``user:password@`` of a URL replaced by ``***@``."""
    return _USERINFO.sub("//***@", str(source))


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """``url`` with ``username:password@`` put in (for stream credentials kept out of the config)."""
    if not username:
        return url
    from urllib.parse import quote

    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def describe_error(error: BaseException) -> str:
    """``"SourceError: cannot open …"``, shortened, with URL credentials masked."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    text = redact(text)
    return text if len(text) <= 200 else text[:199] + "…"


class FrameSource(ABC):
    """The port through which the pipeline gets frames."""

    @abstractmethod
    def start(self) -> None:
        """Start capturing in the background.

        :raises RuntimeError: when already started.
        """

    @abstractmethod
    def read(self, timeout: float | None = None) -> Frame | None:
        """The oldest queued frame, waiting up to ``timeout`` seconds; None when there is none
        (or the source stopped)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop capturing and release the device; returns when the thread has ended."""

    @property
    def ended(self) -> bool:
        """True when the source has ended for good (a file played once); live sources never end."""
        return False

    @abstractmethod
    def health(self) -> dict:
        """``{"state": "opening" | "ok" | "failed" | "stopped", "source", "fps", "frames",
        "dropped_frames", "reconnects", "errors", "last_error"}``; never a password."""


class ThreadedSource(FrameSource):
    """The capture thread, queue, backoff, masking and health of a frame source.

    Subclasses say how to open, read and close their device.

    :param name: what the source is, for logs and health (redacted).
    :param live: a live source drops stale frames; otherwise the queue applies backpressure.
    :param fps: frame rate for pacing (``paced``) and for time stamps of non-live sources.
    :param paced: sleep to ``fps`` between frames (a file played as if it were a camera).
    :param loop: open the source again at its end (files).
    :param queue_size: frames the queue holds (1: only the newest).
    :param mask: privacy mask applied to every frame before it is queued.
    :param retry_min_s: first delay before opening a failed source again.
    :param retry_max_s: longest delay between attempts.
    :param max_read_failures: consecutive failed reads after which a live source is reopened.
    :raises ValueError: for bad sizes or delays.
    """

    def __init__(self, name: str, *, live: bool, fps: float = 15.0, paced: bool = False, loop: bool = False,
                 queue_size: int = 2, mask: PrivacyMask | None = None, retry_min_s: float = 0.5,
                 retry_max_s: float = 30.0, max_read_failures: int = 5):
        if queue_size < 1 or fps <= 0 or not 0 < retry_min_s <= retry_max_s or max_read_failures < 1:
            raise ValueError("need queue_size >= 1, fps > 0, 0 < retry_min_s <= retry_max_s, max_read_failures >= 1")
        self.name = redact(name)
        self.live = live
        self.fps = fps
        self.paced = paced
        self.loop = loop
        self.queue_size = queue_size
        self.mask = mask or PrivacyMask()
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.max_read_failures = max_read_failures
        self._queue: collections.deque[Frame] = collections.deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ended = threading.Event()  # a file played once has ended
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state = OPENING
        self._errors = 0
        self._last_error: str | None = None
        self._frames = 0
        self._dropped = 0
        self._opens = 0
        self._loops = 0
        self._reconnects = 0  # opens that followed a failure
        self._recent: collections.deque[float] = collections.deque()
        self._media_t = 0.0
        self._wall0 = 0.0

    # ------------------------------------------------------------------ device, for subclasses

    @abstractmethod
    def _open(self) -> None:
        """Open the device; raise (anything) when it cannot be opened."""

    @abstractmethod
    def _read(self) -> np.ndarray | None:
        """The next image, or None at the end of the stream or when a read failed; may raise."""

    @abstractmethod
    def _close(self) -> None:
        """Release the device; must not raise."""

    def _source_fps(self) -> float | None:
        """The device's own frame rate after opening, if it knows one."""
        return None

    # ------------------------------------------------------------------ the port

    def start(self) -> None:
        """Start the ``camera-capture`` thread.

        :raises RuntimeError: when already started.
        """
        if self._thread is not None:
            raise RuntimeError("the frame source was started already")
        self._wall0 = time.time()
        self._thread = threading.Thread(target=self._run, name="camera-capture", daemon=True)
        self._thread.start()

    def read(self, timeout: float | None = None) -> Frame | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._queue or self._stop.is_set() or self._ended.is_set(),
                                       timeout):
                return None
            if not self._queue:
                return None
            frame = self._queue.popleft()
            self._cond.notify_all()
            return frame

    def stop(self) -> None:
        """Stop the thread and release the device; waits up to 10 s."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_JOIN_S)
            if thread.is_alive():
                logger.warning("the camera-capture thread did not stop within %.0f s", STOP_JOIN_S)
        with self._lock:
            self._state = STOPPED
        with self._cond:
            self._queue.clear()

    def health(self) -> dict:
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] > FPS_WINDOW_S:
                self._recent.popleft()
            fps = len(self._recent) / FPS_WINDOW_S if self._state == OK else 0.0
            return {"state": self._state, "source": self.name, "fps": round(fps, 2), "frames": self._frames,
                    "dropped_frames": self._dropped, "reconnects": self._reconnects,
                    "errors": self._errors, "last_error": self._last_error}

    @property
    def ended(self) -> bool:
        """True when a file played once (``loop`` off) has ended; :meth:`read` then returns None at once."""
        return self._ended.is_set()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            opened, looped = self._open_once()
            if opened:
                looped, had_frames = self._stream()
                self._close()
                if had_frames:
                    attempt = 0
            if self._stop.is_set():
                break
            if looped:
                self._loops += 1
                continue
            delay = backoff_delay(attempt, self.retry_min_s, self.retry_max_s)
            attempt += 1
            logger.info("opening camera source %s again in %.1f s", self.name, delay)
            self._stop.wait(delay)
        logger.debug("camera-capture stopped")

    def _open_once(self) -> tuple[bool, bool]:
        try:
            self._open()
        except Exception as error:  # noqa: BLE001 - missing device or file, no permission, unreachable stream
            self._close()
            self._failed("could not be opened", error)
            return False, False
        with self._lock:
            if self._state == FAILED:
                self._reconnects += 1
            self._state = OK
            self._opens += 1
        logger.log(logging.DEBUG if self._loops else logging.INFO, "camera source open: %s", self.name)
        return True, False

    def _stream(self) -> tuple[bool, bool]:
        """Read until the source ends or fails; returns (end of a loopable file, read any frame)."""
        failures = 0
        read_this_open = 0
        fps = self._source_fps() or self.fps
        interval = 1.0 / fps
        epoch = self._opens
        next_due = time.monotonic()
        while not self._stop.is_set():
            try:
                image = self._read()
            except Exception as error:  # noqa: BLE001 - a driver's any error: the device is gone; reopen
                self._failed("failed", error)
                return False, read_this_open > 0
            if image is None:
                if not self.live and read_this_open > 0:
                    if self.loop:
                        return True, True
                    self._set_state(STOPPED, "end of file")
                    with self._cond:
                        self._ended.set()
                        self._cond.notify_all()
                    self._stop.wait()  # a file played once: nothing more will come
                    return False, True
                failures += 1
                if failures >= self.max_read_failures or not self.live:
                    self._failed("gave no frame", SourceError(f"{failures} read(s) failed"))
                    return False, read_this_open > 0
                continue
            failures = 0
            read_this_open += 1
            self.mask.apply(image)
            if self.paced:
                next_due += interval
                delay = next_due - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -interval:
                    next_due = time.monotonic()  # fell behind: do not race to catch up
            if self.live or self.paced:
                t, wall = time.monotonic(), time.time()
            else:
                self._media_t += interval
                t, wall = self._media_t, self._wall0 + self._media_t
            self._put(Frame(image, self._frames, t, wall, epoch))
        return False, read_this_open > 0

    def _put(self, frame: Frame) -> None:
        with self._cond:
            if len(self._queue) >= self.queue_size:
                if self.live or self.paced:
                    self._queue.popleft()
                    with self._lock:
                        self._dropped += 1
                else:
                    self._cond.wait_for(lambda: len(self._queue) < self.queue_size or self._stop.is_set())
                    if self._stop.is_set():
                        return
            self._queue.append(frame)
            self._cond.notify_all()
        with self._lock:
            self._frames += 1
            self._recent.append(time.monotonic())
            if len(self._recent) > 1000:
                self._recent.popleft()

    def _set_state(self, state: str, reason: str) -> None:
        with self._lock:
            self._state = state
        logger.info("camera source %s: %s", self.name, reason)

    def _failed(self, what: str, error: BaseException) -> None:
        description = describe_error(error)
        with self._lock:
            repeated = self._state == FAILED and self._last_error == description
            self._state = FAILED
            self._errors += 1
            self._last_error = description
        logger.log(logging.DEBUG if repeated else logging.WARNING, "camera source %s %s: %s",
                   self.name, what, description)


Opener = Callable[[SourceSpec], Any]  # returns an object with read(), release(), get(), set()


class OpenCvSource(ThreadedSource):
    """A frame source through OpenCV's ``VideoCapture``.

    :param source: ``"0"`` / ``"/dev/video0"`` (V4L2 device), a video file, or a stream URL.
    :param width: requested frame width (devices; files and streams come as they are).
    :param height: requested frame height (devices).
    :param fps: requested frame rate (devices); the pace and time base of files
        (default: the file's own rate).
    :param pace: files only: ``"realtime"`` plays at the frame rate, ``"fast"`` as fast as the
        pipeline takes frames, none dropped (tests, benchmarks).
    :param loop: files only: play again from the start at the end.
    :param open_timeout_s: streams: give up opening after this long.
    :param read_timeout_s: streams: a read that waits longer fails (and the stream is reopened).
    :param rtsp_transport: ``"tcp"`` (default; fewer broken frames) or ``"udp"``.
    :param fourcc: devices: a pixel format to ask for, e.g. ``"MJPG"`` (lets USB cameras do 30 fps).
    :param opener: makes the ``VideoCapture``; replaceable in tests.
    :param options: passed on to :class:`ThreadedSource` (mask, queue_size, retry delays…).
    :raises ValueError: for an empty source or a bad pace.
    """

    def __init__(self, source: str, width: int = 640, height: int = 480, fps: float | None = None,
                 pace: str = "realtime", loop: bool = True, open_timeout_s: float = 10.0,
                 read_timeout_s: float = 5.0, rtsp_transport: str = "tcp", fourcc: str | None = None,
                 opener: Opener | None = None, **options):
        if pace not in ("realtime", "fast"):
            raise ValueError("pace is 'realtime' or 'fast'")
        self.spec = parse_source(source)
        live = self.spec.kind != "file"
        super().__init__(str(source), live=live, fps=fps or 15.0, paced=not live and pace == "realtime",
                         loop=loop and not live, **options)
        self._fps_configured = fps
        self.width = width
        self.height = height
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.rtsp_transport = rtsp_transport
        self.fourcc = fourcc
        self._opener = opener or self._open_capture
        self._capture = None

    def _open_capture(self, spec: SourceSpec):
        import cv2

        if spec.kind == "device":
            capture = cv2.VideoCapture(spec.target, cv2.CAP_V4L2)
            if capture.isOpened():
                if self.fourcc:
                    capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self.fourcc))
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
                if self._fps_configured:
                    capture.set(cv2.CAP_PROP_FPS, self._fps_configured)
                capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one from the driver's queue
            return capture
        if spec.kind == "stream":
            assert isinstance(spec.target, str), "a stream is a URL (parse_source)"
            if spec.target.lower().startswith("rtsp") and "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ:
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"rtsp_transport;{self.rtsp_transport}"
            return cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG,
                                    [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                                     cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000)])
        if not os.path.isfile(spec.target):
            raise SourceError(f"no such video file: {spec.target}")
        return cv2.VideoCapture(spec.target)

    def _open(self) -> None:
        capture = self._opener(self.spec)
        self._capture = capture
        if capture is None or not capture.isOpened():
            raise SourceError(f"cannot open {self.name}")

    def _read(self):
        ok, image = self._capture.read()
        return image if ok and image is not None and image.size else None

    def _close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            try:
                capture.release()
            except Exception as error:  # noqa: BLE001 - closing must never raise
                logger.debug("releasing the camera source failed: %s", describe_error(error))

    def _source_fps(self) -> float | None:
        if self._fps_configured or self._capture is None:
            return self._fps_configured
        import cv2

        try:
            fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        except Exception:  # noqa: BLE001 - a rate the device cannot tell is no rate
            return None
        return fps if 1 <= fps <= 240 else None
