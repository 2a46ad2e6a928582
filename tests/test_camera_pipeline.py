"""The [camera] configuration and the pipeline on its threads: health, a lost source ends presence,
a failing callback is not fatal."""

from __future__ import annotations

import time
import tomllib

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from edge_agent.camera.app_qr import public_key_hex
from edge_agent.camera.capture import ThreadedSource
from edge_agent.camera.config import CameraConfig
from edge_agent.camera.pipeline import CameraPipeline, FrameProcessor, build_pipeline, rfc3339
from edge_agent.camera.presence import MotionMeter, PresenceTracker
from tests.support.camera_scenes import background, draw_person, presence_video
from tests.support.faults import wait_until

EXAMPLE = """
[camera]
source = "rtsp://cam.local:554/stream1"
fps = 15
masks = [[[0.8, 0.0], [1.0, 0.0], [1.0, 0.3], [0.8, 0.3]]]

[camera.presence]
region = [[0.1, 0.2], [0.9, 0.2], [0.9, 1.0], [0.1, 1.0]]
off_s = 3

[camera.codes]
formats = ["ean-13", "ean-8", "qr-code"]
hold_s = 2

[camera.app_qr]
public_keys = { "1" = "%s" }

[[camera.shelf.zones]]
name = "hook-1"
gtin = "4006381333931"
polygon = [[0.1, 0.1], [0.3, 0.1], [0.3, 0.4], [0.1, 0.4]]
"""


def parse(text: str) -> CameraConfig:
    return CameraConfig.model_validate(tomllib.loads(text)["camera"])


def test_an_example_configuration_parses_with_defaults():
    config = parse(EXAMPLE % ("ab" * 32))
    assert config.width == 640 and config.height == 480 and config.queue_size == 2
    assert config.presence.on_frames == 2 and config.presence.off_s == 3
    assert config.codes.formats == ["ean-13", "ean-8", "qr-code"]
    assert config.shelf.zones[0].gtin == "04006381333931"
    assert config.masks[0][0] == [0.8, 0.0]
    assert CameraConfig(source="0").codes.formats == ["ean-13", "ean-8", "upc-a", "upc-e", "qr-code"]


@pytest.mark.parametrize(("change", "message"), [
    ({"colour": True}, "Extra inputs are not permitted"),
    ({"masks": [[[0.0, 0.0], [1.5, 0.0], [1.0, 1.0]]]}, "outside the frame"),
    ({"masks": [[[0.0, 0.0], [1.0, 0.0]]]}, "at least 3 points"),
    ({"codes": {"formats": ["ean13"]}}, "Input should be"),
    ({"presence": {"on_fraction": 0.01, "off_fraction": 0.02}}, "off_fraction must not exceed"),
    ({"app_qr": {"public_keys": {"1": "00"}}}, "32 bytes"),
    ({"app_qr": {"public_keys": {"300": "ab" * 32}}}, "0-255"),
    ({"shelf": {"zones": [{"name": "a", "gtin": "4006381333932", "polygon": [[0, 0], [1, 0], [1, 1]]}]}},
     "check digit"),
    ({"shelf": {"lift_fraction": 0.1, "return_fraction": 0.2}}, "below lift_fraction"),
    ({"reconnect_min_s": 10, "reconnect_max_s": 1}, "must not exceed"),
])
def test_mistakes_are_refused_with_their_reason(change, message):
    with pytest.raises(ValidationError, match=message):
        CameraConfig.model_validate({"source": "0", **change})


def test_build_pipeline_puts_stream_credentials_in_the_url_but_never_in_health():
    class Credentials:
        def get(self, name):
            return {"camera-username": "viewer", "camera-password": "s3cret"}.get(name)

    opened = []
    config = parse(EXAMPLE % public_key_hex(Ed25519PrivateKey.generate()))
    pipeline = build_pipeline(config, lambda kind, data: None, Credentials(),
                              opener=lambda spec: opened.append(spec.target))
    pipeline.start()
    try:
        wait_until(lambda: opened, 5, "open attempt")
        health = pipeline.health()
    finally:
        pipeline.stop()
    assert opened[0] == "rtsp://viewer:s3cret@cam.local:554/stream1"
    assert "s3cret" not in str(health) and health["source"] == "rtsp://***@cam.local:554/stream1"
    assert pipeline.processor.verifier is not None and pipeline.processor.shelf is not None


