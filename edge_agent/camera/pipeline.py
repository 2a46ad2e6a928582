"""The camera pipeline: frames in, anonymous events out.

::

    FrameSource (camera-capture thread: read, privacy mask, bounded queue)
        -> FrameProcessor (camera-pipeline thread)
             presence: MotionMeter + PresenceTracker -> presence-start / presence-end, footfall
             codes:    BarcodeReader + ScanDebouncer -> scan (GTIN) / app-identification (AppTokenVerifier)
             shelf:    ShelfWatcher                   -> pickup / putback / out-of-stock / restocked
        -> on_event(kind, data)

``data`` is a small JSON-ready dict of strings, numbers, booleans and None
(checked before every call: nothing else can pass, so no pixels or bytes
ever leave the pipeline). Event kinds and their data:

=====================  ==========================================================================
``presence-start``     ``started`` (RFC 3339)
``presence-end``       ``started``, ``ended``, ``dwell_s``
``footfall``           ``interval_start``, ``interval_s``, ``count`` (presence starts in the interval)
``scan``               ``gtin`` (GTIN-14), ``format`` (``ean-13`` …)
``app-identification`` ``customer`` (``c-…`` or None), ``assurance`` (``app``, or ``none`` when refused),
                       ``expires`` (RFC 3339 or None), ``reason`` (None, or why it was refused)
``pickup``             ``zone``, ``gtin``
``putback``            ``zone``, ``gtin``, ``out_s`` (how long the product was out)
``out-of-stock``       ``zone``, ``gtin``, ``out_s``
``restocked``          ``zone``, ``gtin``, ``out_s``
=====================  ==========================================================================

``app-identification`` carries a pseudonymous customer id: it is for the
agent's session logic (the same consent rules as a card), not for publishing
as is. The callback runs on the pipeline thread: keep it short; an exception
in it is logged and counted, never fatal.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .app_qr import AppTokenError, AppTokenVerifier, is_app_token
from .barcodes import BarcodeReader, ScanDebouncer, gtin_of
from .capture import Frame, FrameSource, OpenCvSource, with_credentials
from .geometry import FULL_FRAME, Polygon, bounding_box, check_polygon, is_full_frame
from .presence import FootfallCounter, MotionMeter, PresenceChange, PresenceTracker
from .privacy import PrivacyMask
from .shelf import ShelfWatcher, Zone

if TYPE_CHECKING:
    from ..credentials import Credentials
    from .config import CameraConfig

logger = logging.getLogger(__name__)

EVENT_KINDS = ("presence-start", "presence-end", "footfall", "scan", "app-identification", "pickup", "putback",
               "out-of-stock", "restocked")
STOP_JOIN_S = 10.0
READ_TIMEOUT_S = 0.5
CAMERA_USERNAME = "camera-username"
CAMERA_PASSWORD = "camera-password"
_JSON_SCALARS = (str, int, float, bool, type(None))

OnEvent = Callable[[str, dict], None]


def rfc3339(wall: float) -> str:
    """Unix time as RFC 3339 UTC with milliseconds, e.g. ``2026-04-01T09:30:00.123Z``."""
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_event_data(data: dict) -> dict:
    """``data`` itself when it is a flat dict of JSON scalars.

    :raises TypeError: for anything else (an array, bytes, a nested object): a camera
        event never carries image data.
    """
    if not isinstance(data, dict):
        raise TypeError(f"event data must be a dict, got {type(data).__name__}")
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, _JSON_SCALARS):
            raise TypeError(f"event data {key!r} is a {type(value).__name__}: only JSON scalars may leave the camera")
    return data


class FrameProcessor:
    """Runs presence, codes and shelf on one frame at a time; no threads of its own.

    :param on_event: ``on_event(kind, data)`` for every event (see the module docstring).
    :param meter: presence measurement, or None for no presence.
    :param tracker: presence hysteresis (with ``meter``).
    :param footfall: footfall counter (with ``meter``), or None.
    :param reader: barcode reader, or None for no codes.
    :param codes_region: where codes are decoded (its bounding box).
    :param every_n_frames: decode codes on every n-th frame.
    :param debouncer: makes a code held up one scan.
    :param verifier: checks app QR tokens; None ignores them.
    :param shelf: shelf zones, or None.
    :param codes_need_presence: with presence on, decode codes only while someone is there (or
        appearing in this frame): someone must hold a code up, and an empty scene then costs the
        presence measure alone (0.5 ms at 640x480 instead of 2 ms with zxing-cpp on every frame).
    """

    def __init__(self, on_event: OnEvent, *, meter: MotionMeter | None = None,
                 tracker: PresenceTracker | None = None, footfall: FootfallCounter | None = None,
                 reader: BarcodeReader | None = None, codes_region: Polygon = FULL_FRAME, every_n_frames: int = 1,
                 debouncer: ScanDebouncer | None = None, verifier: AppTokenVerifier | None = None,
                 shelf: ShelfWatcher | None = None, codes_need_presence: bool = True):
        if meter is not None and tracker is None:
            tracker = PresenceTracker()
        self._on_event = on_event
        self.meter = meter
        self.tracker = tracker
        self.footfall = footfall
        self.reader = reader
        self.codes_region = codes_region
        self.every_n_frames = max(1, every_n_frames)
        self.debouncer = debouncer or ScanDebouncer()
        self.verifier = verifier
        self.shelf = shelf
        self.codes_need_presence = codes_need_presence
        self._foreground = 0.0
        self._epoch: int | None = None
        self._last: Frame | None = None
        self._last_mono = 0.0
        self._lock = threading.Lock()
        self._times: collections.deque[float] = collections.deque(maxlen=200)
        self.frames = 0
        self.counts: collections.Counter[str] = collections.Counter()
        self.ignored_codes = 0
        self.callback_errors = 0
        self._warned_no_verifier = False

    # ------------------------------------------------------------------ frames

    def process(self, frame: Frame) -> None:
        """Run every enabled stage on ``frame`` (masked already) and emit what happened."""
        started = time.perf_counter()
        if frame.epoch != self._epoch:
            if self._epoch is not None:
                logger.debug("camera source reopened: presence background and shelf motion reset")
                if self.meter is not None:
                    self.meter.reset()
                if self.shelf is not None:
                    self.shelf.reset_motion()
            self._epoch = frame.epoch
        self._last = frame
        self._last_mono = time.monotonic()
        if self.meter is not None:
            self._presence(frame, self.meter)
        if self.reader is not None and frame.seq % self.every_n_frames == 0 and self._someone_there():
            self._codes(frame, self.reader)
        if self.shelf is not None:
            for event in self.shelf.update(frame.image, frame.t):
                data: dict[str, object] = {"zone": event.zone, "gtin": event.gtin}
                if event.kind != "pickup":
                    data["out_s"] = event.duration_s
                self._emit(event.kind, data)
        elapsed = time.perf_counter() - started
        with self._lock:
            self.frames += 1
            self._times.append(elapsed)

    def _someone_there(self) -> bool:
        if not self.codes_need_presence or self.meter is None:
            return True
        assert self.tracker is not None, "a meter comes with a tracker (__init__)"
        return self.tracker.present or self._foreground >= self.tracker.on_fraction

    def idle(self, lost: bool = False) -> None:
        """No frame came for a while; with ``lost`` the source is down: presence ends now."""
        frame = self._last
        if frame is None or self.tracker is None:
            return
        if lost:
            change = self.tracker.end()
            if self.meter is not None:
                self.meter.reset()
        else:
            change = self.tracker.tick(frame.t + (time.monotonic() - self._last_mono))
        if change is not None:
            self._presence_change(change, frame)

    def _wall(self, frame: Frame, t: float) -> float:
        return frame.wall - (frame.t - t)

    def _presence(self, frame: Frame, meter: MotionMeter) -> None:
        tracker = self.tracker
        assert tracker is not None, "a meter comes with a tracker (__init__)"
        fraction = self._foreground = meter.measure(frame.image, frame.t, present=tracker.present)
        change = tracker.update(frame.t, fraction)
        if change is not None:
            self._presence_change(change, frame)
        if self.footfall is not None:
            for start, interval, count in self.footfall.tick(frame.wall):
                self._emit("footfall", {"interval_start": rfc3339(start), "interval_s": interval, "count": count})

    def _presence_change(self, change: PresenceChange, frame: Frame) -> None:
        started = rfc3339(self._wall(frame, change.started))
        if change.kind == "start":
            if self.footfall is not None:
                for start, interval, count in self.footfall.add(self._wall(frame, change.started)):
                    self._emit("footfall", {"interval_start": rfc3339(start), "interval_s": interval,
                                            "count": count})
            self._emit("presence-start", {"started": started})
        else:
            ended, dwell_s = change.ended, change.dwell_s
            assert ended is not None and dwell_s is not None, "an end has its time"
            self._emit("presence-end", {"started": started, "ended": rfc3339(self._wall(frame, ended)),
                                        "dwell_s": round(dwell_s, 3)})

    def _codes(self, frame: Frame, reader: BarcodeReader) -> None:
        image = frame.image
        if not is_full_frame(self.codes_region):
            height, width = image.shape[:2]
            x0, y0, x1, y1 = bounding_box(self.codes_region, width, height)
            image = image[y0:y1, x0:x1]
        for code in reader.decode(image):
            if code.format == "qr-code" and is_app_token(code.text):
                if self.debouncer.seen(("app", code.text), frame.t):
                    self._app_token(code.text)
                continue
            gtin = gtin_of(code)
            if gtin is None:
                self.ignored_codes += 1
                logger.debug("ignored a %s code (%d characters): not a product or app code", code.format,
                             len(code.text))
                continue
            if self.debouncer.seen(("gtin", gtin), frame.t):
                self._emit("scan", {"gtin": gtin, "format": code.format})

    def _app_token(self, text: str) -> None:
        if self.verifier is None:
            if not self._warned_no_verifier:
                logger.warning("an app QR code was shown but no app QR public key is configured: ignored")
                self._warned_no_verifier = True
            return
        try:
            identification = self.verifier.verify(text)
        except AppTokenError as error:
            logger.info("app QR code refused: %s", error.reason)
            self._emit("app-identification", {"customer": None, "assurance": "none", "expires": None,
                                              "reason": error.reason})
            return
        logger.info("app QR code accepted (key %d)", identification.key_id)
        self._emit("app-identification", {"customer": identification.customer,
                                          "assurance": identification.assurance.value,
                                          "expires": rfc3339(identification.expires), "reason": None})

    def _emit(self, kind: str, data: dict) -> None:
        check_event_data(data)
        with self._lock:
            self.counts[kind] += 1
        try:
            self._on_event(kind, data)
        except Exception:
            self.callback_errors += 1
            logger.exception("camera on_event callback failed for %s", kind)

    # ------------------------------------------------------------------ health

    def health(self) -> dict:
        """Processing time (mean and p95 over the last 200 frames, ms), frames, events by kind."""
        with self._lock:
            times = sorted(self._times)
            counts = dict(self.counts)
            frames = self.frames
        mean = sum(times) / len(times) * 1000 if times else None
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))] * 1000 if times else None
        return {"frames_processed": frames, "processing_ms": None if mean is None else round(mean, 3),
                "processing_p95_ms": None if p95 is None else round(p95, 3),
                "present": bool(self.tracker and self.tracker.present), "events": counts,
                "ignored_codes": self.ignored_codes, "callback_errors": self.callback_errors,
                "zones": self.shelf.states() if self.shelf is not None else {}}


class CameraPipeline:
    """A frame source and a :class:`FrameProcessor` on their own threads.

    :param source: where frames come from (masked by the source).
    :param processor: what is done with them.
    """

    def __init__(self, source: FrameSource, processor: FrameProcessor):
        self.source = source
        self.processor = processor
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the source and the ``camera-pipeline`` thread.

        :raises RuntimeError: when already started.
        """
        if self._thread is not None:
            raise RuntimeError("the camera pipeline was started already")
        self.source.start()
        self._thread = threading.Thread(target=self._run, name="camera-pipeline", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop both threads; a presence in progress ends."""
        self._stop.set()
        self.source.stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_JOIN_S)
            if thread.is_alive():
                logger.warning("the camera-pipeline thread did not stop within %.0f s", STOP_JOIN_S)
        self.processor.idle(lost=True)

    def health(self) -> dict:
        """The source's health (``state``, ``fps``, ``dropped_frames`` …) with the processor's."""
        return {**self.source.health(), **self.processor.health()}

    def _run(self) -> None:
        waited = 0.0
        off_s = self.processor.tracker.off_s if self.processor.tracker is not None else 2.0
        while not self._stop.is_set():
            frame = self.source.read(timeout=READ_TIMEOUT_S)
            if frame is None:
                if self._stop.is_set():
                    break
                if self.source.ended:
                    self.processor.idle(lost=True)
                    logger.info("camera source ended: the pipeline waits for stop")
                    self._stop.wait()
                    break
                waited += READ_TIMEOUT_S
                lost = self.source.health()["state"] != "ok" or waited >= max(off_s, 1.0) * 2
                self.processor.idle(lost=lost)
                continue
            waited = 0.0
            try:
                self.processor.process(frame)
            except Exception:
                # A bug in a stage must not stop the camera: log it and go on with the next frame.
                logger.exception("processing a camera frame failed")
        logger.debug("camera-pipeline stopped")


def build_pipeline(config: CameraConfig, on_event: OnEvent, credentials: Credentials | None = None,
                   **source_options) -> CameraPipeline:
    """A pipeline as ``config`` describes it (not started).

    :param config: the ``[camera]`` section.
    :param on_event: receives every event.
    :param credentials: for a stream's ``camera-username`` / ``camera-password``.
    :param source_options: passed to :class:`~.capture.OpenCvSource` (e.g. ``opener`` in tests).
    :raises ImportError: when OpenCV or zxing-cpp is missing.
    """
    from .app_qr import public_key_from_hex
    from .barcodes import one_opencv_thread
    from .capture import parse_source

    # Frames are small and the capture and pipeline threads are two already: OpenCV's own pool
    # would spin a worker per core after every resize and colour conversion (see one_opencv_thread).
    one_opencv_thread()
    source_text = config.source
    if credentials is not None and parse_source(source_text).kind == "stream":
        source_text = with_credentials(source_text, credentials.get(CAMERA_USERNAME), credentials.get(CAMERA_PASSWORD))
    mask = PrivacyMask(tuple(check_polygon(polygon) for polygon in config.masks))
    source = OpenCvSource(source_text, width=config.width, height=config.height, fps=config.fps,
                          pace=config.pace, loop=config.loop, open_timeout_s=config.open_timeout_s,
                          read_timeout_s=config.read_timeout_s, rtsp_transport=config.rtsp_transport,
                          fourcc=config.fourcc, queue_size=config.queue_size, mask=mask,
                          retry_min_s=config.reconnect_min_s, retry_max_s=config.reconnect_max_s, **source_options)
    presence = config.presence
    meter = tracker = footfall = None
    if presence.enabled:
        meter = MotionMeter(_polygon(presence.region), width=presence.width, pixel_threshold=presence.pixel_threshold,
                            learn_s=presence.learn_s, absorb_s=presence.absorb_s)
        tracker = PresenceTracker(presence.on_fraction, presence.off_fraction, presence.on_frames, presence.off_s)
        footfall = FootfallCounter(presence.footfall_interval_s)
    codes = config.codes
    reader = verifier = None
    if codes.enabled:
        reader = BarcodeReader(codes.formats, enhance=codes.enhance)
        if config.app_qr.public_keys:
            verifier = AppTokenVerifier({int(key_id): public_key_from_hex(key)
                                         for key_id, key in config.app_qr.public_keys.items()},
                                        max_ttl_s=config.app_qr.max_ttl_s, leeway_s=config.app_qr.leeway_s)
    shelf = None
    if config.shelf.zones:
        s = config.shelf
        shelf = ShelfWatcher([Zone(zone.name, zone.gtin, _polygon(zone.polygon)) for zone in s.zones],
                             width=s.width, pixel_threshold=s.pixel_threshold, drift_s=s.drift_s,
                             motion_fraction=s.motion_fraction, settle_frames=s.settle_frames,
                             lift_fraction=s.lift_fraction, return_fraction=s.return_fraction,
                             empty_after_s=s.empty_after_s)
    processor = FrameProcessor(on_event, meter=meter, tracker=tracker, footfall=footfall, reader=reader,
                               codes_region=_polygon(codes.region), every_n_frames=codes.every_n_frames,
                               debouncer=ScanDebouncer(codes.hold_s), verifier=verifier, shelf=shelf,
                               codes_need_presence=codes.only_when_present)
    return CameraPipeline(source, processor)


def _polygon(points) -> Polygon:
    return tuple((float(x), float(y)) for x, y in points)
