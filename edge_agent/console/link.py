"""The console's MQTT link: its own broker login, the store's topics it reads, and requests to the agents.

The console logs in as its own login (``console`` role, :mod:`edge_agent.contract.roles`; made by
``edge-agent broker provision``) with a persistent session (``clean_session`` false: central's staff pushes
and the alerts queue at the broker while the console is down) and subscribes to what it shows, each topic
taken from the catalogue with the device level ``+``. What arrives is routed by message to the handlers
registered with :meth:`ConsoleLink.route` (the device model, the staff records; the alerts and analytics
pages register theirs the same way). A message that fails the contract is logged (without its content) and
dropped; the console keeps running.

:meth:`ConsoleLink.request` sends one of the console's commands to a device and waits for its answer
(matched by ``transaction``), for the pages that change a kiosk's content.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..contract import COMMANDS, RESPONSES, Message, decode, encode
from ..contract.envelope import ResponseEnvelope
from ..errors import ContractError
from ..mqtt_socket import set_nodelay
from ..mqtt_tls import use_tls
from .config import ConsoleConfig

logger = logging.getLogger(__name__)

#: ``handler(device, raw, retained)``: device is the topic's device level ("" for a store-wide topic).
Handler = Callable[[str, bytes, bool], None]


class RequestFailed(Exception):
    """A request to a device got no answer in time, or an error answer (the message says which)."""


@dataclass
class _Route:
    message: Message
    pattern: re.Pattern[str]
    handler: Handler


def _pattern(message: Message, store: str) -> re.Pattern[str]:
    topic = message.topic_for(store, "\0")
    return re.compile("^" + re.escape(topic).replace("\0", "([^/]+)") + "$")


class ConsoleLink:
    """The console's connection to the store broker.

    :param config: the console's configuration (``[store]``, ``[mqtt]``).
    :param username: its broker login (also its client id, as the store broker binds them).
    :param password: the login's password.
    """

    def __init__(self, config: ConsoleConfig, username: str | None, password: str | None):
        self.store = config.store.id
        self.username = username or "console"
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[ResponseEnvelope]]] = {}
        self.connected = threading.Event()
        self.on_connected: list[Callable[[], object]] = []
        self.on_acknowledged: list[Callable[[int], None]] = []
        # With a login the store broker binds the client id to it; without one (a test broker) the store names it.
        client_id = username or f"console-{self.store}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if username:
            client.username_pw_set(username, password)
        use_tls(client, config.mqtt.tls)
        client.on_socket_open = set_nodelay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        self._subscribe_mid: int | None = None
        client.reconnect_delay_set(int(max(1, config.mqtt.reconnect_min_s)), int(max(1, config.mqtt.reconnect_max_s)))
        # The console reads the alerts in bursts (50 devices): no inflight cap on QoS 1.
        client.max_inflight_messages_set(100)
        self._client = client
        self._mqtt = config.mqtt
        for command in COMMANDS.values():
            if command.name.startswith("request-console-"):
                self.route(RESPONSES[command.name.removeprefix("request-")], self._on_response)

    def route(self, message: Message, handler: Handler) -> None:
        """Subscribe to ``message`` for every device of the store and hand what arrives to ``handler``
        (register before :meth:`start`)."""
        self._routes.append(_Route(message, _pattern(message, self.store), handler))

    def start(self) -> None:
        """Connect (in the background, retrying) and keep the subscriptions."""
        self._client.connect_async(self._mqtt.host, self._mqtt.port, self._mqtt.keepalive_s)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _subscriptions(self) -> list[tuple[str, int]]:
        seen: dict[str, int] = {}
        for route in self._routes:
            seen.setdefault(route.message.topic_for(self.store, "+"), 1)
        return list(seen.items())

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            logger.warning("store broker refused the console: %s", reason_code)
            return
        # Connected once the broker has the subscriptions (SUBACK): what is published after that reaches us.
        self._subscribe_mid = client.subscribe(self._subscriptions())[1]
        logger.info("console connected to the store broker as %s", self.username)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any
                      ) -> None:
        if mid != self._subscribe_mid:
            return
        self.connected.set()
        for callback in self.on_connected:
            try:
                callback()
            except Exception:  # one listener's fault must not keep the others from the connection
                logger.exception("on-connect listener failed")

    def _on_disconnect(self, *args: Any) -> None:
        self.connected.clear()
        logger.info("console disconnected from the store broker")

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        for callback in self.on_acknowledged:
            callback(mid)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        for route in self._routes:
            found = route.pattern.match(message.topic)
            if found is None:
                continue
            try:
                route.handler(found.group(1) if found.groups() else "", bytes(message.payload), bool(message.retain))
            except ContractError as exc:
                logger.warning("message on %s refused: %s", message.topic, exc)
            except Exception:  # a handler's bug must not stop the console from reading the store
                logger.exception("handling a message on %s failed", message.topic)
            # On to the next route: a device's state feeds both the device model and the alerts.

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Publish; the message id, or None while not connected."""
        if not self.connected.is_set():
            return None
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.mid if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    def request(self, command: str, device: str, data: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Send ``command`` to ``device`` and wait for its answer; the answer's ``data``.

        :raises ContractError: when ``data`` does not fit the request.
        :raises RequestFailed: no answer in ``timeout`` seconds, not connected, or an error answer.
        """
        message = COMMANDS[command]
        transaction = str(uuid.uuid4())
        _, payload = encode(message, data, transaction=transaction)
        done = threading.Event()
        answers: list[ResponseEnvelope] = []
        with self._lock:
            self._waiting[transaction] = (done, answers)
        try:
            if self.publish(message.topic_for(self.store, device), payload) is None:
                raise RequestFailed("not connected to the store broker")
            if not done.wait(timeout):
                raise RequestFailed(f"{device} did not answer within {timeout:.0f} s")
        finally:
            with self._lock:
                self._waiting.pop(transaction, None)
        answer = answers[0]
        if answer.status != "ok":
            raise RequestFailed(answer.error or "refused")
        return answer.data or {}

    def _on_response(self, device: str, raw: bytes, retained: bool) -> None:
        try:
            answer = ResponseEnvelope.model_validate_json(raw)
        except ValueError:
            raise ContractError("not a response envelope") from None
        with self._lock:
            waiting = self._waiting.get(answer.transaction or "")
        if waiting is not None:
            waiting[1].append(answer)
            waiting[0].set()


def decode_data(message: Message, raw: bytes) -> dict[str, Any] | None:
    """The validated payload of ``raw`` as JSON data; None for an empty payload (a cleared retained message).

    :raises ContractError: when it does not fit ``message``.
    """
    if not raw:
        return None
    return decode(message, raw).payload.model_dump(mode="json")

