"""Frame sources: the file that vanishes mid-stream and comes back, a source that raises, stale frames
dropped, URLs without passwords."""

from __future__ import annotations

import itertools
import threading
import time

import cv2
import numpy as np
import pytest

from edge_agent.camera.capture import (
    FAILED,
    OK,
    OpenCvSource,
    ThreadedSource,
    parse_source,
    redact,
    with_credentials,
)
from tests.support.camera_scenes import background, write_video
from tests.support.faults import wait_until


def small_video(path, frames: int = 30, fps: float = 30.0):
    base = background(160, 120)
    write_video(path, (np.roll(base, index * 3, axis=1) for index in range(frames)), fps)
    return path


def drain(source, until, timeout: float = 10.0):
    """Read frames until ``until(frames)`` is true; returns the frames."""
    frames = []
    deadline = time.monotonic() + timeout
    while not until(frames):
        if time.monotonic() > deadline:
            raise TimeoutError(f"after {len(frames)} frames: {source.health()}")
        frame = source.read(timeout=0.1)
        if frame is not None:
            frames.append(frame)
    return frames


def test_source_strings_are_classified():
    assert parse_source("0").kind == "device" and parse_source("0").target == 0
    assert parse_source("/dev/video2").kind == "device"
    assert parse_source("rtsp://cam.local:554/stream1").kind == "stream"
    assert parse_source("https://cam.local/mjpg").kind == "stream"
    assert parse_source("demo/attract.avi").kind == "file"
    with pytest.raises(ValueError):
        parse_source("  ")


def test_stream_passwords_never_show():
    url = with_credentials("rtsp://cam.local:554/stream1", "viewer", "p@ss:word")
    assert url == "rtsp://viewer:p%40ss%3Aword@cam.local:554/stream1"
    assert redact(url) == "rtsp://***@cam.local:554/stream1"
    assert with_credentials("rtsp://old:x@cam.local/s", None, None) == "rtsp://old:x@cam.local/s"
    source = OpenCvSource(url, opener=lambda spec: None, retry_min_s=0.01, retry_max_s=0.02)
    source.start()
    try:
        health = wait_until(lambda: source.health()["errors"] and source.health(), 5, "open failure")
    finally:
        source.stop()
    assert "p%40ss" not in str(health) and "viewer" not in str(health)
    assert health["source"] == "rtsp://***@cam.local:554/stream1"


def test_a_looped_file_plays_again_and_again(tmp_path):
    source = OpenCvSource(str(small_video(tmp_path / "loop.avi", frames=10)), pace="fast", loop=True)
    source.start()
    try:
        frames = drain(source, lambda got: len(got) >= 35)
    finally:
        source.stop()
    assert [frame.seq for frame in frames] == list(range(35))  # fast files: nothing dropped
    assert [frame.epoch for frame in frames[:10]] == [1] * 10 and frames[10].epoch == 2
    assert frames[1].t - frames[0].t == pytest.approx(1 / 30)  # time from the file's frame rate
    assert source.health()["reconnects"] == 0


def test_file_vanishing_mid_stream_fails_with_backoff_and_comes_back(tmp_path):
    path = small_video(tmp_path / "camera.avi", frames=20)
    source = OpenCvSource(str(path), pace="fast", loop=True, retry_min_s=0.05, retry_max_s=0.2)
    source.start()
    try:
        drain(source, lambda got: len(got) >= 5)
        path.rename(tmp_path / "gone.avi")  # the rest of the open file still plays, then it is gone
        wait_until(lambda: source.read(timeout=0.05) is None and source.health()["state"] == FAILED, 10,
                   "source failed")
        health = source.health()
        assert health["last_error"].startswith("SourceError: no such video file")
        errors = health["errors"]
        wait_until(lambda: source.health()["errors"] >= errors + 2, 5, "retries with backoff")
        (tmp_path / "gone.avi").rename(path)
        frames = drain(source, lambda got: len(got) >= 3)
        assert source.health()["state"] == OK
        assert source.health()["reconnects"] == 1
        assert frames[-1].epoch > 1
    finally:
        source.stop()