class PersonThenGone(ThreadedSource):
    """A live camera that shows someone, then fails for good (unplugged)."""

    def __init__(self, frames: int):
        super().__init__("usb-camera", live=True, retry_min_s=0.05, retry_max_s=0.1)
        self._left = frames
        self._empty = background(160, 120)
        self._person = self._empty.copy()
        draw_person(self._person, 80, 90, np.random.default_rng(1))

    def _open(self):
        if self._left <= 0:
            raise OSError(19, "No such device")

    def _read(self):
        if self._left <= 0:
            raise OSError(5, "Input/output error")
        self._left -= 1
        time.sleep(1 / 30)
        return (self._person if self._left < 40 else self._empty).copy()

    def _close(self):
        pass


def test_a_source_lost_during_a_presence_ends_it_and_health_says_failed():
    events = []
    processor = FrameProcessor(lambda kind, data: events.append((kind, data)), meter=MotionMeter(),
                               tracker=PresenceTracker(off_s=30.0))
    pipeline = CameraPipeline(PersonThenGone(frames=60), processor)
    pipeline.start()
    try:
        wait_until(lambda: [kind for kind, _ in events] == ["presence-start", "presence-end"], 10,
                   "presence ended by the lost source")
        health = pipeline.health()
    finally:
        pipeline.stop()
    assert health["state"] == "failed"
    assert "No such device" in health["last_error"] or "Input/output error" in health["last_error"]
    # A live source drops the oldest frame when the processor falls behind (a busy machine): every frame is
    # processed or counted as dropped.
    assert health["frames_processed"] + health["dropped_frames"] == 60 and health["processing_ms"] > 0
    # Ended by the loss, not by off_s (30 s) without motion. The 40 frames with someone take 1.3 s on an idle
    # machine and longer on a busy one: the bound leaves room for that.
    assert events[1][1]["dwell_s"] < 10.0


def test_a_failing_callback_is_logged_and_counted_not_fatal(tmp_path, caplog):
    video = tmp_path / "walk.avi"
    presence_video(video, empty_before=10, stand_frames=10, empty_after=30)
    calls = []

    def on_event(kind, data):
        calls.append(kind)
        raise RuntimeError("the kiosk is gone")

    config = CameraConfig.model_validate({"source": str(video), "pace": "fast", "loop": False,
                                          "presence": {"off_s": 1.0}, "codes": {"enabled": False}})
    pipeline = build_pipeline(config, on_event)
    pipeline.start()
    try:
        wait_until(lambda: pipeline.source.ended and "presence-end" in calls, 20, "video played")
    finally:
        pipeline.stop()
    # A footfall interval may end at any moment of the run (intervals follow the wall clock): only the
    # presence events have an order to keep.
    presence = [kind for kind in calls if kind != "footfall"]
    assert presence[:1] == ["presence-start"] and "presence-end" in presence
    assert pipeline.health()["callback_errors"] == len(calls)
    assert "camera on_event callback failed for presence-start" in caplog.text


def test_rfc3339_has_milliseconds_and_z():
    assert rfc3339(1_775_035_800.1234) == "2026-04-01T09:30:00.123Z"


def test_codes_are_decoded_only_while_someone_is_there_unless_configured_otherwise(tmp_path):
    from edge_agent.camera.barcodes import BarcodeReader
    from tests.support.camera_scenes import code_image, collecting, paste, run_file, write_video

    frames = []
    for _ in range(20):
        frame = background(480, 360)
        paste(frame, code_image("4006381333931", "EAN13", scale=3), 40, 40)  # in view all along
        frames.append(frame)
    video = tmp_path / "static-code.avi"
    write_video(video, frames, 15)
    gated = collecting(meter=MotionMeter(), tracker=PresenceTracker(), reader=BarcodeReader())
    assert run_file(video, gated) == []
    always = collecting(meter=MotionMeter(), tracker=PresenceTracker(), reader=BarcodeReader(),
                        codes_need_presence=False)
    assert [(kind, data["gtin"]) for _, kind, data in run_file(video, always)] == [("scan", "04006381333931")]
