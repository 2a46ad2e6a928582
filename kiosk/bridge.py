"""The kiosk's MQTT link to its edge agent.

Subscribes to the device's local session topic, its retained ``state`` and
``birth``, its periodic ``health``, the camera's retained ``presence``, its
``scan`` and ``shelf`` messages, and to the responses of the local requests it
sends; every topic comes from :mod:`edge_agent.contract`.
Messages are decoded and validated with the contract on paho's network
thread, and only the validated result is handed to the UI, through ``post``:
by default Kivy's ``Clock.schedule_once``, which is thread safe. Nothing here
touches a widget. A message that fails validation is logged with its topic
and reason (never its payload) and reported as malformed; it changes nothing
on screen.

Requests carry a fresh ``transaction``; a response is matched to its request
by it, so responses to other clients on the same topic are ignored. A request
unanswered after ``request_timeout_s`` fails (:meth:`Bridge.expire`).

With ``tls`` (``[mqtt.tls]``) the kiosk reaches a store broker on another Pi over its TLS listener, the
broker checked against the store CA and its name (:mod:`edge_agent.mqtt_tls`, as the agent does). A
connection that fails (a broker that is away, a certificate that does not check out) is logged with its
reason, once until the reason changes, and paho tries again every 1-5 s while the screen keeps running.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel, ValidationError

from edge_agent.contract import (
    BIRTH,
    COMMANDS,
    CONTENT_SCHEDULE,
    DEMO_CONTROL,
    HEALTH,
    MESSAGE_LIMIT,
    PRESENCE,
    RESPONSES,
    SCAN,
    SESSION,
    SHELF,
    STAFF_CALL,
    STAFF_MODE,
    STATE,
    ResponseEnvelope,
    Topics,
    decode,
    describe_validation,
    encode,
    new_id,
    transaction_of,
)
from edge_agent.contract.catalogue import CONTENT_ACTIVE
from edge_agent.errors import ContractError
from edge_agent.mqtt_socket import set_nodelay
from edge_agent.mqtt_tls import TlsConfig, use_tls

from .content_control import CONTENT_COMMANDS

logger = logging.getLogger(__name__)

# The local requests the kiosk sends (each must be in the contract).
KIOSK_COMMANDS: tuple[str, ...] = ("my-data", "withdraw-consent", "end-session", "enrol", "product", "account",
                                   "offers", "activate-offer", "check-promo-code", "feedback", "staff-assist",
                                   # Store staff (kiosk/staff_state.py)
                                   "staff-pin", "staff-status", "staff-audit-log", "staff-calls",
                                   "staff-call-handled",
                                   "staff-call-share",  # clienteling: the shopper's yes or no
                                   "staff-console-code",  # kiosk/console_code_state.py
                                   # The device checks (kiosk/device_checks_state.py)
                                   "device-checks", "reader-test", "test-event", "restart-kiosk",
                                   *CONTENT_COMMANDS,
                                   # Usage reports for the agent's analytics (kiosk/usage_report.py)
                                   "report-screen", "report-play",
                                   "content-loaded",  # the answer to a pack switch (kiosk/pack_switch.py)
                                   "touch")


class Sink(Protocol):
    """What the bridge feeds; called on the UI thread (through ``post``)."""

    def on_session(self, payload: BaseModel) -> None: ...
    def on_device_state(self, payload: BaseModel) -> None: ...
    def on_birth(self, payload: BaseModel) -> None: ...
    def on_health(self, payload: BaseModel) -> None: ...
    def on_presence(self, payload: BaseModel) -> None: ...
    def on_scan(self, payload: BaseModel) -> None: ...
    def on_shelf(self, payload: BaseModel) -> None: ...
    def on_content_schedule(self, payload: BaseModel) -> None: ...
    def on_response(self, command: str, session: str | None, ok: bool, data: BaseModel | None,
                    error: str | None) -> None: ...
    def on_connection(self, connected: bool) -> None: ...
    def on_malformed(self, topic: str, reason: str) -> None: ...
    def on_staff_mode(self, payload: BaseModel) -> None: ...
    def on_staff_call(self, payload: BaseModel) -> None: ...
    def on_content_active(self, payload: BaseModel) -> None: ...


def kivy_post(function: Callable[..., None], *args: Any) -> None:
    """Run ``function(*args)`` on Kivy's main thread at the next frame (safe from any thread)."""
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: function(*args), 0)


