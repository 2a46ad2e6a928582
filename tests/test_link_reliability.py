"""The link's promises under faults, end to end through a real Mosquitto.

Each test names the fault and the promise, Mosquitto style: events upstream are
at-least-once and in order (consumers de-duplicate by envelope ``id``), the
retained state tells the truth after a crash, and a bad request gets an error
response instead of taking the agent down.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.agent import Agent
from edge_agent.contract import COMMANDS, Topics, now_ts
from edge_agent.outbox import Outbox
from edge_agent.store import Store
from tests.support.cards import CUSTOMER
from tests.support.faults import DurableCapture, outbox_depth, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import Capture, envelope

pytestmark = pytest.mark.slow



def event_data(n: int) -> tuple[str, dict]:
    """The ``n``-th event of a test: mostly telemetry (footfall), every fifth critical (consent)."""
    if n % 5 == 4:
        until = (datetime.now(UTC) + timedelta(days=365)).isoformat()
        return "consent", {"customer": CUSTOMER, "purpose": "recognition", "granted": n % 2 == 0,
                           "until": until if n % 2 == 0 else None, "source": "kiosk"}
    return "footfall", {"interval_start": now_ts(), "interval_s": 1.0, "count": n}


class SteadyProducer:
    """Emits one event every ``interval`` seconds from its own thread, as a sensor would."""

    def __init__(self, agent: Agent, interval: float = 0.01):
        self.agent = agent
        self.interval = interval
        self.ids: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-producer", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> SteadyProducer:
        self._thread.start()
        return self

    def _run(self) -> None:
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                name, data = event_data(len(self.ids))
                message_id = self.agent.emit(name, data)
                with self._lock:
                    self.ids.append(message_id)
                next_at += self.interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        except BaseException as exc:  # noqa: BLE001 - reported by stop(), not lost in a thread
            self.error = exc

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.ids)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def stop(self) -> list[str]:
        """Stop producing; the ids produced, in order.

        :raises AssertionError: when an emit failed.
        """
        self.close()
        if self.error is not None:
            raise AssertionError(f"emitting failed: {self.error!r}")
        return list(self.ids)


def assert_same_order(received: list[str], produced: list[str]) -> None:
    """The de-duplicated ids must be exactly the produced ones, in production order."""
    missing = set(produced) - set(received)
    unexpected = set(received) - set(produced)
    assert not missing, f"{len(missing)} of {len(produced)} events lost"
    assert not unexpected, f"{len(unexpected)} events nobody produced"
    if received != produced:
        first = next(i for i, (a, b) in enumerate(zip(received, produced, strict=False)) if a != b)
        raise AssertionError(f"events out of order from position {first} of {len(produced)}")


# --------------------------------------------------------------------------- broker outage


@pytest.fixture
def durable_mosquitto(tmp_path):
    """A Mosquitto for one test whose persistence survives a graceful restart."""
    broker = Mosquitto(workdir=tmp_path / "durable-mosquitto")
    broker.start()
    yield broker
    broker.close()


def test_broker_restart_while_producing_delivers_every_event_in_order_once(durable_mosquitto, make_config):
    broker = durable_mosquitto
    _, config = make_config(broker)
    topics = Topics(config.store.id, config.device.id)
    cap = DurableCapture(broker.port, f"{topics.device_root}/event/#", client_id=f"audit-{config.store.id}")
    agent = Agent(config)
    agent.start()
    producer = None
    try:
        assert agent.link.wait_connected(10), "agent never connected"
        producer = SteadyProducer(agent, interval=0.01).start()
        wait_until(lambda: len(cap.unique_ids()) >= 30, 20, "events flow before the outage")

        broker.stop()
        assert (broker.workdir / "mosquitto.db").exists(), "the broker did not save its sessions"
        wait_until(lambda: not agent.link.connected, 10, "agent noticed the broker is gone")
        produced_before_outage = producer.count
        outage_started = time.monotonic()
        # The outage lasts a few seconds and long enough for a backlog to build.
        wait_until(lambda: time.monotonic() - outage_started >= 2.5
                   and producer.count - produced_before_outage >= 100, 30, "a backlog built during the outage")
        backlog = agent.outbox.depth().total
        assert backlog >= 100, f"only {backlog} events waited in the outbox during the outage"

        broker.start()
        wait_until(lambda: agent.link.stats.connections >= 2 and agent.link.connected, 20, "agent reconnected")
        reconnected_at = producer.count
        wait_until(lambda: producer.count - reconnected_at >= 50, 20, "events produced after the outage")
        produced = producer.stop()

        received = cap.wait_ids(produced, timeout=30)
        assert_same_order(received, produced)
        assert cap.connects >= 2, "the capture never went through the outage"
        wait_until(lambda: agent.outbox.depth().total == 0, 15, "outbox drained")
    finally:
        if producer is not None:
            producer.close()
        agent.stop()
        cap.close()


def test_reconnect_while_drain_waits_on_slow_disk_loses_no_event(own_mosquitto, make_config, publisher):
    """A new connection's PUBACKs must never settle the old connection's unacknowledged events.

    paho numbers each connection's messages from 1, so the responses the new
    connection sends carry the mids of events the old one never got an
    acknowledgement for. Here the drain thread waits on the database (a slow
    SD card: a durable commit can take hundreds of milliseconds) across the
    reconnect, so those acknowledgements are waiting for it when it returns.
    """
    _, config = make_config(own_mosquitto)
    topics = Topics(config.store.id, config.device.id)
    events = DurableCapture(own_mosquitto.port, f"{topics.device_root}/event/#", client_id=f"audit-{config.store.id}")
    responses = DurableCapture(own_mosquitto.port, topics.response("ping"), client_id=f"resp-{config.store.id}")
    agent = Agent(config)
    agent.start()
    frozen = own_mosquitto.process
    try:
        assert agent.link.wait_connected(10)
        frozen.send_signal(signal.SIGSTOP)  # the broker takes events but acknowledges nothing
        produced = [agent.emit(*event_data(n)) for n in range(100)]
        # White box: no black-box signal says the events left for the frozen broker.
        wait_until(lambda: agent.link._drain.sent >= 100, 10, "events handed to the frozen broker")
        with agent.store.reading():  # the disk stalls: the drain thread will wait for it
            produced.append(agent.emit(*event_data(100)))
            time.sleep(0.2)  # let the drain thread run into the stall (only makes the fault likelier)
            own_mosquitto.kill()
            own_mosquitto.start()
            wait_until(lambda: agent.link.stats.connections >= 2 and agent.link.connected, 20, "agent reconnected")
            wait_until(lambda: events.connected and responses.connected, 20, "consumers reconnected")
            pub = publisher(own_mosquitto)
            for n in range(300):  # answered on the new connection: PUBACKs for mids 3..302
                pub.client.publish(COMMANDS["ping"].topic_for(topics.store, topics.device),
                                   envelope("request-ping/1", {}, transaction=f"t-{n}"), qos=1)
            responses.wait_for(lambda ms: len({m.json()["transaction"] for m in ms}) >= 300, timeout=30)
        received = events.wait_ids(produced, timeout=30)
        assert_same_order(received, produced)
        wait_until(lambda: agent.outbox.depth().total == 0, 15, "outbox drained")
    finally:
        if frozen.poll() is None:  # failed before the kill: a stopped broker ignores SIGTERM
            frozen.send_signal(signal.SIGCONT)
        agent.stop()
        events.close()
        responses.close()


# --------------------------------------------------------------------------- crash while draining

# An agent drains about 10,000 events a second on a laptop: this backlog keeps
# it busy long enough for the kill to land mid-drain even on a slow machine.
BACKLOG = 20_000
KILL_AFTER = 2_000  # events seen by the consumer


def fill_outbox(db_path, topics: Topics, count: int) -> list[str]:
    """Queue ``count`` events in an agent's database while no agent runs (as a previous run would have)."""
    store = Store(db_path)
    try:
        outbox = Outbox(store, topics, max_rows=1_000_000)
        ids: list[str] = []
        for start in range(0, count, 1000):
            # One durable commit per thousand, not per event: the test needs a backlog, not fsyncs.
            with store.transaction(durable=True):
                ids.extend(outbox.enqueue(*event_data(n)) for n in range(start, min(count, start + 1000)))
        return ids
    finally:
        store.close()


