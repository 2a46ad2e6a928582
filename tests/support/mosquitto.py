"""A real Mosquitto for tests and benchmarks, on a free loopback port.

Installs Debian's ``mosquitto`` package when the binary is missing
(:func:`tests.support.system.ensure_installed`: the test setup must work on a
fresh machine), writes its own configuration into a
temporary folder and can stop, kill and restart the broker to simulate
outages. Persistence is on, so QoS 1 messages queued for a persistent
session survive a broker restart, as in production (config/mosquitto/).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from tests.support.system import ensure_installed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Mosquitto:
    """One Mosquitto process with its own configuration and data folder.

    :param port: loopback port; a free one by default.
    :param extra: extra configuration lines.
    """

    def __init__(self, port: int | None = None, extra: str = "", workdir: Path | None = None):
        self.binary = ensure_installed("mosquitto", "mosquitto-clients", binary="mosquitto")
        self.port = port or free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="mosquitto-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        # As root, Mosquitto drops to the "mosquitto" user, which cannot write
        # into pytest's root-only folders: persistence and the log would be
        # silently off. Stay root in tests.
        run_as = "user root\n" if os.geteuid() == 0 else ""
        self.config_path.write_text(
            run_as +
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "set_tcp_nodelay true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            + extra
        )
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def start(self) -> Self:
        if self.process is not None and self.process.poll() is None:
            return self
        with open(self.workdir / "mosquitto.stderr", "ab") as stderr:
            self.process = subprocess.Popen([self.binary, "-c", str(self.config_path)],
                                            stdout=subprocess.DEVNULL, stderr=stderr)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        """Graceful stop (SIGTERM): Mosquitto saves its persistence file."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """Hard stop (SIGKILL), as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
