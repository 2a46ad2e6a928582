"""Helpers for fault tests: a subscriber that survives broker restarts, a fast
publisher, condition waits and a read-only look into an agent's outbox."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract import new_id
from tests.support.mqtt import BUSY_MACHINE_WAIT_S, Capture, Captured

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy; return that.

    ``timeout`` is raised to :data:`~tests.support.mqtt.BUSY_MACHINE_WAIT_S` at least.

    :raises TimeoutError: naming ``what`` when ``timeout`` seconds pass first.
    """
    timeout = max(timeout, BUSY_MACHINE_WAIT_S)
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not true after {timeout} s")
        time.sleep(interval)


class DurableCapture(Capture):
    """A :class:`Capture` with a persistent session that comes back after a broker restart.

    With ``clean_session=False`` the broker queues QoS 1 messages for it while
    it is away (across a graceful restart too, when its persistence works: see
    a persistent broker, see tests/support/mosquitto.py); paho's network thread reconnects by itself,
    here after 0.05-0.5 s instead of paho's default 1-120 s, and the
    subscriptions are renewed on each connect.
    """

    def __init__(self, port: int, topics: list[str] | str, client_id: str | None = None):
        self.connects = 0
        self._connected = threading.Event()
        self._parsed = 0
        self._seen: set[str] = set()
        self._order: list[str] = []
        super().__init__(port, topics, client_id=client_id or f"durable-{new_id()[-12:]}", clean_session=False)
        self.client.on_disconnect = self._on_disconnect
        # paho's annotations say int; its reconnect timer takes any number of seconds.
        self.client.reconnect_delay_set(0.05, 0.5)  # type: ignore[arg-type]

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        super()._on_connect(client, userdata, flags, reason_code, properties)
        if not reason_code.is_failure:
            self.connects += 1
            self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def unique_ids(self) -> list[str]:
        """Envelope ids of the messages received, duplicates removed, in order of first arrival."""
        with self._cond:
            messages = self.messages[self._parsed:]
        for message in messages:  # parsed once each: captures grow to thousands of messages
            identifier = message_id(message)
            if identifier not in self._seen:
                self._seen.add(identifier)
                self._order.append(identifier)
        self._parsed += len(messages)
        return list(self._order)

    def wait_ids(self, expected: list[str], timeout: float) -> list[str]:
        """Wait until every id of ``expected`` arrived; return all ids in first-arrival order."""
        wanted = set(expected)
        try:
            wait_until(lambda: self.unique_ids() and wanted <= self._seen, timeout, "every expected event arrived")
        except TimeoutError:
            missing = [i for i in expected if i not in self._seen]
            raise TimeoutError(f"{len(missing)} of {len(expected)} events never arrived after {timeout} s; "
                               f"first missing {missing[:3]}") from None
        return self.unique_ids()


def message_id(message: Captured) -> str:
    return json.loads(message.payload)["id"]


class FastPublisher:
    """Publishes QoS 1 without waiting for each PUBACK; :meth:`flush` waits for all of them."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fast-{new_id()[-12:]}",
                                  protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, port)
        self.client.loop_start()
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self.published = 0

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish on {topic} failed: {mqtt.error_string(info.rc)}")
        self._pending.append(info)
        self.published += 1
        if len(self._pending) >= 1000:
            self.flush()

    def flush(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for info in self._pending:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            if not info.is_published():
                raise TimeoutError("the broker did not acknowledge a publish in time")
        self._pending.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def outbox_depth(db_path: str | Path) -> int:
    """Rows waiting in an agent's outbox, read from another process without writing."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        conn.close()