def test_agent_sigkilled_while_draining_backlog_delivers_every_event_in_order(mosquitto, make_config,
                                                                              agent_process):
    path, config = make_config(mosquitto)
    topics = Topics(config.store.id, config.device.id)
    produced = fill_outbox(config.database.path, topics, BACKLOG)
    cap = DurableCapture(mosquitto.port, f"{topics.device_root}/event/#", client_id=f"audit-{config.store.id}")
    try:
        first = agent_process(path)
        cap.wait_for(lambda messages: len(messages) >= KILL_AFTER, timeout=30)
        first.kill()
        left = outbox_depth(config.database.path)
        assert 0 < left < BACKLOG, f"the kill did not land mid-drain: {left} events left in the outbox"

        second = agent_process(path)
        received = cap.wait_ids(produced, timeout=45)
        assert_same_order(received, produced)
        wait_until(lambda: outbox_depth(config.database.path) == 0, 20, "outbox drained after the restart")
        assert second.terminate() == 0, second.log()[-2000:]
    finally:
        cap.close()


# --------------------------------------------------------------------------- last will


# Mosquitto checks keepalives once a second, in whole seconds (1.5 x 5 s rounds
# down to 7 s, "older than" adds up to a second); a loaded machine adds more.
KEEPALIVE_SLACK_S = 6.0


