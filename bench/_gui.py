"""Helpers of the kiosk benchmarks: the kiosk and the baseline Kivy app as processes, their frame logs,
their CPU time and memory from /proc.

Both apps run on one Xvfb (``tests/support/xvfb.py``), as separate processes,
with the same window size. The kiosk is placed by SDL (centred on the
1920x1920 screen), the baseline at the top left, so the windows never overlap
and neither has its buffer swaps clipped away by the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _common as common

from kiosk.config import DisplaySection
from tests.support.process import terminate
from tests.support.xvfb import Xvfb

SIZE = "800x480"
# Both apps draw with the kiosk's default anti-aliasing ([display] multisamples), so the baseline's frames
# cost what a kiosk frame with one label would.
MULTISAMPLES = str(DisplaySection.model_fields["multisamples"].default)
LABEL_APP = Path(__file__).resolve().parent / "_kivy_label_app.py"
VIDEO_APP = Path(__file__).resolve().parent / "_kivy_video_app.py"


class App:
    """One GUI process with its own KIVY_HOME and log.

    :param name: for the folder and log file.
    :param command: the command line.
    """

    def __init__(self, name: str, command: list[str], xvfb: Xvfb, workdir: Path):
        self.name = name
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "log.txt"
        env = dict(os.environ, **xvfb.env(), KIVY_HOME=str(self.workdir / "kivy-home"), KIVY_NO_ARGS="1",
                   KIVY_WINDOW="sdl2")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=common.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        """Raise when the process is gone."""
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        terminate(self.process)


def kiosk(xvfb: Xvfb, workdir: Path, port: int, *args: str, name: str = "kiosk") -> App:
    """``python -m kiosk`` (the real kiosk process) on ``xvfb``, at the benchmark's window size."""
    return App(name, [sys.executable, "-m", "kiosk", "--host", "127.0.0.1", "--port", str(port),
                      "--store", common.STORE_ID, "--device", common.DEVICE_ID, "--size", SIZE,
                      "--log-level", "WARNING", *args], xvfb, workdir)


def label_app(xvfb: Xvfb, workdir: Path, *args: str, name: str = "label-app") -> App:
    """The baseline Kivy app (``_kivy_label_app.py``): hello world, or a label fed over MQTT."""
    return App(name, [sys.executable, str(LABEL_APP), "--size", SIZE, "--multisamples", MULTISAMPLES, *args],
               xvfb, workdir)


def video_app(xvfb: Xvfb, workdir: Path, video: str, name: str = "video-app") -> App:
    """The bare video player (``_kivy_video_app.py``) of ``video``, at the kiosk's window size."""
    return App(name, [sys.executable, str(VIDEO_APP), "--size", SIZE, "--multisamples", MULTISAMPLES, "--video", video],
               xvfb, workdir)


class FrameTail:
    """Reads a :class:`kiosk.diagnostics.FrameLog` file as it grows."""

    def __init__(self, path: Path, app: App):
        self.path = path
        self.app = app
        self.events: list[dict] = []
        self._offset = 0
        self._partial = b""

    def _read(self) -> None:
        try:
            with open(self.path, "rb") as file:
                file.seek(self._offset)
                chunk = file.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        self.events.extend(json.loads(line) for line in lines if line.strip())

    def wait(self, event: str, after: int, session: str | None = None, timeout: float = 10.0) -> tuple[dict, int]:
        """The first ``event`` (for ``session`` when given) at index ``after`` or later, and the next index."""
        deadline = time.monotonic() + timeout
        while True:
            self._read()
            for index in range(after, len(self.events)):
                found = self.events[index]
                if found["event"] == event and (session is None or found["session"] == session):
                    return found, index + 1
            if time.monotonic() > deadline:
                self.app.check()
                raise TimeoutError(f"no {event} from {self.app.name} in {timeout} s; its log:\n"
                                   f"{self.app.log()[-2000:]}")
            time.sleep(0.003)

    def __len__(self) -> int:
        self._read()
        return len(self.events)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def rasteriser_cpu_seconds(pid: int) -> float:
    """CPU time of the process's Mesa llvmpipe threads (software OpenGL rasterising the frames on Xvfb)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if not (task / "comm").read_text().startswith("llvmpipe"):
                continue
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB (10^6 bytes)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024 / 1e6
    return values["VmRSS"], values["VmHWM"]
