"""The kiosk as the tests drive it: a real ``python -m kiosk`` process on an Xvfb display.

The kiosk writes what it shows to its ``--status-file`` (screen, visible
texts, touch targets, held texts) and a screenshot of every change into its
``--screenshot-dir``; :class:`KioskProcess` reads the first, clicks targets
with xdotool and copies chosen screenshots into ``tests/artifacts/screens/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from edge_agent.contract import COMMANDS, SESSION, Topics, encode, encode_response, new_id
from tests.support.process import terminate
from tests.support.xvfb import Pointer, Xvfb

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "screens"


class KioskProcess:
    """One kiosk process.

    :param xvfb: the display it runs on.
    :param port: the broker's port.
    :param store: store id.
    :param device: device id.
    :param workdir: for the status file, screenshots, KIVY_HOME and the log.
    :param size: window size ``WxH``.
    :param args: more command-line options.
    """

    def __init__(self, xvfb: Xvfb, port: int, store: str, device: str, workdir: Path, size: str = "800x480",
                 args: tuple[str, ...] = ()):
        self.xvfb = xvfb
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.status_path = workdir / "status.json"
        self.shots = workdir / "shots"
        self.log_path = workdir / "kiosk.log"
        self.command = [sys.executable, "-m", "kiosk", "--host", "127.0.0.1", "--port", str(port),
                        "--store", store, "--device", device, "--size", size, "--status-file", str(self.status_path),
                        "--screenshot-dir", str(self.shots), *args]
        self.process: subprocess.Popen | None = None
        self._pointer: Pointer | None = None
        self._window: str | None = None

    def start(self, timeout: float = 30.0) -> KioskProcess:
        env = dict(os.environ, **self.xvfb.env(), KIVY_HOME=str(self.workdir / "kivy-home"), KIVY_NO_ARGS="1",
                   KIVY_WINDOW="sdl2")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.wait(lambda s: s["connected"], timeout=timeout)
        return self

    # ------------------------------------------------------------------ what is on screen

    def status(self) -> dict | None:
        try:
            return json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def wait(self, predicate: Callable[[dict], bool], timeout: float = 10.0) -> dict:
        """The first status document for which ``predicate`` is true."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the kiosk exited ({self.process.returncode}):\n{self.log()}")
            status = self.status()
            if status is not None:
                last = status
                try:
                    if predicate(status):
                        return status
                except (KeyError, TypeError, IndexError):
                    pass
            time.sleep(0.03)
        keys = ("screen", "texts", "countdown", "language", "text_scale", "scroll")
        shown = {key: last.get(key) for key in keys} if last else None
        raise TimeoutError(f"kiosk status not reached in {timeout} s; last: {shown}\n{self.log()[-3000:]}")

    def wait_screen(self, screen: str, *texts: str, timeout: float = 10.0) -> dict:
        """Wait for ``screen`` with each of ``texts`` inside some visible text."""
        return self.wait(lambda s: s["screen"] == screen and all(
            any(text in shown for shown in s["texts"]) for text in texts), timeout)

    @staticmethod
    def shows(status: dict, text: str) -> bool:
        return any(text in shown for shown in status["texts"])

    def keep(self, status: dict, name: str) -> Path:
        """Copy the screenshot showing ``status`` to ``tests/artifacts/screens/<name>.png``.

        The kiosk takes one whenever the look changes (screen, language, theme, size…); for other changes
        the last one still shows the screen.
        """
        shot = status.get("screenshot") or status.get("last_screenshot")
        assert shot, "the kiosk took no screenshot"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / f"{name}.png"
        shutil.copyfile(shot, target)
        return target

    # ------------------------------------------------------------------ touching it

    def click(self, target: str, timeout: float = 10.0) -> dict:
        """Click the touch target named ``target``, scrolling the screen with the mouse wheel (as a finger would
        swipe) when it is not in view; returns the status it was found in."""
        try:
            status = self.wait(lambda s: target in s["targets"], min(timeout, 2.0))
        except TimeoutError:
            status = self.status() or {}
            if target in status.get("geometry", {}).get("more", {}).get("items", ()):
                # In the bottom bar's Meer panel (kiosk.bars): open it, as a shopper would.
                self.click("nav-more", timeout)
                status = self.wait(lambda s: target in s["targets"], timeout)
            else:
                status = self._scroll_to(target, timeout)
        x, y, _w, _h = status["targets"][target]
        self._pointer_ready()
        self._pointer.click(self._window, x, y)
        return status

    def tap(self, x: float, y: float) -> None:
        """Click at ``x``, ``y`` (window pixels from the top left), on whatever is there."""
        self._pointer_ready()
        self._pointer.click(self._window, x, y)

    def _pointer_ready(self) -> None:
        if self._pointer is None:
            self._pointer = Pointer(self.xvfb.display)
            self._window = self._pointer.window_of(self.process.pid)

    def wheel(self, times: int, down: bool = True) -> None:
        """Turn the mouse wheel over the middle of the window (a finger's swipe)."""
        self._pointer_ready()
        width, height = (self.status() or {}).get("window", (800, 480))
        for _ in range(times):
            self._pointer.wheel(self._window, width / 2, height / 2, 5 if down else 4)

    def _scroll_to(self, target: str, timeout: float) -> dict:
        """Wheel down (then up) over the middle of the screen until ``target`` is in view."""
        for down in [True] * 12 + [False] * 24:
            self.wheel(1, down)
            try:
                return self.wait(lambda s: target in s["targets"], 0.4)
            except TimeoutError:
                continue
        return self.wait(lambda s: target in s["targets"], timeout)

    def type(self, text: str) -> None:
        """Type ``text`` on the keyboard (into the field clicked last; Xvfb has no window manager, so the
        keyboard follows the pointer)."""
        assert self._pointer is not None, "click the field first"
        subprocess.run([self._pointer.binary, "type", "--delay", "40", text], env=self._pointer.env, check=True,
                       capture_output=True)

    # ------------------------------------------------------------------ lifecycle

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int | None:
        return terminate(self.process)


# --------------------------------------------------------------------------- standing in for the agent


def publish_session(pub, topics: Topics, outcome: str = "recognised", *, sid: str | None = None,
                    state: str = "started", first_name: str = "Sanne", language: str = "nl", tier: str = "goud",
                    points: int | None = 5120, reason: str | None = None) -> str:
    sid = sid or new_id()
    recognised = outcome == "recognised" and state == "started"
    _, raw = encode(SESSION, {
        "session": sid, "state": state, "outcome": outcome, "assurance": "sun",
        "may_show": ["first_name", "tier", "points"] if recognised else [],
        "invite_to_enrol": outcome in ("anonymous", "unknown-card") and state == "started",
        "customer": {"first_name": first_name, "language": language, "tier": tier, "points": points}
        if recognised else None,
        "staff": "s-anna" if outcome == "staff" and state == "started" else None, "reason": reason})
    pub.publish(topics.session, raw)
    return sid


def request_topic(topics: Topics, command: str) -> str:
    return COMMANDS[command].topic_for(topics.store, topics.device)


def answer(pub, topics: Topics, requests, command: str, result, count: int = 1) -> dict:
    """Stand in for the agent: wait for the ``count``-th ``command`` request and answer it with ``result``
    (a model, or an error text); returns the request's data."""
    sent = requests.wait_topic(f"/local/request/{command}", count)[count - 1].json()
    if isinstance(result, str):
        pub.publish(topics.response(command), encode_response(command, sent["transaction"], error=result))
    else:
        pub.publish(topics.response(command), encode_response(command, sent["transaction"], result=result))
    return sent["data"]
