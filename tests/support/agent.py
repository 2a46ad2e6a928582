"""The edge agent for tests: configuration files for a test broker, and ``edge-agent run`` as a child process.

``tests/conftest.py`` turns these into fixtures (``make_config``,
``agent_process``); tests that need the pieces outside a fixture import them
from here. A configuration's store id is unique per call and process, so the
tests of a session share one Mosquitto without hearing each other.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from edge_agent.config import AgentConfig, parse_config

ROOT = Path(__file__).resolve().parents[2]

_store_counter = itertools.count(1)


def new_store_id() -> str:
    """A store id no other test of any running session uses."""
    return f"store-{next(_store_counter)}-{os.getpid()}"


def config_text(port: int, db_path: Path, store: str, device: str = "kiosk-1", extra: str = "") -> str:
    """An agent configuration for a broker on loopback ``port``: fast health and reconnects, plus ``extra``.

    The wall clock is trusted when plausible (``[clock] trust = "plausible"``) unless ``extra`` has a
    ``[clock]`` section: no NTP daemon disciplines the kernel clock of a container or a chroot, and a test of
    recognition is not a test of the clock (tests/test_clock*.py are).
    """
    if "[clock]" not in extra:
        extra = '[clock]\ntrust = "plausible"\n' + extra
    return textwrap.dedent(f"""\
        [store]
        id = "{store}"
        [device]
        id = "{device}"
        [mqtt]
        host = "127.0.0.1"
        port = {port}
        keepalive_s = 5
        reconnect_min_s = 0.1
        reconnect_max_s = 1.0
        [database]
        path = "{db_path}"
        [health]
        interval_s = 0.5
        """) + extra


def write_config(folder: Path, port: int, extra: str = "", store: str | None = None) -> tuple[Path, AgentConfig]:
    """Write a configuration for store ``store`` (a new one by default) into ``folder``; (path, parsed)."""
    store = store or new_store_id()
    path = folder / f"{store}.toml"
    path.write_text(config_text(port, folder / f"{store}.db", store, extra=extra))
    return path, parse_config(path.read_text(), str(path))


class AgentProcess:
    """``edge-agent run`` in a child process, as systemd would run it, its output in ``log_path``."""

    def __init__(self, config_path: Path, log_path: Path):
        self.config_path = config_path
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "-c", str(self.config_path)],
                                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        return self

    def kill(self) -> None:
        """SIGKILL, as in a crash or a power cut."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> int:
        """SIGTERM, as systemd stops it; the exit code."""
        if self.process is None:
            return 0
        code = self.process.poll()
        if code is None:
            self.process.terminate()
            code = self.process.wait(15)
        return code

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