class FlakyCapture:
    """A real VideoCapture that raises after ``fail_after`` frames, like a driver losing its device."""

    def __init__(self, path, fail_after: int):
        self._capture = cv2.VideoCapture(str(path))
        self._left = fail_after

    def isOpened(self):
        return self._capture.isOpened()

    def read(self):
        if self._left <= 0:
            raise OSError(19, "No such device")
        self._left -= 1
        return self._capture.read()

    def get(self, prop):
        return self._capture.get(prop)

    def release(self):
        self._capture.release()


def test_a_source_that_raises_is_reopened_after_failed_opens(tmp_path):
    path = small_video(tmp_path / "flaky.avi", frames=30)
    opens = []

    def opener(spec):
        opens.append(time.monotonic())
        if len(opens) in (2, 3):
            raise OSError(16, "Device or resource busy")
        return FlakyCapture(path, fail_after=8)

    source = OpenCvSource(str(path), pace="fast", loop=True, opener=opener, retry_min_s=0.05, retry_max_s=0.4)
    source.start()
    try:
        frames = drain(source, lambda got: len(got) >= 12)
    finally:
        source.stop()
    health = source.health()
    assert len(opens) >= 4
    assert health["errors"] == 3 and health["reconnects"] >= 1
    assert "Device or resource busy" in health["last_error"] or "No such device" in health["last_error"]
    assert opens[2] - opens[1] >= 0.025 and opens[3] - opens[2] >= 0.05  # backoff, with jitter
    assert frames[8].epoch > frames[7].epoch  # consumers learn the source was reopened


class FastLiveSource(ThreadedSource):
    """A live source that makes frames as fast as it can (a camera faster than the pipeline)."""

    def __init__(self, **options):
        super().__init__("synthetic", live=True, **options)
        self.images = 0

    def _open(self):
        pass

    def _read(self):
        self.images += 1
        time.sleep(0.001)
        return np.full((8, 8, 3), self.images % 256, np.uint8)

    def _close(self):
        pass


def test_a_slow_consumer_gets_the_newest_frames_and_stale_ones_are_dropped():
    source = FastLiveSource(queue_size=2)
    source.start()
    try:
        seqs = []
        for _ in range(5):
            time.sleep(0.05)  # a slow pipeline
            seqs.append(source.read(timeout=1).seq)
        health = source.health()
    finally:
        source.stop()
    assert health["dropped_frames"] > 10  # ~200 made, 5 taken (fewer made on a loaded machine)
    assert all(later - earlier > 2 for earlier, later in itertools.pairwise(seqs))
    assert health["fps"] > 0 and health["state"] == OK


def test_masks_are_applied_in_the_capture_thread_before_anyone_sees_the_frame(tmp_path):
    from edge_agent.camera.privacy import PrivacyMask

    path = small_video(tmp_path / "masked.avi", frames=5)
    mask = PrivacyMask([((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))])
    seen_by = []
    original = mask.apply

    def apply(frame):
        seen_by.append(threading.current_thread().name)
        return original(frame)

    mask.apply = apply
    source = OpenCvSource(str(path), pace="fast", loop=False, mask=mask)
    source.start()
    try:
        frames = drain(source, lambda got: len(got) == 5)
    finally:
        source.stop()
    assert set(seen_by) == {"camera-capture"}
    for frame in frames:
        assert not frame.image[:, :79].any()  # the left half is black
        assert frame.image[:, 81:].any()
    assert "image=<120x160x3>" in repr(frames[0])


def test_start_twice_is_refused_and_stop_without_start_is_harmless(tmp_path):
    source = OpenCvSource(str(small_video(tmp_path / "x.avi", frames=3)), pace="fast")
    source.stop()
    source = OpenCvSource(str(tmp_path / "x.avi"), pace="fast")
    source.start()
    try:
        with pytest.raises(RuntimeError):
            source.start()
    finally:
        source.stop()
    assert source.health()["state"] == "stopped"
    with pytest.raises(ValueError):
        OpenCvSource("x.avi", pace="slow")
