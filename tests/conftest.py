"""Shared fixtures: a real Mosquitto per test session, agent configurations, agent processes, the kiosk.

The pieces live in ``tests/support/``; this file only makes fixtures of them.
At the start of a session it installs the Debian packages the tests need
(``tests/support/system.py``), before any test file is imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import AgentConfig
from edge_agent.contract import Topics, new_id
from tests.support.agent import AgentProcess, write_config
from tests.support.kiosk import KioskProcess
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import Capture, Publisher
from tests.support.system import MissingPackages, ensure_test_packages
from tests.support.xvfb import Xvfb


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install the Debian packages the tests need (as root), or say which are missing."""
    try:
        ensure_test_packages()
    except MissingPackages as exc:
        # Not fatal: most tests need none of them; those that do fail naming the package.
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"warning: {exc}", yellow=True, bold=True)


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


@pytest.fixture
def make_config(tmp_path):
    """``make_config(broker, extra="", store=None)`` writes a config for ``broker``; returns (path, AgentConfig)."""

    def make(broker: Mosquitto, extra: str = "", store: str | None = None) -> tuple[Path, AgentConfig]:
        return write_config(tmp_path, broker.port, extra=extra, store=store)

    return make


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


# --------------------------------------------------------------------------- a content server and a faulty line


@pytest.fixture
def nginx(tmp_path):
    """Debian's nginx serving the folder ``nginx.root`` on a free loopback port (``nginx.base_url``)."""
    from tests.support.nginx import Nginx

    server = Nginx(root=tmp_path / "www", workdir=tmp_path / "nginx")
    server.start()
    yield server
    server.close()


@pytest.fixture
def cutting_proxy(nginx):
    """A :class:`~tests.support.cutting_proxy.CuttingProxy` in front of ``nginx``: cuts, outages, byte counts."""
    from tests.support.cutting_proxy import CuttingProxy

    proxy = CuttingProxy(nginx.port).start()
    yield proxy
    proxy.close()
