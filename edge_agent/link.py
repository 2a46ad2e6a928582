"""The MQTT link to the store broker (paho-mqtt 2.x, MQTT 3.1.1).

Threads, each named:

* ``mqtt-supervisor`` connects, waits for the connection to end and reconnects
  with exponential backoff and jitter. Every connection gets a fresh paho
  client, so nothing paho kept in memory is re-sent behind the outbox's back:
  after a reconnect the outbox is drained again from its first unacknowledged
  event, in order.
* paho's network thread runs the callbacks; they only hand work to the other
  threads (paho calls ``on_publish`` while holding its own lock, so nothing
  that publishes may be waited on from there).
* ``outbox-drain`` hands waiting events to the client (QoS 1, up to
  ``window`` unacknowledged) and deletes them after their PUBACK.
* ``mqtt-inbox`` processes received messages one at a time, in arrival
  order, and acknowledges each (manual PUBACK) only after it was handled, so
  a message accepted by the broker is not lost if the agent dies. A handler
  may hold a message it could not apply for now (a full disk): it is then not
  acknowledged here, the handler acknowledges it once it is applied, and its
  ``retry`` hook is called in this thread when it asks to be.
  ``mqtt-commands`` does the same for device commands (``request/ping``,
  ``get-config``, ``set-log-level``) and the link's probe, their own lane of
  the intake (:class:`Intake`): a liveness check is answered in milliseconds
  while a catalogue is being applied, and bulk work (pushes, the kiosk's
  requests) keeps its order. While a command is queued or handled, the bulk
  thread waits (at most :data:`YIELD_MAX_S`) before its next message and
  between the slices of a big push (:mod:`edge_agent.sliced_validation`), so
  the command has the interpreter lock to itself. For the same reason paho
  reads through a buffer (:mod:`edge_agent.mqtt_read_buffer`) and writes the
  packets it has queued together (:mod:`edge_agent.mqtt_write_batch`). A shorter
  thread switch interval (:data:`SWITCH_INTERVAL_S`) helps too: the agent's
  own process sets it (:meth:`edge_agent.agent.Agent.run_forever`), not the
  link; bench/ping_under_load.py measures each.

The session is persistent (``clean_session=False``): what central pushes
while the agent is offline waits on the broker (with its persistence on).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .backoff import backoff_delay
from .config import AgentConfig
from .contract import STATE, StatePayload, Topics, encode
from .credentials import MQTT_PASSWORD, MQTT_USERNAME, Credentials
from .mqtt_read_buffer import buffer_reads
from .mqtt_socket import set_nodelay
from .mqtt_tls import use_tls
from .mqtt_write_batch import batch_writes
from .outbox import Outbox
from .transient import describe_bug, fault_of, locations

logger = logging.getLogger(__name__)


@dataclass
class LinkStats:
    """Counters the health message reports."""

    connections: int = 0
    connected_since: float | None = None
    last_error: str | None = None
    received: int = 0

    @property
    def reconnects(self) -> int:
        return max(0, self.connections - 1)


@dataclass
class Received:
    """A message taken from the broker, acknowledged after it was handled."""

    client: mqtt.Client
    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    intake: Intake | None = None

    def yield_to_commands(self) -> None:
        """For a handler doing long work: let waiting device commands go first (:meth:`Intake.yield_to_commands`)."""
        if self.intake is not None:
            self.intake.yield_to_commands()

    def acknowledge(self) -> None:
        """Send the PUBACK (QoS 1) now. Moot for a connection that has gone: the broker delivers the
        message again on the next one (the session is persistent) and it is de-duplicated by id."""
        if self.qos > 0:
            self.client.ack(self.mid, self.qos)


# Returns False when it holds the message (not applied yet, acknowledged later by the handler);
# anything else acknowledges it.
Handler = Callable[[Received], "bool | None"]
# Retries what the handler holds; returns the seconds until it wants to be called again, None when
# it holds nothing.
Retry = Callable[[], "float | None"]


SWITCH_INTERVAL_S = 0.0005
FLUSH_COMMANDS_S = 0.005  # the longest a command's thread waits for its answer to be written (0: not at all)
FLUSH_POLL_S = 0.0002
YIELD_MAX_S = 0.05  # the longest bulk work waits for commands at a time (a flood of commands cannot stop it)


class Intake:
    """The inbox's queue in two lanes, each first in, first out: device commands, and bulk work.

    A message is a command when its topic starts with ``command_prefix`` (the device's ``…/request/``:
    ``ping``, ``get-config``, ``set-log-level``; not the kiosk's ``…/local/request/``) or is ``probe``.
    The link serves each lane with its own thread, so a command never waits behind bulk work (a
    500-record catalogue push takes tens of ms to apply), and bulk work never waits for commands.
    ``None`` (the stop mark) ends both lanes, behind what was queued before it.

    :param priority: False puts everything in the bulk lane, in arrival order (the behaviour before the
        lane; what the benchmarks compare with).
    """

    COMMANDS, BULK = "commands", "bulk"

    def __init__(self, command_prefix: str, probe: str, priority: bool = True):
        self.command_prefix = command_prefix
        self.probe = probe
        self.priority = priority
        self._lanes: dict[str, deque[Received | None]] = {self.COMMANDS: deque(), self.BULK: deque()}
        # One lock, a condition per lane: a message wakes only its own lane's thread (waking both for each of
        # thousands of bulk messages a second would cost GIL hand-overs).
        self._lock = threading.Lock()
        self._ready = {lane: threading.Condition(self._lock) for lane in self._lanes}
        self._serving = 0
        self._commands_done = threading.Condition(self._lock)
        self.yielding = True

    def is_command(self, topic: str) -> bool:
        return topic.startswith(self.command_prefix) or topic == self.probe

    def put(self, item: Received | None) -> None:
        with self._lock:
            if item is None:
                for lane, queued in self._lanes.items():
                    queued.append(None)
                    self._ready[lane].notify()
                return
            lane = self.COMMANDS if self.priority and self.is_command(item.topic) else self.BULK
            self._lanes[lane].append(item)
            self._ready[lane].notify()

    def get(self, lane: str = BULK, timeout: float | None = None) -> Received | None:
        """The next message of ``lane`` (None: stop), waiting for one at most ``timeout`` seconds.

        :raises queue.Empty: when ``timeout`` passed with nothing queued (as :meth:`queue.Queue.get`).
        """
        queued = self._lanes[lane]
        with self._ready[lane]:
            if not self._ready[lane].wait_for(lambda: queued, timeout):
                raise queue.Empty
            if lane == self.BULK and self.yielding:
                self._commands_done.wait_for(self._no_commands, YIELD_MAX_S)
            item = queued.popleft()
            if lane == self.COMMANDS and item is not None:
                self._serving += 1  # until done(): bulk work waits meanwhile
            return item

    def done(self, lane: str) -> None:
        """The message ``lane``'s thread took last was handled (and acknowledged)."""
        if lane == self.COMMANDS:
            with self._lock:
                self._serving -= 1
                if self._no_commands():
                    self._commands_done.notify_all()

    def yield_to_commands(self) -> None:
        """Wait (at most :data:`YIELD_MAX_S`) while device commands are queued or being handled.

        The bulk lane's thread calls it before each message and a long handler between its steps: while it
        waits it does not hold the interpreter lock, so the command thread and paho's network thread have it
        to themselves.
        """
        if not self.yielding:
            return
        with self._lock:
            self._commands_done.wait_for(self._no_commands, YIELD_MAX_S)

    def _no_commands(self) -> bool:
        return not self._serving and not self._lanes[self.COMMANDS]

    def __len__(self) -> int:
        with self._lock:
            return sum(len(lane) for lane in self._lanes.values())


class Link:
    """Keeps a connection to the broker, drains the outbox over it and delivers received messages.

    :param config: the agent's configuration (``mqtt`` must be set).
    :param credentials: where the broker user name and password come from.
    :param outbox: the durable queue of upstream events.
    :param on_message: called in the ``mqtt-inbox`` thread for every received
        message; it must not raise (exceptions are logged and the message acknowledged).
        It returns False for a message it holds, which is then not acknowledged here.
    :param on_connected: called in paho's thread after each successful connect,
        e.g. to publish the retained birth message again.
    :param retry: called in the ``mqtt-inbox`` thread after each message and when the delay it
        returned last has passed; it retries the messages the handler holds.
    """

    def __init__(self, config: AgentConfig, credentials: Credentials, outbox: Outbox,
                 on_message: Handler, on_connected: Callable[[], None] | None = None,
                 retry: Retry | None = None):
        if config.mqtt is None:
            raise ValueError("the link needs an [mqtt] section")
        self.config = config
        self.mqtt_config = config.mqtt
        self.topics = Topics(config.store.id, config.device.id)
        self.outbox = outbox
        self.stats = LinkStats()
        self._on_message_handler = on_message
        self._on_connected = on_connected
        self._retry = retry
        self._username = credentials.get(MQTT_USERNAME)
        self._password = credentials.get(MQTT_PASSWORD)
        # The store broker binds a client id to its login (use_username_as_clientid), so no other login can
        # take over this connection or its persistent session: with a login, the login is the client id.
        self._client_id = self._username or config.client_id
        if self._username and self.mqtt_config.client_id and self.mqtt_config.client_id != self._username:
            logger.warning("mqtt.client_id %r is not used: with a broker login the client id is the login %r",
                           self.mqtt_config.client_id, self._username)
        self._stopping = threading.Event()
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        # Set when the broker confirmed the subscriptions of the current connection (their SUBACK): a push
        # published before that is not delivered on a store's very first connection (no session yet).
        self._subscribed = threading.Event()
        self._subscribe_mid: int | None = None
        self._ended = threading.Event()
        self._first_attempt_done = threading.Event()
        self._inbox = Intake(self.topics.command_root, self.topics.probe)
        self._received_lock = threading.Lock()
        self._drain = _Drainer(outbox, config.outbox.window)
        outbox.add_listener(self._drain.wake)
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        # The interpreter's switch interval is the process's, not the link's: the agent's own process sets
        # SWITCH_INTERVAL_S (Agent.run_forever); a process that hosts agents beside other work (the tests,
        # the demo) keeps its own.
        for target, name, args in ((self._supervise, "mqtt-supervisor", ()), (self._drain.run, "outbox-drain", ()),
                                   (self._work, "mqtt-inbox", ()), (self._work, "mqtt-commands", (Intake.COMMANDS,))):
            thread = threading.Thread(target=target, name=name, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def intake(self) -> Intake:
        """The received messages waiting for the ``mqtt-inbox`` thread."""
        return self._inbox

    def wait_first_attempt(self, timeout: float | None = None) -> bool:
        """Wait until the first connection attempt succeeded or failed."""
        return self._first_attempt_done.wait(timeout)

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float | None = None) -> bool:
        """Wait until the broker confirmed this connection's subscriptions (what is pushed from then on arrives)."""
        return self._subscribed.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def alive(self) -> bool:
        """True when every thread of the link is running (for the systemd watchdog)."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """Publish ``offline``, disconnect cleanly and stop the threads."""
        self._stopping.set()
        client = self._client
        if client is not None and self._connected.is_set():
            try:
                _, payload = encode(STATE, StatePayload(state="offline", reason="shutdown"))
                info = client.publish(self.topics.state, payload, qos=1, retain=True)
                info.wait_for_publish(timeout=min(timeout, 2.0))
            except (RuntimeError, ValueError, OSError) as exc:
                logger.warning("could not publish offline state on shutdown: %s", exc)
            client.disconnect()
        self._ended.set()
        self._drain.stop()
        self._inbox.put(None)
        for thread in self._threads:
            thread.join(timeout)
        if client is not None:
            client.loop_stop()

    # ------------------------------------------------------------------ publishing

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        """Publish directly (not through the outbox); False when not connected.

        For what may be lost with a connection: health, responses, probes,
        retained state and birth (re-published on every connect).
        """
        client = self._client
        if client is None or not self._connected.is_set():
            return False
        info = client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # ------------------------------------------------------------------ connection

    def _new_client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id,
                             clean_session=False, protocol=mqtt.MQTTv311,
                             reconnect_on_failure=False, manual_ack=True)
        client.max_inflight_messages_set(self.config.outbox.window)
        client.max_queued_messages_set(0)
        _, will = encode(STATE, StatePayload(state="offline", reason="last-will"))
        client.will_set(self.topics.state, will, qos=1, retain=True)
        if self._username:
            client.username_pw_set(self._username, self._password)
        use_tls(client, self.mqtt_config.tls)
        client.connect_timeout = self.mqtt_config.connect_timeout_s
        client.on_socket_open = _socket_opened
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        client.on_message = self._handle_message
        client.on_publish = self._drain.acked
        return client

    def _supervise(self) -> None:
        attempt = 0
        cfg = self.mqtt_config
        while not self._stopping.is_set():
            client = self._new_client()
            self._ended.clear()
            try:
                client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
            except (OSError, ssl.SSLError, ValueError) as exc:
                self._note_failure(f"cannot connect to {cfg.host}:{cfg.port}: {exc}")
            else:
                self._client = client
                client.loop_start()
                self._ended.wait()
                client.loop_stop()
                if self._connected.is_set():
                    attempt = 0
                self._connected.clear()
                self._subscribed.clear()
                self._drain.detach()
            self._first_attempt_done.set()
            if self._stopping.is_set():
                break
            delay = backoff_delay(attempt, cfg.reconnect_min_s, cfg.reconnect_max_s)
            attempt += 1
            logger.info("reconnecting in %.2f s", delay)
            self._stopping.wait(delay)

    def _note_failure(self, reason: str) -> None:
        if reason != self.stats.last_error:
            logger.warning("%s", reason)
        else:
            logger.debug("%s", reason)
        self.stats.last_error = reason

    def _handle_connect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._note_failure(f"broker refused the connection: {reason_code}")
            self._first_attempt_done.set()
            return
        self.stats.connections += 1
        self.stats.connected_since = time.time()
        self.stats.last_error = None
        logger.info("connected to %s:%d (connection %d)", self.mqtt_config.host, self.mqtt_config.port,
                    self.stats.connections)
        self._subscribed.clear()
        _, self._subscribe_mid = client.subscribe(self.topics.subscriptions())
        _, online = encode(STATE, StatePayload(state="online", reason="connected"))
        client.publish(self.topics.state, online, qos=1, retain=True)
        self._connected.set()
        if self._on_connected is not None:
            try:
                self._on_connected()
            except Exception:
                logger.exception("on_connected hook failed")
        self._drain.attach(client)
        self._first_attempt_done.set()

    def _handle_subscribe(self, client: mqtt.Client, userdata, mid, reason_codes, properties) -> None:
        if mid == self._subscribe_mid:
            self._subscribed.set()

    def _handle_disconnect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:
        if client is not self._client:
            return
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._subscribed.clear()
        self._drain.detach()
        if not self._stopping.is_set():
            if was_connected:
                logger.warning("disconnected from broker: %s", reason_code)
            self.stats.connected_since = None
        self._ended.set()

    def _handle_message(self, client: mqtt.Client, userdata, message: mqtt.MQTTMessage) -> None:
        # paho types the attribute bytes | bytearray (a caller may assign either); a received PUBLISH's
        # payload is always bytes (decode_publish slices it with struct.unpack).
        payload = cast(bytes, message.payload)
        self._inbox.put(Received(client, message.topic, payload, message.mid, message.qos, message.retain,
                                 self._inbox))

    def _work(self, lane: str = Intake.BULK) -> None:
        # Held messages are bulk work (pushes): only the bulk lane's thread retries them.
        retries = lane == Intake.BULK
        wait: float | None = None
        while True:
            try:
                item = self._inbox.get(lane, timeout=wait)
            except queue.Empty:
                item = _RETRY_DUE
            if item is None:
                return
            if item is not _RETRY_DUE:
                with self._received_lock:  # two lanes, two threads
                    self.stats.received += 1
                held = False
                try:
                    held = self._on_message_handler(item) is False
                except Exception as exc:  # noqa: BLE001 - logged below; the link must not die of it
                    # A handler bug must not take the link down nor block the topic with a message
                    # that fails forever: log it (where, not what: the text may quote personal data)
                    # and acknowledge.
                    logger.error("handler failed on a message on %s: %s\n%s", item.topic, describe_bug(exc),
                                 locations(exc))
                try:
                    if not held:
                        item.acknowledge()
                    if lane == Intake.COMMANDS:
                        _flushed(item.client, FLUSH_COMMANDS_S)
                finally:
                    self._inbox.done(lane)
            wait = self._run_retry() if retries else None

    def _run_retry(self) -> float | None:
        if self._retry is None:
            return None
        try:
            return self._retry()
        except Exception as exc:  # noqa: BLE001 - logged; retried later
            logger.error("retrying held messages failed: %s\n%s", describe_bug(exc), locations(exc))
            return RETRY_AFTER_BUG_S


def _flushed(client: mqtt.Client, limit_s: float) -> None:
    """Wait (at most ``limit_s``) until paho's network thread has written what is queued (a command's answer
    and acknowledgement): bulk work waits for the command until then, so that thread has the interpreter
    lock to itself for the write."""
    deadline = time.monotonic() + limit_s
    while client is not None and client.want_write() and time.monotonic() < deadline:
        time.sleep(FLUSH_POLL_S)


def _socket_opened(client: mqtt.Client, userdata, sock) -> None:
    set_nodelay(client, userdata, sock)
    if READ_BUFFER:
        buffer_reads(client, sock)
    if WRITE_BATCH:
        batch_writes(client, sock)


READ_BUFFER = True  # False: paho reads its socket itself (what bench/ping_under_load.py compares with)
WRITE_BATCH = True  # False: paho sends each packet with a system call of its own (likewise)


# Never put on the queue: what _work takes when the retry hook's delay has passed without a message.
_RETRY_DUE = Received(cast(mqtt.Client, None), "", b"", 0, 0, False)
RETRY_AFTER_BUG_S = 5.0


DELETE_BATCH = 256  # acknowledged events deleted together...
DELETE_EVERY_S = 0.05  # ...or at least this often


class _Drainer:
    """Feeds the outbox to the connected client in order, deletes what the broker acknowledged."""

    def __init__(self, outbox: Outbox, window: int):
        self._outbox = outbox
        self._window = window
        self._cond = threading.Condition()
        self._client: mqtt.Client | None = None
        self._generation = 0
        self._acks: deque[tuple[mqtt.Client, int]] = deque()  # (client, mid), filled by paho's network threads
        self._inflight: dict[int, int] = {}  # mid -> seq, only touched by the drain thread
        self._inflight_client: mqtt.Client | None = None  # the connection _inflight's mids belong to
        self._cursor = 0
        self._stopped = False
        self._dirty = True
        self._settled: list[int] = []  # acknowledged, not yet deleted
        self._last_delete = time.monotonic()
        self._delete_failures = 0
        self.sent = 0

    def wake(self) -> None:
        with self._cond:
            self._dirty = True
            self._cond.notify()

    def attach(self, client: mqtt.Client) -> None:
        with self._cond:
            self._client = client
            self._generation += 1
            self._dirty = True
            self._cond.notify()

    def detach(self) -> None:
        with self._cond:
            self._client = None
            self._generation += 1
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def acked(self, client, userdata, mid, reason_code, properties) -> None:
        # paho holds its message lock here: record and return, never block.
        self._acks.append((client, mid))
        with self._cond:
            self._cond.notify()

    def run(self) -> None:
        generation = -1
        while True:
            with self._cond:
                while not self._work_waiting(generation):
                    self._cond.wait(self._delete_due_in())
                stopped = self._stopped
                client, current = self._client, self._generation
                self._dirty = False
            if stopped:
                self._settle_acks()
                self._delete_settled()
                return
            if current != generation:
                # A new connection (or none): settle and delete what the old one
                # acknowledged, then start again from the first unacknowledged event.
                self._settle_acks()
                self._delete_settled()
                self._inflight.clear()
                self._inflight_client = client
                self._cursor = 0
                generation = current
            self._settle_acks()
            if client is not None:
                self._feed(client)
            if (len(self._settled) >= DELETE_BATCH and not self._delete_failures) or self._delete_due_in() == 0:
                self._delete_settled()

    def _work_waiting(self, generation: int) -> bool:
        return (self._stopped or self._generation != generation or bool(self._acks)
                or self._delete_due_in() == 0
                or (self._client is not None and self._dirty and len(self._inflight) < self._window))

    def _delete_due_in(self) -> float | None:
        """Seconds until acknowledged events should be deleted; None when there are none."""
        if not self._settled:
            return None
        return max(0.0, self._last_delete + DELETE_EVERY_S - time.monotonic())

    def _settle_acks(self) -> None:
        # A mid is unique only within one connection: paho numbers each new
        # client's messages from 1. When this thread was held up (a slow disk)
        # across a reconnect, the new connection's acks of its state, birth and
        # responses are already queued while _inflight still maps the old
        # connection's unacknowledged events, under the same mids; taking
        # them as acks deleted those events unsent. So an ack settles an event
        # only when it comes from the connection the event was sent on.
        while self._acks:
            client, mid = self._acks.popleft()
            if client is not self._inflight_client:
                continue
            seq = self._inflight.pop(mid, None)
            if seq is not None:
                self._settled.append(seq)

    def _delete_settled(self) -> None:
        # Deleting takes the database's write lock, which waits for any event
        # being committed: batched, and after feeding, so that wait does not
        # hold back the next publish. Acknowledged but not yet deleted events
        # are sent again only after a crash, and de-duplicated downstream.
        self._last_delete = time.monotonic()
        if self._settled:
            settled, self._settled = self._settled, []
            try:
                self._outbox.delete(settled)
            except sqlite3.Error as exc:
                # A full or locked disk: keep them and try again later (sent again meanwhile only after
                # a reconnect, and de-duplicated downstream); the drain thread must not die of it.
                self._settled = settled + self._settled
                fault = fault_of(exc)
                self._delete_failures += 1
                if self._delete_failures == 1:
                    logger.warning("cannot delete %d acknowledged events: %s", len(settled),
                                   exc if fault else type(exc).__name__)
                self._last_delete += backoff_delay(self._delete_failures, 0.2, 10.0) - DELETE_EVERY_S
                return
            if self._delete_failures:
                logger.info("acknowledged events deleted again after %d failed attempts", self._delete_failures)
            self._delete_failures = 0

    def _feed(self, client: mqtt.Client) -> None:
        room = self._window - len(self._inflight)
        if room <= 0:
            return
        batch = self._outbox.after(self._cursor, room)
        for pending in batch:
            info = client.publish(pending.topic, pending.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                # The connection went away; the next attach starts over.
                return
            self._inflight[info.mid] = pending.seq
            self._cursor = pending.seq
            self.sent += 1
        if len(batch) == room:
            self._dirty = True