def states(messages) -> list[dict]:
    return [m.json()["data"] for m in messages]


def test_agent_sigkilled_gets_retained_last_will_offline_within_keepalive(mosquitto, make_config, agent_process):
    path, config = make_config(mosquitto)
    keepalive = config.mqtt.keepalive_s
    state_topic = Topics(config.store.id, config.device.id).state
    cap = Capture(mosquitto.port, state_topic)
    try:
        agent = agent_process(path)
        cap.wait_for(lambda ms: {"state": "online", "reason": "connected"} in states(ms), timeout=20)
        killed_at = time.monotonic()
        agent.kill()
        offline = {"state": "offline", "reason": "last-will"}
        cap.wait_for(lambda ms: offline in states(ms), timeout=keepalive * 1.5 + KEEPALIVE_SLACK_S + 5)
        will = next(m for m in cap.messages if m.json()["data"] == offline)
        assert will.at - killed_at <= keepalive * 1.5 + KEEPALIVE_SLACK_S
        assert states(cap.messages)[-1] == offline

        fresh = Capture(mosquitto.port, state_topic)
        try:
            retained = fresh.wait_for(lambda ms: len(ms) >= 1, timeout=10)[0]
            assert retained.retain, "the state is not retained"
            assert retained.json()["data"] == offline
        finally:
            fresh.close()
    finally:
        cap.close()


