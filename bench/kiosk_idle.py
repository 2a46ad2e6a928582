"""Kiosk idle CPU and resident memory vs a hello-world Kivy app in the same run.

Ours: the kiosk process (``python -m kiosk``) on Xvfb, connected to a real
Mosquitto and a running edge agent that publishes health (every 30 s, its
default), nobody present: the attract screen (Bereik) with the built-in text
attract. Baseline: a hello-world Kivy app (``_kivy_label_app.py``: one Label,
no MQTT) with the same window size on the same display. Both run at the same
time, so both see the same load from others on the machine; after a warm-up,
each measurement window reads utime+stime from ``/proc/<pid>/stat`` at its
start and end (CPU seconds per second, shown as % of one core) and samples
``VmRSS`` (and the peak ``VmHWM``) from ``/proc/<pid>/status``.

When the content pack ``content/tuincentrum/`` exists (``content.yaml``;
media made by its ``make_media.py``), two more phases run the kiosk with
``--content``:

* the shipped pack as it is, next to a fresh hello world: its attract loop
  as scheduled today (images and, for 20 s of every 44 s, a muted video).
  Information: a video against a label is not like with like.
* the realistic video case: a copy of the pack whose attract loop is its
  first video alone (so the video plays all the time), next to a bare
  ffpyplayer + Kivy video player of the same file at the same size and
  place (``_kivy_video_app.py``): the same decoding and the same rectangle
  of video, without the kiosk around it. The kiosk's CPU target is against
  that baseline.

Targets: CPU <= 1.2x the hello world on the built-in attract, CPU <= 1.5x
the bare video player with the video attract loop (medians of the
per-window ratios), resident memory <= 250 MB.

    .venv/bin/python bench/kiosk_idle.py [--quick] [--rounds N] [--window S] [-v]
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

import _common as common
import _gui as gui
from _common import Row

from edge_agent.agent import Agent
from edge_agent.credentials import Credentials
from tests.support.mosquitto import Mosquitto
from tests.support.xvfb import Xvfb

TARGET_CPU_RATIO = 1.2
TARGET_VIDEO_CPU_RATIO = 1.5
TARGET_RSS_MB = 250.0
PACK = common.ROOT / "content" / "tuincentrum"


def pack_folder(workdir: Path) -> tuple[Path | None, str | None, str]:
    """A copy of the content pack with its media made, its attract loop's first video (a path in the pack)
    or None, and a note."""
    if not (PACK / "content.yaml").is_file():
        return None, None, "content pack content/tuincentrum/ not found: measured the built-in attract only"
    import importlib.util

    folder = workdir / "tuincentrum"
    shutil.copytree(PACK, folder, ignore=shutil.ignore_patterns("__pycache__"))
    maker = folder / "make_media.py"
    if maker.is_file():
        spec = importlib.util.spec_from_file_location("bench_make_media", maker)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.build_media(folder)
    import yaml

    manifest = yaml.safe_load((folder / "content.yaml").read_text(encoding="utf-8")) or {}
    video = next((item["video"] for item in manifest.get("attract", []) if "video" in item), None)
    return folder, video, f"content pack: a copy of content/tuincentrum/ with its media built; attract video: {video}"


def video_only_pack(folder: Path, video: str, workdir: Path) -> Path:
    """A copy of the pack at ``folder`` whose attract loop is the item of ``video`` alone, always scheduled."""
    import yaml

    copy = workdir / "tuincentrum-video"
    shutil.copytree(folder, copy)
    manifest = yaml.safe_load((copy / "content.yaml").read_text(encoding="utf-8"))
    item = next(item for item in manifest["attract"] if item.get("video") == video)
    item.pop("when", None)
    manifest["attract"] = [item]
    (copy / "content.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")
    return copy


def measure(apps: dict[str, gui.App], seconds: float, samples: int = 10) -> dict[str, dict[str, float]]:
    """One window: CPU seconds per second and the median VmRSS of each app, and VmHWM at its end."""
    start = {name: (time.monotonic(), gui.cpu_seconds(app.pid), gui.rasteriser_cpu_seconds(app.pid))
             for name, app in apps.items()}
    rss: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(samples):
        time.sleep(seconds / samples)
        for name, app in apps.items():
            app.check()
            rss[name].append(gui.memory_mb(app.pid)[0])
    result = {}
    for name, app in apps.items():
        t0, cpu0, raster0 = start[name]
        elapsed = time.monotonic() - t0
        result[name] = {"cpu": (gui.cpu_seconds(app.pid) - cpu0) / elapsed,
                        "raster": (gui.rasteriser_cpu_seconds(app.pid) - raster0) / elapsed,
                        "rss": common.median(rss[name]), "hwm": gui.memory_mb(app.pid)[1]}
    return result


def phase(apps: dict[str, gui.App], windows: int, seconds: float, warmup: float, verbose: bool) -> list[dict]:
    time.sleep(warmup)
    found = []
    for index in range(windows):
        found.append(measure(apps, seconds))
        if verbose:
            print(f"window {index}: " + ", ".join(f"{name} {v['cpu'] * 100:.2f}% CPU "
                                                  f"(llvmpipe {v['raster'] * 100:.2f}%) {v['rss']:.0f} MB"
                                                  for name, v in found[-1].items()), flush=True)
    return found


def rows_for(label: str, windows: list[dict], subject: str, cpu_target: float | None,
             baseline: str = "hello") -> list[Row]:
    ours = [w[subject]["cpu"] * 100 for w in windows]
    raw = [w[baseline]["cpu"] * 100 for w in windows]
    ratios = [o / r if r > 0 else float("inf") for o, r in zip(ours, raw, strict=True)]
    ratio = common.median(ratios)
    raster = [w[subject]["raster"] * 100 for w in windows]
    raw_raster = [w[baseline]["raster"] * 100 for w in windows]
    rss = [w[subject]["rss"] for w in windows]
    raw_rss = [w[baseline]["rss"] for w in windows]
    hwm, raw_hwm = max(w[subject]["hwm"] for w in windows), max(w[baseline]["hwm"] for w in windows)
    return [
        Row(f"{label}: CPU", common.median(ours), common.median(raw), "% of a core", ratio,
            f"<= {cpu_target}x" if cpu_target else "info", ratio <= cpu_target if cpu_target else None,
            ours, raw),
        Row(f"{label}: CPU of llvmpipe threads", common.median(raster), common.median(raw_raster), "% of a core",
            None, "info", None, raster, raw_raster,
            note="Mesa's software OpenGL rasterising frames (Xvfb has no GPU); part of the CPU row"),
        Row(f"{label}: resident memory", common.median(rss), common.median(raw_rss), "MB",
            common.median(rss) / common.median(raw_rss), f"<= {TARGET_RSS_MB:.0f} MB",
            common.median(rss) <= TARGET_RSS_MB, rss, raw_rss),
        Row(f"{label}: peak resident (VmHWM)", hwm, raw_hwm, "MB", hwm / raw_hwm, f"<= {TARGET_RSS_MB:.0f} MB",
            hwm <= TARGET_RSS_MB),
    ]


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0], rounds=3)
    parser.add_argument("--window", type=float, default=None, help="seconds per measurement window (default 20, "
                                                                     "quick 3)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    windows = common.rounds_of(args)
    seconds = args.window or (3.0 if args.quick else 20.0)
    warmup = 5.0 if args.quick else 15.0
    workdir = Path(tempfile.mkdtemp(prefix="bench-kiosk-idle-"))
    broker = Mosquitto(workdir=workdir / "mosquitto").start()
    xvfb = Xvfb().start()
    agent = Agent(common.agent_config(broker.port, workdir / "agent.db"), Credentials({}))
    apps: list[gui.App] = []
    rows: list[Row] = []
    notes = []
    try:
        agent.start()
        if not agent.link.wait_connected(10):
            raise SystemExit("the agent did not connect")
        folder, video, note = pack_folder(workdir)
        notes.append(note)
        kiosk = gui.kiosk(xvfb, workdir, broker.port)
        hello = gui.label_app(xvfb, workdir, name="hello")
        apps += [kiosk, hello]
        found = phase({"kiosk": kiosk, "hello": hello}, windows, seconds, warmup, args.verbose)
        rows += rows_for("kiosk, built-in attract", found, "kiosk", cpu_target=TARGET_CPU_RATIO)
        kiosk.stop()
        hello.stop()
        if folder is not None:
            packed = gui.kiosk(xvfb, workdir, broker.port, "--content", str(folder), name="kiosk-pack")
            hello = gui.label_app(xvfb, workdir, name="hello-2")
            apps += [packed, hello]
            found = phase({"pack": packed, "hello": hello}, windows, seconds, warmup, args.verbose)
            rows += rows_for("kiosk, content pack attract", found, "pack",
                             cpu_target=None if video else TARGET_CPU_RATIO)
            packed.stop()
            hello.stop()
        if folder is not None and video is not None:
            looped = gui.kiosk(xvfb, workdir, broker.port, "--content", str(video_only_pack(folder, video, workdir)),
                               name="kiosk-video")
            player = gui.video_app(xvfb, workdir, str(folder / video), name="video-player")
            apps += [looped, player]
            found = phase({"video": looped, "player": player}, windows, seconds, warmup, args.verbose)
            rows += rows_for("kiosk, video attract loop vs bare video player", found, "video",
                             cpu_target=TARGET_VIDEO_CPU_RATIO, baseline="player")
            notes.append(f"video attract loop: the pack's {video} alone in the loop; baseline: _kivy_video_app.py "
                         "(one Kivy Video on ffpyplayer, muted, looping, at the kiosk player's size and place)")
    finally:
        for app in apps:
            app.stop()
        agent.stop()
        xvfb.close()
        broker.close()
        shutil.rmtree(workdir, ignore_errors=True)
    notes.insert(0, f"{windows} windows x {seconds:.0f} s after a {warmup:.0f} s warm-up; kiosk and hello world "
                    f"side by side on one Xvfb, window {gui.SIZE}; agent health every 30 s")
    notes.append("baseline of the first two: hello-world Kivy app (one Label, no MQTT), same window size and display, "
                 "same time")
    return common.finish("kiosk idle: CPU and memory vs hello-world Kivy and a bare Kivy video player", args, rows,
                         notes)


if __name__ == "__main__":
    raise SystemExit(main())
