"""The kiosk as ``connected-store-kiosk.service`` starts it: the unit's environment, the installed
configuration (``config/kiosk.example.toml``), ``--fullscreen``, on an X display (cage gives the kiosk
Xwayland's; here Xvfb's). A normal start prints no traceback: Kivy's start-up probes for the X clipboard
(xsel) and touchscreens (libmtdev) find what the kiosk role installs, as the test setup installs them here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.support.kiosk import KioskProcess

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "connected-store-kiosk.service"


def unit_environment() -> dict[str, str]:
    """The ``Environment=`` assignments of the kiosk's unit."""
    found = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if line.startswith("Environment="):
            name, value = line.removeprefix("Environment=").split("=", 1)
            found[name] = value
    return found


def test_kiosk_started_as_its_unit_starts_it_reaches_its_screen_and_prints_no_traceback(xvfb, mosquitto, tmp_path,
                                                                                        monkeypatch):
    for name in [name for name in os.environ if name.startswith(("KIVY_", "SDL_"))]:
        monkeypatch.delenv(name)
    for name, value in unit_environment().items():
        if name != "KIVY_HOME":  # the unit's StateDirectory; KioskProcess gives it a folder of the test
            monkeypatch.setenv(name, value)
    kiosk = KioskProcess(xvfb, mosquitto.port, "store-0042", "kiosk-1", tmp_path)
    # ExecStart's command after cage's "--", with the test broker's port (the example names 1883).
    kiosk.command = [sys.executable, "-m", "kiosk", "--config", str(ROOT / "config" / "kiosk.example.toml"),
                     "--fullscreen", "--port", str(mosquitto.port), "--status-file", str(kiosk.status_path)]
    try:
        kiosk.start(timeout=60)
        shown = kiosk.wait(lambda s: bool(s["screen"]), timeout=30)
    finally:
        kiosk.stop()
    assert shown["screen"], kiosk.log()
    assert "Traceback" not in kiosk.log(), kiosk.log()