def test_agent_frozen_past_keepalive_gets_last_will_then_announces_online_on_resume(mosquitto, make_config,
                                                                                  agent_process):
    """SIGSTOP keeps the TCP connection open: only the broker's keepalive check can notice."""
    path, config = make_config(mosquitto)
    keepalive = config.mqtt.keepalive_s
    state_topic = Topics(config.store.id, config.device.id).state
    cap = Capture(mosquitto.port, state_topic)
    try:
        agent = agent_process(path)
        online = {"state": "online", "reason": "connected"}
        offline = {"state": "offline", "reason": "last-will"}
        cap.wait_for(lambda ms: online in states(ms), timeout=20)
        frozen_at = time.monotonic()
        agent.process.send_signal(signal.SIGSTOP)
        try:
            cap.wait_for(lambda ms: offline in states(ms), timeout=keepalive * 1.5 + KEEPALIVE_SLACK_S + 5)
            will = next(m for m in cap.messages if m.json()["data"] == offline)
            # Not before the keepalive ran out (the connection stayed open), not much after 1.5x.
            assert keepalive * 0.9 <= will.at - frozen_at <= keepalive * 1.5 + KEEPALIVE_SLACK_S
        finally:
            agent.process.send_signal(signal.SIGCONT)
        count = len(cap.messages)
        cap.wait_for(lambda ms: online in states(ms[count:]), timeout=20)
        assert agent.alive
        assert agent.terminate() == 0, agent.log()[-2000:]
        cap.wait_for(lambda ms: states(ms)[-1] == {"state": "offline", "reason": "shutdown"}, timeout=10)
    finally:
        cap.close()


# --------------------------------------------------------------------------- bad commands


@pytest.fixture
def running_agent(mosquitto, make_config):
    _, config = make_config(mosquitto)
    agent = Agent(config)
    agent.start()
    assert agent.link.wait_connected(10)
    yield agent
    agent.stop()


def request(cap: Capture, publisher, topics: Topics, command: str, payload: bytes, transaction: str | None) -> dict:
    """Publish ``payload`` on the command's request topic; return the response carrying ``transaction``."""
    before = len(cap.messages)
    publisher.publish(COMMANDS[command].topic_for(topics.store, topics.device), payload)
    topic = topics.response(command)

    def answers(messages):
        return [m.json() for m in messages[before:] if m.topic == topic and m.json()["transaction"] == transaction]

    return answers(cap.wait_for(answers, timeout=10))[0]


BAD_REQUESTS = [
    pytest.param("set-log-level", envelope("request-set-log-level/1", {"level": "LOUD"}, transaction="t-loud"),
                 "t-loud", "data.level", id="invalid-data"),
    pytest.param("set-log-level", b'{"transaction": "t-broken", "data": 5}', "t-broken", "bad envelope",
                 id="json-but-no-envelope"),
    pytest.param("ping", b'{"transaction": "t-list", "id": [], "schema": {}}', "t-list", "bad envelope",
                 id="envelope-fields-of-wrong-type"),
    pytest.param("get-config", envelope("request-ping/1", {}, transaction="t-schema"), "t-schema", "schema",
                 id="wrong-schema"),
    pytest.param("ping", envelope("request-ping/1", {}), None, "transaction is required", id="no-transaction"),
    pytest.param("ping", b"\xff\xfe not json", None, "not JSON", id="not-json"),
]


@pytest.mark.parametrize(("command", "payload", "transaction", "reason"), BAD_REQUESTS)
def test_command_with_bad_body_gets_error_response_with_transaction_and_agent_keeps_answering(
        running_agent, mosquitto, capture, publisher, command, payload, transaction, reason):
    topics = running_agent.topics
    cap = capture(mosquitto, [topics.response(name) for name in COMMANDS])
    pub = publisher(mosquitto)
    rejected = running_agent.inbox.rejected

    response = request(cap, pub, topics, command, payload, transaction)
    assert response["status"] == "error"
    assert response["transaction"] == transaction
    assert response["data"] is None
    assert reason in response["error"]

    for n in range(3):
        pong = request(cap, pub, topics, "ping", envelope("request-ping/1", {}, transaction=f"t-after-{n}"),
                       f"t-after-{n}")
        assert pong["status"] == "ok" and pong["data"]["pong"] is True
    # The pings were handled after the bad request, so its count has settled: once, not more.
    assert running_agent.inbox.rejected == rejected + 1
    assert running_agent.link.connected and running_agent.link.alive()
