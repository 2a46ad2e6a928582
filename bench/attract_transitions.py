"""Background-only frames per attract transition, and a transition's frame time next to a steady frame's.

Ours, all real: Mosquitto, and the kiosk process (``python -m kiosk --frame-record FILE``) on Xvfb looping a
pack of real PNG images and MPEG-4 videos (``tests/support/attract_pack.py``: 3 images and 2 videos in turn,
2 s each), then switched to a second pack by the agent's retained ``local/content-active`` (published here as
the agent publishes it; the kiosk's ``request/content-loaded`` is answered here). The kiosk's frame recorder
(``kiosk/frame_recorder.py``) writes a line for every frame it draws: after the frame is drawn and before
the buffer swap, the attract area is read back with ``glReadPixels`` and compared with the background colour,
and the frame's time from the clock's tick to the end of its drawing (``work_ms``) and of the read-back
(``read_ms``) are recorded.

* **background-only frames per transition**: frames whose attract area showed only the background, over the
  transitions recorded (at least 20 and the pack switch; ``--transitions``). Target: 0. Baseline, in the same
  run on the same display and pack: ``_kivy_attract_naive_app.py``, a bare Kivy loop that changes item when the
  item ends (an image's ``source`` set then, a video's player shown once loaded), as the kiosk did before,
  its frames read back the same way.
* **transition frame vs steady frame**: the frame time (``work_ms + read_ms``: the read-back waits for
  software GL's rasteriser, so it is part of drawing the frame) of the frames that showed a new item,
  against the other frames on Bereik in the same run (a video playing, captions), p50 and p95. The switch's
  frame (it takes the new pack into use) is shown beside them. Information: a transition swaps widgets and
  sets a caption, so it costs more than a video frame; the promise is that it costs no gap.

    .venv/bin/python bench/attract_transitions.py [--quick] [--rounds N] [--transitions N] [-v]
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _common as common
import _gui as gui
from _common import Row

from edge_agent.contract import COMMANDS, Topics, encode
from edge_agent.contract.catalogue import CONTENT_ACTIVE
from tests.support.attract_pack import around, attract_pack, background_only, frames, transitions
from tests.support.kiosk import answer
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import Capture, Publisher
from tests.support.xvfb import Xvfb

TRANSITIONS = 22  # at least 20 before the switch, and a few after it
NAIVE_APP = Path(__file__).resolve().parent / "_kivy_attract_naive_app.py"


def frame_ms(frame: dict) -> float:
    return frame["work_ms"] + frame["read_ms"]


def one_run(index: int, workdir: Path, broker: Mosquitto, xvfb: Xvfb, first: Path, second: Path, count: int,
            verbose: bool) -> list[dict]:
    """One kiosk looping ``first`` for ``count`` transitions, switched to ``second``, then three more; its frames."""
    record = workdir / f"frames-{index}.jsonl"
    status = workdir / f"status-{index}.json"
    app = gui.kiosk(xvfb, workdir, broker.port, "--content", str(first), "--frame-record", str(record),
                    "--status-file", str(status), name=f"kiosk-{index}")
    topics = Topics(common.STORE_ID, common.DEVICE_ID)
    requests = Capture(broker.port, [COMMANDS["content-loaded"].topic_for(topics.store, topics.device)])
    publisher = Publisher(broker.port)
    try:
        def shown() -> int:
            return len(transitions(frames(record)))

        def wait_for(count: int, timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while shown() < count:
                app.check()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{shown()} of {count} transitions in {timeout:.0f} s; "
                                       f"log:\n{app.log()[-2000:]}")
                time.sleep(0.2)

        wait_for(count, timeout=60 + count * 6)
        active = {"pack": "gapless", "version": 2, "pack_version": "2", "path": str(second)}
        _, raw = encode(CONTENT_ACTIVE, {"active": active, "previous": None, "staged": None})
        topic = CONTENT_ACTIVE.topic_for(topics.store, topics.device)
        publisher.publish(topic, raw, retain=True)
        result = COMMANDS["content-loaded"].response.model_validate({"fallback": False, "active": None})
        report = answer(publisher, topics, requests, "content-loaded", result)
        if not report["ok"]:
            raise RuntimeError(f"the kiosk did not load the second pack: {report['reason']}")
        wait_for(count + 4, timeout=60)
        publisher.publish(topic, b"", retain=True)
        time.sleep(1.0)  # the recorder writes its lines every 0.5 s
    finally:
        app.stop()
        requests.close()
        publisher.close()
    recorded = frames(record)
    if verbose:
        print(f"run {index}: {len(recorded)} frames, {len(transitions(recorded))} transitions, "
              f"{len(background_only(recorded))} background-only", flush=True)
        if background_only(recorded):
            print(around(recorded, background_only(recorded)), flush=True)
    return recorded


def naive_run(index: int, workdir: Path, xvfb: Xvfb, pack: Path, count: int, verbose: bool) -> list[dict]:
    """The baseline loop on ``pack`` for ``count`` transitions; its frames."""
    record = workdir / f"naive-{index}.jsonl"
    app = gui.App(f"naive-{index}", [sys.executable, str(NAIVE_APP), "--pack", str(pack), "--record", str(record),
                                     "--size", gui.SIZE, "--multisamples", gui.MULTISAMPLES], xvfb, workdir)
    try:
        deadline = time.monotonic() + 60 + count * 6
        while len(transitions(frames(record))) < count:
            app.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the baseline loop made too few transitions; log:\n{app.log()[-2000:]}")
            time.sleep(0.2)
    finally:
        app.stop()
    recorded = frames(record)
    if verbose:
        print(f"baseline {index}: {len(recorded)} frames, {len(transitions(recorded))} transitions, "
              f"{len(background_only(recorded))} background-only", flush=True)
    return recorded


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0], rounds=1)
    parser.add_argument("--transitions", type=int, default=None,
                        help=f"transitions before the switch (default {TRANSITIONS}, quick 3)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    runs = common.rounds_of(args)
    count = args.transitions or (3 if args.quick else TRANSITIONS)
    workdir = Path(tempfile.mkdtemp(prefix="bench-attract-"))
    broker = Mosquitto(workdir=workdir / "mosquitto").start()
    xvfb = Xvfb().start()
    recorded: list[dict] = []
    naive: list[dict] = []
    try:
        first = attract_pack(workdir / "gapless-1", "1", caption="Eerste")
        second = attract_pack(workdir / "gapless-2", "2", caption="Tweede", images=2, videos=1)
        for index in range(runs):
            recorded.extend(one_run(index, workdir, broker, xvfb, first, second, count, args.verbose))
            naive.extend(naive_run(index, workdir, xvfb, first, count + 4, args.verbose))
    finally:
        xvfb.close()
        broker.close()
        shutil.rmtree(workdir, ignore_errors=True)

    swaps = transitions(recorded)
    swap_ids = {(frame["n"], frame["t"]) for frame in swaps}
    switch = [frame for frame, before in zip(swaps[1:], swaps, strict=False) if frame["pack"] != before["pack"]]
    # Timed: what follows each run's start (its first item, swapped in from the built-in texts as the pack loads).
    timed = [frame for frame in swaps if frame["shows"] > 1]
    steady = [frame for frame in recorded if frame["background_only"] is not None and frame["shows"] >= 1
              and (frame["n"], frame["t"]) not in swap_ids]
    blank = background_only(recorded)
    per_transition = len(blank) / len(swaps) if swaps else float("nan")
    swap_ms = [frame_ms(frame) for frame in timed if frame not in switch]
    steady_ms = [frame_ms(frame) for frame in steady]
    switch_ms = [frame_ms(frame) for frame in switch]
    p50, steady_p50 = common.median(swap_ms), common.median(steady_ms)
    p95, steady_p95 = common.percentile(swap_ms, 95), common.percentile(steady_ms, 95)
    naive_swaps, naive_blank = transitions(naive), background_only(naive)
    naive_per_transition = len(naive_blank) / len(naive_swaps) if naive_swaps else float("nan")
    naive_ms = [frame_ms(frame) for frame in naive_swaps if frame["shows"] > 1]
    rows = [
        Row("background-only frames per transition", per_transition, naive_per_transition, "frames",
            per_transition / naive_per_transition if naive_per_transition else None, "0",
            len(blank) == 0 and len(swaps) >= count,
            note=f"{len(blank)} background-only frames over {len(swaps)} transitions ({len(switch)} pack switches), "
                 f"{sum(1 for f in recorded if f['background_only'] is not None)} frames read back"),
        Row("frame time: transition vs steady, p50", p50, steady_p50, "ms", p50 / steady_p50 if steady_p50 else None,
            "info", None, swap_ms, steady_ms),
        Row("frame time: transition vs steady, p95", p95, steady_p95, "ms", p95 / steady_p95 if steady_p95 else None,
            "info", None),
        Row("frame time: transition, ours vs the baseline loop's, p50", p50, common.median(naive_ms), "ms",
            p50 / common.median(naive_ms) if naive_ms else None, "info", None, swap_ms, naive_ms,
            note=f"baseline: {len(naive_blank)} background-only frames over {len(naive_swaps)} transitions"),
        Row("frame time: the pack switch's frame vs steady p50", common.median(switch_ms), steady_p50, "ms",
            common.median(switch_ms) / steady_p50 if switch_ms and steady_p50 else None, "info", None, switch_ms),
    ]
    notes = [(f"{runs} run(s) of {count} transitions, a pack switch (content-active) and 4 more; window {gui.SIZE} "
              "on Xvfb (software GL); items 2 s: 3 PNG images 960x540, 2 MPEG-4 videos 320x180 at 25 fps"),
             ("frame time = clock tick -> end of drawing + the read-back (glReadPixels waits for llvmpipe's "
              "rasteriser); baseline: the run's other frames on Bereik (video frames, captions); the kiosk's start "
              "(its built-in texts, then the pack's first item) is left out of both")]
    return common.finish("attract transitions: background-only frames, transition frame vs steady frame", args,
                         rows, notes)


if __name__ == "__main__":
    sys.exit(main())
