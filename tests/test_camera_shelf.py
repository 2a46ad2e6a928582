"""Smart shelf: the zone state machine alone, then a synthetic shelf video (pickup, putback, empty)."""

from __future__ import annotations

import pytest

from edge_agent.camera.barcodes import normalise_gtin
from edge_agent.camera.shelf import EMPTY, LIFTED, STOCKED, ShelfWatcher, Zone, ZoneTracker
from tests.support.camera_scenes import collecting, run_file, shelf_video

GTINS = {"a": normalise_gtin("4006381333931"), "b": normalise_gtin("96385074"), "c": normalise_gtin("036000291452")}
ZONE = Zone("a", GTINS["a"], ((0.1, 0.1), (0.3, 0.1), (0.3, 0.5), (0.1, 0.5)))


def run(tracker: ZoneTracker, steps: list[tuple[float, float, float | None]]) -> list[tuple[float, str, float | None]]:
    events = []
    for t, motion, diff in steps:
        event = tracker.update(t, motion, diff)
        if event is not None:
            events.append((t, event.kind, event.duration_s))
        if tracker.settled and tracker.state == "learning":
            tracker.stocked()
    return events


def frames(start: float, count: int, motion: float, diff: float | None, fps: float = 10.0):
    return [(start + index / fps, motion, diff) for index in range(count)]


def tracker(**options) -> ZoneTracker:
    return ZoneTracker(ZONE, **{"settle_frames": 3, "empty_after_s": 5.0, **options})


def test_pickup_is_reported_once_the_hand_has_left_and_putback_when_it_is_back():
    zone = tracker()
    steps = (frames(0.0, 5, 0.0, 0.0)            # stocked, still
             + frames(0.5, 5, 0.3, 0.5)           # a hand in the zone: never judged while moving
             + frames(1.0, 5, 0.0, 0.6)           # settled without the product
             + frames(1.5, 4, 0.3, 0.5)
             + frames(1.9, 5, 0.0, 0.02))         # settled with the product back
    assert run(zone, steps) == [(1.2, "pickup", None), (2.1, "putback", pytest.approx(0.9))]
    assert zone.state == STOCKED


def test_a_hand_in_the_zone_that_takes_nothing_is_no_event():
    zone = tracker()
    assert run(zone, frames(0.0, 5, 0.0, 0.0) + frames(0.5, 10, 0.4, 0.7) + frames(1.5, 10, 0.0, 0.05)) == []


def test_a_zone_out_for_empty_after_s_is_out_of_stock_once_and_restocked_later():
    zone = tracker()
    steps = frames(0.0, 5, 0.0, 0.0) + frames(0.5, 3, 0.3, 0.5) + frames(0.8, 60, 0.0, 0.8) \
        + frames(6.8, 3, 0.3, 0.5) + frames(7.1, 5, 0.0, 0.0)
    events = run(zone, steps)
    assert [kind for _, kind, _ in events] == ["pickup", "out-of-stock", "restocked"]
    assert events[1][2] == pytest.approx(5.0)
    assert zone.state == STOCKED


def test_between_thresholds_the_state_holds():
    zone = tracker(lift_fraction=0.25, return_fraction=0.1)
    assert run(zone, frames(0.0, 5, 0.0, 0.0) + frames(0.5, 20, 0.0, 0.2)) == []
    assert zone.state == STOCKED
    assert run(zone, frames(2.5, 5, 0.0, 0.5) + frames(3.0, 20, 0.0, 0.2)) == [(2.5, "pickup", None)]
    assert zone.state == LIFTED


def test_people_passing_an_empty_zone_do_not_delay_the_alert():
    zone = tracker()
    steps = frames(0.0, 5, 0.0, 0.0) + frames(0.5, 3, 0.0, 0.6) + frames(0.8, 60, 0.5, 0.6)
    assert [kind for _, kind, _ in run(zone, steps)] == ["pickup", "out-of-stock"]
    assert zone.state == EMPTY


def test_bad_thresholds_and_duplicate_names_are_refused():
    with pytest.raises(ValueError):
        ZoneTracker(ZONE, lift_fraction=0.1, return_fraction=0.2)
    with pytest.raises(ValueError):
        ShelfWatcher([ZONE, ZONE])


# --------------------------------------------------------------------------- a synthetic shelf video


@pytest.fixture(scope="module")
def shelf(tmp_path_factory):
    path = tmp_path_factory.mktemp("shelf") / "shelf.avi"
    return path, shelf_video(path, fps=10.0, empty_hold_frames=70)


def test_lift_and_learn_pickup_putback_and_out_of_stock_on_video(shelf):
    path, scene = shelf
    zones = [Zone(name, GTINS[name], tuple(tuple(point) for point in polygon)) for name, polygon in scene.zones.items()]
    watcher = ShelfWatcher(zones, empty_after_s=5.0)
    events = run_file(path, collecting(shelf=watcher))
    staged = {(what, zone): frame for frame, what, zone in scene.timeline}
    assert [(kind, data["zone"]) for _, kind, data in events] == [
        ("pickup", "a"), ("putback", "a"), ("pickup", "b"), ("out-of-stock", "b")]
    (pickup_a, _, first), (putback_a, _, back), (pickup_b, _, _), (empty_b, _, empty) = events
    assert first == {"zone": "a", "gtin": GTINS["a"]}
    # Pickup once the hand is out of the zone and it settled; it may come a few frames before the
    # hand has left the picture entirely.
    assert staged[("reach-take", "a")] < pickup_a <= staged[("out", "a")] + 4
    assert staged[("reach-return", "a")] < putback_a <= staged[("back", "a")] + 4
    assert back["gtin"] == GTINS["a"] and 2.0 < back["out_s"] < 5.0
    assert staged[("reach-take", "b")] < pickup_b <= staged[("out", "b")] + 4
    assert empty_b == pytest.approx(pickup_b + 50, abs=1) and empty["out_s"] == pytest.approx(5.0, abs=0.15)
    assert watcher.states() == {"a": STOCKED, "b": EMPTY, "c": STOCKED}
