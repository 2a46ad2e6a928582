"""Presence: hysteresis and footfall as plain logic, then a synthetic walk-in, stand, leave video."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.camera.presence import FootfallCounter, MotionMeter, PresenceTracker
from tests.support.camera_scenes import background, collecting, presence_video, run_file

# --------------------------------------------------------------------------- hysteresis


def feed(tracker: PresenceTracker, fractions: list[float], fps: float = 10.0) -> list[tuple[int, str, float | None]]:
    changes = []
    for index, fraction in enumerate(fractions):
        change = tracker.update(index / fps, fraction)
        if change is not None:
            changes.append((index, change.kind, change.dwell_s))
    return changes


def test_presence_starts_after_on_frames_and_ends_after_off_s_with_its_dwell():
    tracker = PresenceTracker(on_fraction=0.05, off_fraction=0.02, on_frames=2, off_s=1.0)
    fractions = [0.0] * 5 + [0.2] * 30 + [0.0] * 15
    assert feed(tracker, fractions) == [(6, "start", None), (44, "end", pytest.approx(2.9))]  # 1 s after frame 34


def test_a_single_noisy_frame_is_not_presence_and_short_gaps_do_not_end_it():
    tracker = PresenceTracker(on_fraction=0.05, off_fraction=0.02, on_frames=2, off_s=1.0)
    # one spike; then someone whose measure dips below off_fraction for 0.5 s (standing very still)
    fractions = [0.0, 0.3, 0.0, 0.0] + [0.1] * 10 + [0.0] * 5 + [0.1] * 10 + [0.0] * 12
    changes = feed(tracker, fractions)
    assert [kind for _, kind, _ in changes] == ["start", "end"]
    assert changes[0][0] == 5


def test_between_the_thresholds_presence_holds_either_way():
    tracker = PresenceTracker(on_fraction=0.05, off_fraction=0.02, on_frames=1, off_s=0.5)
    assert feed(tracker, [0.03] * 20) == []  # never reaches on_fraction
    tracker = PresenceTracker(on_fraction=0.05, off_fraction=0.02, on_frames=1, off_s=0.5)
    assert feed(tracker, [0.1] + [0.03] * 20) == [(0, "start", None)]  # never drops below off_fraction


def test_time_without_frames_ends_presence_and_end_reports_the_last_sighting():
    tracker = PresenceTracker(on_frames=1, off_s=2.0)
    tracker.update(10.0, 0.5)
    tracker.update(11.0, 0.5)
    assert tracker.tick(12.5) is None
    change = tracker.tick(13.0)
    assert (change.kind, change.started, change.ended) == ("end", 10.0, 11.0)
    tracker.update(20.0, 0.5)
    assert tracker.end().dwell_s == 0.0
    assert tracker.end() is None


def test_thresholds_out_of_order_are_refused():
    with pytest.raises(ValueError):
        PresenceTracker(on_fraction=0.01, off_fraction=0.02)
    with pytest.raises(ValueError):
        PresenceTracker(on_frames=0)


def test_footfall_counts_presence_starts_per_aligned_interval():
    counter = FootfallCounter(60)
    assert counter.tick(1000.0) == []  # 960..1020
    assert counter.add(1001.0) == []
    assert counter.add(1019.0) == []
    assert counter.add(1021.0) == [(960.0, 60, 2)]
    assert counter.tick(1079.9) == []
    assert counter.tick(1080.0) == [(1020.0, 60, 1)]
    assert counter.tick(1140.0) == [(1080.0, 60, 0)]  # an empty minute is reported too
    assert counter.tick(5000.0) == [(1140.0, 60, 0)]  # a long gap: one interval, not every empty one


# --------------------------------------------------------------------------- the meter on synthetic frames


def test_meter_sees_a_figure_and_not_the_noise_and_resets_on_a_lighting_change():
    rng = np.random.default_rng(1)
    scene = background(320, 240)
    meter = MotionMeter()
    for index in range(10):
        noisy = np.clip(scene.astype(np.int16) + rng.integers(-4, 5, scene.shape), 0, 255).astype(np.uint8)
        assert meter.measure(noisy, index / 10) == 0.0
    person = scene.copy()
    person[60:220, 140:180] = 30
    assert meter.measure(person, 1.0) > 0.05
    darker = (scene * 0.4).astype(np.uint8)
    assert meter.measure(darker, 1.1) == 0.0
    assert meter.resets == 1
    assert meter.measure(darker, 1.2) == 0.0


def test_meter_counts_only_its_region():
    scene = background(320, 240)
    meter = MotionMeter(region=((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)))
    meter.measure(scene, 0.0)
    left = scene.copy()
    left[40:200, 20:120] = 20
    assert meter.measure(left, 0.1) == 0.0
    right = scene.copy()
    right[40:200, 200:300] = 20
    assert meter.measure(right, 0.2) > 0.2


# --------------------------------------------------------------------------- the whole stage on a video


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    path = tmp_path_factory.mktemp("presence") / "walk.avi"
    return path, presence_video(path, fps=15.0, stand_frames=60)


def test_walk_in_stand_leave_gives_one_presence_with_its_dwell_and_footfall(walk):
    path, scene = walk
    processor = collecting(meter=MotionMeter(), tracker=PresenceTracker(off_s=1.0), footfall=FootfallCounter(2.0))
    events = run_file(path, processor)
    starts = [(seq, data) for seq, kind, data in events if kind == "presence-start"]
    ends = [(seq, data) for seq, kind, data in events if kind == "presence-end"]
    assert len(starts) == 1 and len(ends) == 1
    start_seq = starts[0][0]
    assert scene.enter_frame <= start_seq <= scene.enter_frame + 2, "presence raised within 3 frames"
    end_seq, end = ends[0]
    assert scene.leave_frame <= end_seq <= scene.leave_frame + 15 + 2  # off_s = 1 s at 15 fps
    walked_s = (scene.leave_frame - scene.enter_frame) / scene.fps
    assert end["dwell_s"] == pytest.approx(walked_s, abs=0.3)
    assert end["started"] == starts[0][1]["started"]
    footfall = [data for _, kind, data in events if kind == "footfall"]
    assert sum(data["count"] for data in footfall) == 1
    assert all(data["interval_s"] == 2.0 and data["interval_start"].endswith("Z") for data in footfall)


def test_a_masked_out_region_sees_nobody(walk):
    from edge_agent.camera.privacy import PrivacyMask

    path, _ = walk
    processor = collecting(meter=MotionMeter(), tracker=PresenceTracker(off_s=1.0))
    everything = PrivacyMask([((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))])
    assert run_file(path, processor, mask=everything) == []
