"""Test-side MQTT helpers: a capturing subscriber and a publisher (raw paho)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract import new_id, now_ts

#: The least a test waits for something that must happen. Waits end as soon as it happens, so a
#: generous bound costs a passing test nothing; a short one fails on a busy 2-core machine (CI's).
BUSY_MACHINE_WAIT_S = 60.0


@dataclass
class Captured:
    topic: str
    payload: bytes
    retain: bool
    at: float = field(default_factory=time.monotonic)

    def json(self) -> dict:
        return json.loads(self.payload)


class Capture:
    """Subscribes to ``topics`` and keeps every message received, in order."""

    def __init__(self, port: int, topics: list[str] | str = "#", host: str = "127.0.0.1",
                 client_id: str | None = None, clean_session: bool = True):
        self.messages: list[Captured] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._topics = [topics] if isinstance(topics, str) else topics
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"capture-{new_id()[-12:]}",
                                  clean_session=clean_session, protocol=mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("capture did not subscribe")

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        client.subscribe([(topic, 1) for topic in self._topics])

    def _on_message(self, client, userdata, message):
        with self._cond:
            self.messages.append(Captured(message.topic, message.payload, bool(message.retain)))
            self._cond.notify_all()

    def on(self, topic_suffix: str) -> list[Captured]:
        with self._cond:
            return [m for m in self.messages if m.topic.endswith(topic_suffix)]

    def wait_for(self, predicate, timeout: float = 10.0) -> list[Captured]:
        """Wait until ``predicate(messages)`` is true; returns the messages.

        Checked on every message and at least every 0.1 s, so a predicate may
        also look at other state (an agent's counters).
        """
        timeout = max(timeout, BUSY_MACHINE_WAIT_S)
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met after {timeout} s; got {len(self.messages)} messages")
                self._cond.wait(min(remaining, 0.1))
            return list(self.messages)

    def wait_topic(self, topic_suffix: str, count: int = 1, timeout: float = 10.0) -> list[Captured]:
        self.wait_for(lambda ms: sum(m.topic.endswith(topic_suffix) for m in ms) >= count, timeout)
        return self.on(topic_suffix)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def envelope(schema: str, data: dict, transaction: str | None = None, message_id: str | None = None) -> bytes:
    """A contract envelope as a central system or a tool would send it."""
    document = {"id": message_id or new_id(), "ts": now_ts(), "schema": schema, "data": data}
    if transaction is not None:
        document["transaction"] = transaction
    return json.dumps(document).encode()


class Publisher:
    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{new_id()[-12:]}",
                                  protocol=mqtt.MQTTv311)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
