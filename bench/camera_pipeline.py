"""Camera pipeline at 640x480: sustained fps and CPU per frame vs a raw OpenCV loop; presence latency.

Scene (generated with OpenCV and written as MJPG/AVI, read back through
``VideoCapture`` on both sides): a textured store backdrop at 640x480,
30 fps; someone walks in from the left (about 1.6 s across the frame),
stands for 8 s holding a product barcode up for 2 s of it, and walks out;
empty frames before and after.

Ours: the kiosk configuration: ``OpenCvSource`` (capture thread, bounded
queue) and ``CameraPipeline`` with presence (motion against a background on
a 160 px copy, hysteresis, footfall) and barcode/QR decoding (zxing-cpp, store
formats, every frame), events to a callback.

Raw: one loop of ``cap.read()``, ``cvtColor`` to grey, ``absdiff`` with the
previous frame, ``threshold`` and ``countNonZero``: the least a motion
detector on OpenCV does. Raw capture: ``cap.read()`` alone.

1. **At the camera's rate** (the target): both sides get frames paced to
   30 fps, as a camera delivers them, for a few seconds per round; fps is
   frames processed per second of wall time and CPU is the process's CPU
   time per frame (all threads). Target: fps >= 0.95x raw capture at the
   same pace.
2. **Capacity** (information): both sides unpaced, as fast as they go (ours:
   the file source in ``fast`` mode, every frame processed).
3. **Presence latency**: frames from the first frame with someone in view to
   ``presence-start`` (ours, unpaced, every frame processed). Target: raised
   within 3 frames (on the 1st, 2nd or 3rd frame with someone in view).

Rounds alternate ours and raw (the order rotates); medians over rounds.

    .venv/bin/python bench/camera_pipeline.py [--quick] [--rounds N] [--seconds S]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import _common as common
import cv2
import numpy as np
from _common import Row

from edge_agent.camera.config import CameraConfig
from edge_agent.camera.pipeline import build_pipeline
from tests.support.camera_scenes import background, code_image, draw_person, paste, write_video

WIDTH, HEIGHT, FPS = 640, 480, 30.0
TARGET_FPS_RATIO = 0.95


def make_scene(path: Path, stand_s: float = 8.0) -> int:
    """Write the scene; returns the first frame with someone in view."""
    rng = np.random.default_rng(2)
    base = background(WIDTH, HEIGHT)
    product = code_image("4006381333931", "EAN13", scale=3)
    speed = round(WIDTH / (1.6 * FPS))
    person_h = int(HEIGHT * 0.7)
    frames = [base.copy() for _ in range(45)]
    enter = len(frames)
    x = -(person_h // 8) + speed
    while x < WIDTH // 2:
        frame = base.copy()
        draw_person(frame, x, person_h, rng)
        frames.append(frame)
        x += speed
    stand = int(stand_s * FPS)
    for index in range(stand):
        frame = base.copy()
        draw_person(frame, WIDTH // 2 + int(2 * np.sin(index / 3)), person_h, rng)
        if stand // 2 - FPS <= index < stand // 2 + FPS:
            paste(frame, product, WIDTH // 2 - product.shape[1] // 2 + (index % 3), HEIGHT // 3)
        frames.append(frame)
    while x - person_h // 8 < WIDTH:
        frame = base.copy()
        draw_person(frame, x, person_h, rng)
        frames.append(frame)
        x += speed
    frames.extend(base.copy() for _ in range(60))
    write_video(path, frames, FPS)
    return enter


def make_empty_scene(path: Path, seconds: float = 4.0) -> None:
    """The same backdrop with nobody in it (where a kiosk spends most of its day), with sensor noise."""
    rng = np.random.default_rng(4)
    base = background(WIDTH, HEIGHT).astype(np.int16)
    write_video(path, (np.clip(base + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)
                       for _ in range(int(seconds * FPS))), FPS)


# --------------------------------------------------------------------------- raw


WARMUP_S = 0.5


def raw_loop(path: Path, seconds: float | None, motion: bool = True) -> tuple[float, float, int]:
    """(fps, CPU ms per frame, first frame with >= 1 % changed pixels) of the raw loop.

    ``seconds`` None: one unpaced pass over the file; else paced to FPS for ``seconds`` (looping),
    measured after WARMUP_S.
    """
    capture = cv2.VideoCapture(str(path))
    previous = None
    frames = 0
    first_motion = -1
    interval = 1.0 / FPS
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    next_due = start_wall
    counted_from = 0
    if seconds is not None:
        warm_until = start_wall + WARMUP_S
        seconds += WARMUP_S
    while True:
        ok, frame = capture.read()
        if not ok:
            if seconds is None:
                break
            capture.release()
            capture = cv2.VideoCapture(str(path))
            continue
        if seconds is not None:
            next_due += interval
            delay = next_due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        if motion:
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if previous is not None:
                diff = cv2.absdiff(grey, previous)
                _, changed = cv2.threshold(diff, 25, 255, cv2.THRESH_BINARY)
                if first_motion < 0 and cv2.countNonZero(changed) >= 0.01 * changed.size:
                    first_motion = frames
            previous = grey
        frames += 1
        if seconds is not None:
            now = time.perf_counter()
            if warm_until and now >= warm_until:
                warm_until = None
                counted_from, start_wall, start_cpu = frames, now, time.process_time()
            if now - start_wall >= seconds - WARMUP_S and warm_until is None:
                break
    elapsed, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    capture.release()
    counted = frames - counted_from
    return counted / elapsed, cpu / max(1, counted) * 1000, first_motion


# --------------------------------------------------------------------------- ours


def ours(path: Path, seconds: float | None) -> tuple[float, float, int | None, dict]:
    """(fps, CPU ms per frame, frame of presence-start, health) of our pipeline.

    ``seconds`` None: one pass, fast mode (every frame); else paced to FPS for that long.
    """
    starts: list[int] = []
    pipeline_box: list = []

    def on_event(kind: str, data: dict) -> None:
        if kind == "presence-start":
            starts.append(pipeline_box[0].processor.frames)  # frames done before this one

    config = CameraConfig.model_validate({
        "source": str(path), "fps": FPS, "pace": "fast" if seconds is None else "realtime",
        "loop": seconds is not None, "presence": {"off_s": 1.0},
    })
    pipeline = build_pipeline(config, on_event)
    pipeline_box.append(pipeline)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    pipeline.start()
    try:
        if seconds is None:
            while not (pipeline.source.ended and pipeline.source.health()["frames"] == pipeline.processor.frames):
                time.sleep(0.005)
            counted_from = 0
        else:
            time.sleep(WARMUP_S)
            counted_from, start_wall, start_cpu = pipeline.processor.frames, time.perf_counter(), time.process_time()
            time.sleep(seconds)
        frames = pipeline.processor.frames - counted_from
        elapsed, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
        health = pipeline.health()
    finally:
        pipeline.stop()
    return frames / elapsed, cpu / max(1, frames) * 1000, (starts[0] if starts else None), health


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0], rounds=3)
    p.add_argument("--seconds", type=float, default=None, help="paced run per side and round (default 8, quick 1)")
    args = p.parse_args(argv)
    seconds = args.seconds or (1.0 if args.quick else 8.0)
    rounds = common.rounds_of(args)
    with tempfile.TemporaryDirectory(prefix="bench-camera-") as directory:
        video = Path(directory) / "scene.avi"
        enter = make_scene(video, stand_s=2.0 if args.quick else 8.0)
        empty = Path(directory) / "empty.avi"
        make_empty_scene(empty)
        idle_raw, idle_ours = [], []
        paced_raw_capture, paced_raw, paced_ours = [], [], []
        fast_raw_capture, fast_raw, fast_ours = [], [], []
        latencies, healths = [], []
        raw_first_motion = None
        for index in range(rounds):
            def run_raw():
                fast_raw_capture.append(raw_loop(video, None, motion=False))
                fast_raw.append(raw_loop(video, None))
                paced_raw_capture.append(raw_loop(video, seconds, motion=False))
                paced_raw.append(raw_loop(video, seconds))
                idle_raw.append(raw_loop(empty, seconds / 2))

            def run_ours():
                fast = ours(video, None)
                fast_ours.append(fast)
                latencies.append(None if fast[2] is None else fast[2] - enter)
                paced = ours(video, seconds)
                paced_ours.append(paced)
                healths.append(paced[3])
                idle_ours.append(ours(empty, seconds / 2))

            common.alternate(index, run_ours, run_raw)
            raw_first_motion = fast_raw[-1][2] - enter
    def fps(results):
        return [result[0] for result in results]

    def cpu(results):
        return [result[1] for result in results]

    def ratios(ours, raw):
        return [o / r for o, r in zip(ours, raw, strict=True)]  # one of each per round

    fps_ratios = ratios(fps(paced_ours), fps(paced_raw_capture))
    cpu_ratios = ratios(cpu(paced_ours), cpu(paced_raw))
    worst_latency = max((lat for lat in latencies if lat is not None), default=None)
    dropped = [h["dropped_frames"] for h in healths]
    rows = [
        Row(f"sustained fps at a {FPS:.0f} fps camera", common.median(fps(paced_ours)),
            common.median(fps(paced_raw_capture)), "fps", common.median(fps_ratios),
            f">= {TARGET_FPS_RATIO}x raw capture",
            common.median(fps_ratios) >= TARGET_FPS_RATIO, fps(paced_ours), fps(paced_raw_capture)),
        Row("  raw capture + grey + diff, same pace", None, common.median(fps(paced_raw)), "fps", None, "(info)",
            None),
        Row(f"CPU per frame at {FPS:.0f} fps (all threads)", common.median(cpu(paced_ours)),
            common.median(cpu(paced_raw)),
            "ms", common.median(cpu_ratios), "(info) vs grey+diff", None, cpu(paced_ours), cpu(paced_raw)),
        Row("  raw capture alone, same pace: CPU", None, common.median(cpu(paced_raw_capture)), "ms", None,
            "(info)", None),
        Row(f"CPU per frame at {FPS:.0f} fps, nobody in view", common.median(cpu(idle_ours)),
            common.median(cpu(idle_raw)), "ms", common.median(ratios(cpu(idle_ours), cpu(idle_raw))),
            "(info) vs grey+diff", None,
            cpu(idle_ours), cpu(idle_raw)),
        Row("capacity unpaced (every frame)", common.median(fps(fast_ours)), common.median(fps(fast_raw)), "fps",
            common.median(ratios(fps(fast_ours), fps(fast_raw))), "(info) vs grey+diff", None,
            fps(fast_ours), fps(fast_raw)),
        Row("  raw capture alone, unpaced", None, common.median(fps(fast_raw_capture)), "fps", None, "(info)", None),
        Row("CPU per frame unpaced", common.median(cpu(fast_ours)), common.median(cpu(fast_raw)), "ms",
            common.median(ratios(cpu(fast_ours), cpu(fast_raw))), "(info)", None),
        Row("presence raised, frames after entry (worst)", worst_latency, raw_first_motion, "frames", None,
            "<= 2 (within 3 frames)", worst_latency is not None and worst_latency <= 2),
        Row("dropped frames at camera pace (max)", max(dropped, default=0), None, "frames", None, "(info)", None),
    ]
    notes = [(f"640x480 MJPG/AVI, {FPS:.0f} fps, {rounds} rounds; paced runs {seconds:.0f} s per side and round; "
              "raw 'presence' column: first frame with >= 1 % of pixels changed frame to frame"),
             f"OpenCV {cv2.__version__}; ours = presence + codes (EAN-13/8, UPC-A/E, QR) on every frame"]
    return common.finish("camera pipeline: OpenCvSource + CameraPipeline vs raw OpenCV loop", args, rows, notes)


if __name__ == "__main__":
    sys.exit(main())
