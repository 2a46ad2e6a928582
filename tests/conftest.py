"""Shared fixtures: a real Mosquitto per test session, agent configurations, agent processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge_agent.config import AgentConfig, parse_config
from edge_agent.contract import Topics, new_id
from tests.support.kiosk import KioskProcess
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import Capture, Publisher
from tests.support.xvfb import Xvfb

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    """A Mosquitto shared by the session's tests (each test uses its own store id)."""
    broker = Mosquitto(workdir=tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def own_mosquitto(tmp_path):
    """A Mosquitto for one test, free to be stopped, killed and restarted."""
    broker = Mosquitto(workdir=tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.close()


_store_counter = iter(range(1, 1_000_000))


def config_text(port: int, db_path: Path, store: str, device: str = "kiosk-1", extra: str = "") -> str:
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


@pytest.fixture
def make_config(tmp_path):
    """``make_config(broker, **kw)`` writes a config file for ``broker``; returns (path, AgentConfig)."""

    def make(broker: Mosquitto, extra: str = "", store: str | None = None) -> tuple[Path, AgentConfig]:
        store = store or f"store-{next(_store_counter)}-{os.getpid()}"
        path = tmp_path / f"{store}.toml"
        path.write_text(config_text(broker.port, tmp_path / f"{store}.db", store, extra=extra))
        return path, parse_config(path.read_text(), str(path))

    return make


class AgentProcess:
    """``edge-agent run`` in a child process, as systemd would run it."""

    def __init__(self, config_path: Path, log_path: Path):
        self.config_path = config_path
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> AgentProcess:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "-c", str(self.config_path)],
                                        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        log.close()
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> int:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            return self.process.wait(15)
        return self.process.returncode if self.process else 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def agent_process(tmp_path):
    """``agent_process(config_path)`` starts an agent subprocess, killed at teardown."""
    started: list[AgentProcess] = []

    def start(config_path: Path) -> AgentProcess:
        process = AgentProcess(config_path, tmp_path / f"agent-{len(started)}.log").start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def capture():
    """``capture(broker, topics)`` subscribes and records messages; closed at teardown."""
    opened: list[Capture] = []

    def make(broker: Mosquitto, topics="#") -> Capture:
        cap = Capture(broker.port, topics)
        opened.append(cap)
        return cap

    yield make
    for cap in opened:
        cap.close()


@pytest.fixture
def publisher():
    opened: list[Publisher] = []

    def make(broker: Mosquitto) -> Publisher:
        pub = Publisher(broker.port)
        opened.append(pub)
        return pub

    yield make
    for pub in opened:
        pub.close()


# --------------------------------------------------------------------------- the kiosk on a virtual display


@pytest.fixture(scope="session")
def xvfb():
    with Xvfb() as display:
        yield display


@pytest.fixture
def kiosk(xvfb, mosquitto, tmp_path):
    """``kiosk(size=..., args=...)`` starts a kiosk for a fresh store; returns (KioskProcess, Topics)."""
    started: list[KioskProcess] = []

    def start(size: str = "800x480", args: tuple[str, ...] = ()) -> tuple[KioskProcess, Topics]:
        store = f"store-{new_id()[-8:]}"
        process = KioskProcess(xvfb, mosquitto.port, store, "kiosk-1", tmp_path / f"kiosk-{len(started)}",
                               size=size, args=args)
        started.append(process)
        return process.start(), Topics(store, "kiosk-1")

    yield start
    for process in started:
        assert process.stop() == 0, f"the kiosk did not stop cleanly:\n{process.log()[-2000:]}"
        assert "unhandled error in the kiosk" not in process.log(), process.log()[-4000:]