@dataclass(frozen=True)
class Pending:
    command: str
    session: str | None
    deadline: float


def decode_response(command: str, raw: bytes) -> tuple[ResponseEnvelope, BaseModel | None]:
    """Parse and validate the response to ``command``: the envelope and, when ok, its result model.

    :raises ContractError: with a reason that never echoes the payload.
    """
    if len(raw) > MESSAGE_LIMIT:
        raise ContractError(f"payload too large ({len(raw)} bytes)")
    try:
        envelope = ResponseEnvelope.model_validate_json(raw)
    except ValidationError as exc:
        raise ContractError(f"bad response envelope: {describe_validation(exc)}") from None
    expected = RESPONSES[command].schema_id
    if envelope.schema_ != expected:
        raise ContractError(f"schema is not {expected!r}")
    if envelope.status == "error":
        return envelope, None
    model = COMMANDS[command].response
    if model is None:
        return envelope, None
    try:
        return envelope, model.model_validate(envelope.data or {})
    except ValidationError as exc:
        raise ContractError(describe_validation(exc, "data.")) from None


class Bridge:
    """One MQTT client for the kiosk.

    :param host: broker host.
    :param port: broker port.
    :param store: store id.
    :param device: the agent's device id.
    :param sink: receives validated messages, on the UI thread.
    :param post: ``post(function, *args)`` runs ``function`` on the UI thread; Kivy's clock by default.
    :param username: broker login, or None.
    :param password: broker password, or None.
    :param client_id: MQTT client id when there is no login (with one, the login is the client id).
    :param keepalive_s: MQTT keepalive.
    :param request_timeout_s: a request unanswered this long fails.
    :param clock: monotonic seconds.
    :param tls: connect with TLS as this says (``[mqtt.tls]``); plain MQTT when None.
    """

    def __init__(self, host: str, port: int, store: str, device: str, sink: Sink, *,
                 post: Callable[..., None] = kivy_post, username: str | None = None, password: str | None = None,
                 client_id: str | None = None, keepalive_s: int = 15, request_timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, tls: TlsConfig | None = None):
        self.topics = Topics(store, device)
        self._host, self._port, self._keepalive = host, port, keepalive_s
        self._sink = sink
        self._post = post
        self._clock = clock
        self._timeout = request_timeout_s
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()
        self.commands = tuple(name for name in KIOSK_COMMANDS if name in COMMANDS)
        self._requests = {name: COMMANDS[name].topic_for(store, device) for name in self.commands}
        self._responses = {self.topics.response(name): name for name in self.commands}
        self._handlers: dict[str, Callable[[str, bytes], None]] = {
            self.topics.session: self._on_session,
            self.topics.state: self._on_state,
            self.topics.birth: self._on_birth,
            self.topics.health: self._on_health,
            self.topics.presence: self._on_presence,
            self.topics.scan: self._on_scan,
            self.topics.shelf: self._on_shelf,
            STAFF_MODE.topic_for(store, device): self._on_staff_mode,  # store staff: the staff mode
            STAFF_CALL.topic_for(store, device): self._on_staff_call,  # and the calls staff handled
            self.topics.content_schedule: self._on_content_schedule,
            CONTENT_ACTIVE.topic_for(store, device): self._on_content_active,  # the agent's pack switch
        }
        self.connected = False
        self._tls = tls is not None
        #: Why the last connection attempt failed (None after a connection), logged once until it changes.
        self.last_error: str | None = None
        # The store broker binds a client id to its login (use_username_as_clientid): with a login, the
        # login is the client id.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=username or client_id or f"cs-kiosk-{store}-{device}-{new_id()[-6:]}",
                                  clean_session=True, protocol=mqtt.MQTTv311)
        if username:
            self.client.username_pw_set(username, password)
        use_tls(self.client, tls)
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_socket_open = set_nodelay
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # ------------------------------------------------------------------ lifecycle

    def subscriptions(self) -> list[tuple[str, int]]:
        """Topics and QoS the kiosk subscribes to."""
        return ([(self.topics.session, SESSION.qos), (self.topics.state, STATE.qos), (self.topics.birth, BIRTH.qos),
                 (self.topics.health, HEALTH.qos), (self.topics.presence, PRESENCE.qos), (self.topics.scan, SCAN.qos),
                 (self.topics.shelf, SHELF.qos), (STAFF_MODE.topic_for(self.topics.store, self.topics.device),
                                                  STAFF_MODE.qos),
                 (STAFF_CALL.topic_for(self.topics.store, self.topics.device), STAFF_CALL.qos),
                 (self.topics.content_schedule, CONTENT_SCHEDULE.qos),
                 (CONTENT_ACTIVE.topic_for(self.topics.store, self.topics.device), CONTENT_ACTIVE.qos)]
                + [(topic, RESPONSES[name].qos) for topic, name in self._responses.items()])

    def start(self) -> None:
        """Connect in the background (the UI starts whether or not the broker is there)."""
        self.client.connect_async(self._host, self._port, keepalive=self._keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # ------------------------------------------------------------------ requests (UI thread)

    def request(self, command: str, session: str | None, language: str | None = None,
                gtin: str | None = None, **fields: Any) -> str | None:
        """Send local request ``command`` for ``session`` (None: without one, where the request allows it),
        with ``language`` when the request has one, ``gtin`` for a product and any other ``fields`` of
        the request (``offer``, ``code``); its transaction id, or None when it could not be sent (the sink
        then gets a failed response)."""
        if command not in self._requests or not self.connected:
            # Not queued while offline: paho would send it after a reconnect,
            # long after the screen said it failed (a late withdrawal!).
            reason = "not available" if command not in self._requests else "not connected"
            self._post(self._sink.on_response, command, session, False, None, reason)
            return None
        transaction = new_id()
        model_fields, extra = COMMANDS[command].model.model_fields, fields
        data: dict[str, Any] = {"session": session} if session is not None else {}
        if language is not None and "language" in model_fields:
            data["language"] = language
        data.update({name: value for name, value in (("gtin", gtin), *extra.items())
                     if value is not None and name in model_fields})
        return self._publish_request(command, session, data, transaction)

    def request_data(self, command: str, data: dict[str, Any]) -> str | None:
        """Send local request ``command`` (without a session) with ``data`` as it is, nulls included (e.g.
        content-loaded's ``version`` of a local pack); as :meth:`request` otherwise."""
        if command not in self._requests or not self.connected:
            reason = "not available" if command not in self._requests else "not connected"
            self._post(self._sink.on_response, command, None, False, None, reason)
            return None
        return self._publish_request(command, None, data, new_id())

    def _publish_request(self, command: str, session: str | None, data: dict[str, Any], transaction: str) -> str | None:
        _, payload = encode(COMMANDS[command], data, transaction=transaction)
        with self._lock:
            self._pending[transaction] = Pending(command, session, self._clock() + self._timeout)
        info = self.client.publish(self._requests[command], payload, qos=COMMANDS[command].qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            with self._lock:
                self._pending.pop(transaction, None)
            self._post(self._sink.on_response, command, session, False, None, f"not sent (rc {info.rc})")
            return None
        logger.debug("request %s sent (%s)", command, transaction)
        return transaction

    def publish_demo(self, action: str, card: str | None = None) -> bool:
        """Ask ``edge-agent demo`` to ``tap`` demo card ``card``, ``remove`` it, or hold up the ``product``
        (the kiosk's demo buttons; it never touches the emulator itself). False when not sent.

        :raises ContractError: for an action or card the contract does not know.
        """
        if not self.connected:
            logger.info("demo %s not sent: not connected", action)
            return False
        _, payload = encode(DEMO_CONTROL, {"action": action, "card": card})
        info = self.client.publish(self.topics.demo, payload, qos=DEMO_CONTROL.qos, retain=False)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def expire(self) -> int:
        """Fail every request past its deadline; returns how many. Call it from the UI thread."""
        now = self._clock()
        with self._lock:
            late = [(tid, p) for tid, p in self._pending.items() if p.deadline <= now]
            for tid, _ in late:
                del self._pending[tid]
        for tid, pending in late:
            logger.warning("request %s (%s) unanswered after %.1f s", pending.command, tid, self._timeout)
            self._sink.on_response(pending.command, pending.session, False, None, "no answer")
        return len(late)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # ------------------------------------------------------------------ paho callbacks (network thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.warning("broker refused the connection: %s", reason_code)
            return
        client.subscribe(self.subscriptions())
        self.connected = True
        self.last_error = None
        logger.info("connected to %s:%d%s", self._host, self._port, " over TLS" if self._tls else "")
        self._post(self._sink.on_connection, True)

    def _on_connect_fail(self, client, userdata) -> None:
        # paho calls this from inside its ``except OSError`` around the attempt (loop_forever), with no
        # argument for the reason: the exception being handled is it (ssl.SSLError for a certificate).
        error = sys.exc_info()[1]
        reason = f"{type(error).__name__}: {error}" if error is not None else "no reason given"
        if reason != self.last_error:
            logger.warning("cannot connect to %s:%d%s: %s; trying again", self._host, self._port,
                           " over TLS" if self._tls else "", reason)
        else:
            logger.debug("still cannot connect to %s:%d: %s", self._host, self._port, reason)
        self.last_error = reason

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected
        self.connected = False
        if was:
            logger.warning("disconnected from the broker: %s", reason_code)
            self._post(self._sink.on_connection, False)

    def _on_message(self, client, userdata, message) -> None:
        topic = message.topic
        try:
            handler = self._handlers.get(topic)
            if handler is not None:
                handler(topic, message.payload)
            elif topic in self._responses:
                self._on_response(self._responses[topic], message.payload)
            else:
                logger.debug("ignored a message on an unexpected topic")
        except ContractError as exc:
            logger.warning("ignored a malformed message on %s: %s", topic, exc)
            self._post(self._sink.on_malformed, topic, str(exc))
        except Exception:  # a bug here must not stop paho's thread
            logger.exception("failed to handle a message on %s", topic)

    def _on_session(self, topic: str, raw: bytes) -> None:
        self._post(self._sink.on_session, decode(SESSION, raw).payload)

    def _on_state(self, topic: str, raw: bytes) -> None:
        if raw:  # an empty retained message clears the topic
            self._post(self._sink.on_device_state, decode(STATE, raw).payload)

    def _on_birth(self, topic: str, raw: bytes) -> None:
        if raw:
            self._post(self._sink.on_birth, decode(BIRTH, raw).payload)

    def _on_health(self, topic: str, raw: bytes) -> None:
        self._post(self._sink.on_health, decode(HEALTH, raw).payload)

    def _on_presence(self, topic: str, raw: bytes) -> None:
        if raw:  # retained: an empty message clears it
            self._post(self._sink.on_presence, decode(PRESENCE, raw).payload)

    def _on_scan(self, topic: str, raw: bytes) -> None:
        self._post(self._sink.on_scan, decode(SCAN, raw).payload)

    def _on_shelf(self, topic: str, raw: bytes) -> None:
        self._post(self._sink.on_shelf, decode(SHELF, raw).payload)

    def _on_staff_mode(self, topic: str, raw: bytes) -> None:
        self._post(self._sink.on_staff_mode, decode(STAFF_MODE, raw).payload)

    def _on_staff_call(self, topic: str, raw: bytes) -> None:
        self._post(self._sink.on_staff_call, decode(STAFF_CALL, raw).payload)

    def _on_content_schedule(self, topic: str, raw: bytes) -> None:
        if raw:  # retained: an empty message clears it
            self._post(self._sink.on_content_schedule, decode(CONTENT_SCHEDULE, raw).payload)

    def _on_content_active(self, topic: str, raw: bytes) -> None:
        if raw:  # retained: an empty message clears it (the kiosk keeps what it shows)
            self._post(self._sink.on_content_active, decode(CONTENT_ACTIVE, raw).payload)

    def _on_response(self, command: str, raw: bytes) -> None:
        # Nothing over the contract's limit is parsed, not even for its transaction.
        transaction = transaction_of(raw) if len(raw) <= MESSAGE_LIMIT else None
        with self._lock:
            pending = self._pending.get(transaction) if transaction else None
            if not transaction or pending is None or pending.command != command:
                logger.debug("ignored a %s response for another client", command)
                return
            del self._pending[transaction]
        try:
            envelope, result = decode_response(command, raw)
        except ContractError as exc:
            logger.warning("malformed %s response: %s", command, exc)
            self._post(self._sink.on_response, command, pending.session, False, None, "malformed response")
            return
        ok = envelope.status == "ok"
        if not ok:
            logger.info("%s failed at the agent: %s", command, envelope.error)
        self._post(self._sink.on_response, command, pending.session, ok, result, envelope.error)


__all__ = ["KIOSK_COMMANDS", "Bridge", "Sink", "decode_response", "kivy_post"]
