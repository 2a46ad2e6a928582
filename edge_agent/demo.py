"""``edge-agent demo``: the agent with an embedded broker, zero setup.

When the demo configuration names no broker, an embedded amqtt broker is
started on loopback (the demo's only use of amqtt; production and tests use
Mosquitto). The demo then runs the agent, publishes the contract's example
pushes as central would, and prints a one-line summary of every message on
the store's topics (topic and schema only: payloads may hold personal data).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .agent import Agent
from .config import AgentConfig, load_config
from . import fixtures
from .contract import EVERYTHING
from .errors import EdgeAgentError

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "demo.toml"
DEMO_FIXTURES = PROJECT_ROOT / "config" / "central-fixtures.example.yaml"
EMBEDDED_PORT = 18830


class EmbeddedBroker:
    """An amqtt broker running in its own thread and event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = EMBEDDED_PORT):
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)

    def _run(self) -> None:
        from amqtt.broker import Broker

        asyncio.set_event_loop(self._loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

        async def start() -> None:
            self._broker = Broker(config)
            await self._broker.start()

        try:
            self._loop.run_until_complete(start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Start the broker.

        :raises EdgeAgentError: when it cannot listen (port taken...).
        """
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise EdgeAgentError(f"embedded broker could not start on {self.host}:{self.port}: {self._error}")
        return self

    def stop(self) -> None:
        if self._broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            future.result(10)
        except Exception as exc:  # shutting down: report, do not mask the caller's exit
            logger.warning("embedded broker did not shut down cleanly: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class Monitor:
    """Prints a line per message on the store's topics: time, topic, schema."""

    def __init__(self, host: str, port: int, store: str):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-monitor-{store}",
                                  protocol=mqtt.MQTTv311)
        self.client.on_connect = lambda c, *_: c.subscribe(EVERYTHING, qos=0)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()

    @staticmethod
    def _on_message(client, userdata, message) -> None:
        try:
            schema = json.loads(message.payload).get("schema", "?")
        except (ValueError, AttributeError):
            schema = "(not an envelope)"
        print(f"{time.strftime('%H:%M:%S')}  {message.topic:<55} {schema}", flush=True)


    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def demo_config(config_path: Path | None, state_dir: Path) -> AgentConfig:
    path = config_path or DEFAULT_CONFIG
    config = load_config(path)
    database = config.database.model_copy(update={"path": state_dir / "agent.db"})
    return config.model_copy(update={"database": database})


def run_demo(config_path: Path | None = None, state_dir: Path | None = None,
             duration_s: float | None = None, broker_port: int = EMBEDDED_PORT) -> int:
    """Run the demo until Ctrl-C (or ``duration_s``); returns the exit code."""
    state_dir = Path(state_dir or tempfile.mkdtemp(prefix="connected-store-demo-"))
    config = demo_config(config_path, state_dir)
    broker = None
    if config.mqtt is None:
        broker = EmbeddedBroker(port=broker_port).start()
        config = config.with_mqtt(broker.host, broker.port)
        print(f"embedded broker on mqtt://{broker.host}:{broker.port} "
              f"(try: mosquitto_sub -p {broker.port} -t '{EVERYTHING}' -v)", flush=True)
    agent = Agent(config)
    monitor = None
    try:
        agent.start()
        monitor = Monitor(config.mqtt.host, config.mqtt.port, config.store.id)
        time.sleep(0.5)
        # Central's data, pushed the way `edge-agent central push` does it. The demo's
        # card key is made up per run: the fixtures name their demo cards by UID.
        demo_fixtures = fixtures.load(DEMO_FIXTURES, hmac_key=os.urandom(32))
        fixtures.publish(fixtures.messages(demo_fixtures, config.store.id), config.mqtt.host, config.mqtt.port)
        print(f"agent {config.store.id}/{config.device.id} running, state in {state_dir}; Ctrl-C stops",
              flush=True)
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        if monitor is not None:
            monitor.stop()
        agent.stop()
        if broker is not None:
            broker.stop()
    return 0
