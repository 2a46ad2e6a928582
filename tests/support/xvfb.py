"""A virtual X display for the kiosk's tests (Xvfb), and real pointer clicks on it (xdotool).

Installs Debian's ``xvfb`` and ``xdotool`` packages when they are missing
(the test setup must work on a fresh machine), like
:func:`tests.support.system.ensure_installed`. Xvfb picks a free display
number itself (``-displayfd``) and says so once it accepts connections, so
parallel runs and a developer's own X server are never disturbed.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from typing import Self

from tests.support.process import terminate
from tests.support.system import ensure_installed


class Xvfb:
    """One Xvfb server.

    :param width: screen width in pixels (big enough for every window size a test uses).
    :param height: screen height in pixels.
    """

    def __init__(self, width: int = 1920, height: int = 1920, depth: int = 24):
        self.binary = ensure_installed("xvfb", binary="Xvfb")
        self.width, self.height, self.depth = width, height, depth
        self.process: subprocess.Popen | None = None
        self.display: str | None = None

    def start(self, timeout: float = 15.0) -> Self:
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                [self.binary, "-displayfd", str(write_end), "-screen", "0",
                 f"{self.width}x{self.height}x{self.depth}", "-nolisten", "tcp", "-noreset"],
                pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            os.close(write_end)
        number = b""
        deadline = time.monotonic() + timeout
        try:
            while not number.endswith(b"\n"):
                ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(read_end, 16) if ready else b""
                if not chunk:  # timed out, or Xvfb exited
                    break
                number += chunk
        finally:
            os.close(read_end)
        if not number.strip().isdigit():
            self.close()
            raise RuntimeError("Xvfb did not start (no display number within the timeout)")
        self.display = f":{int(number)}"
        return self

    def env(self) -> dict[str, str]:
        """Environment variables that put an X client on this display."""
        if self.display is None:
            raise RuntimeError("Xvfb is not started")
        return {"DISPLAY": self.display}

    def close(self) -> None:
        terminate(self.process)
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class Pointer:
    """Clicks on the windows of one display with xdotool (X's XTEST: the app sees a real mouse)."""

    def __init__(self, display: str):
        self.binary = ensure_installed("xdotool", binary="xdotool")
        self.env = dict(os.environ, DISPLAY=display)

    def window_of(self, pid: int, timeout: float = 15.0) -> str:
        """The X window id of process ``pid`` (SDL sets _NET_WM_PID)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = subprocess.run([self.binary, "search", "--onlyvisible", "--pid", str(pid)], env=self.env,
                                    capture_output=True, text=True, check=False)  # exit 1: none yet
            ids = result.stdout.split()
            if ids:
                return ids[-1]
            time.sleep(0.1)
        raise TimeoutError(f"no window of process {pid}")

    def click(self, window: str, x: float, y: float) -> None:
        """Press and release the left button at (x, y) pixels from the window's top left."""
        subprocess.run([self.binary, "mousemove", "--window", window, str(round(x)), str(round(y)),
                        "click", "1"], env=self.env, check=True, capture_output=True)

    def wheel(self, window: str, x: float, y: float, button: int) -> None:
        """One notch of the mouse wheel at (x, y): button 4 up, 5 down (X's convention)."""
        subprocess.run([self.binary, "mousemove", "--window", window, str(round(x)), str(round(y)),
                        "click", str(button)], env=self.env, check=True, capture_output=True)
