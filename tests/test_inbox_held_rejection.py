"""An invalid push whose rejection cannot be reported (the database cannot be written for now) is held, not
acknowledged, and rejected with its report once it can be; an erasure is logged as done only after its
commit. On real SQLite, with a real Mosquitto connection behind each message's acknowledgement."""

import json
import logging
import sqlite3
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.central import apply_customer
from edge_agent.contract import PUSHES, CustomerProfile, encode
from edge_agent.link import Received
from tests.support.faults import wait_until
from tests.support.mosquitto import Mosquitto
from tests.test_transient_failures import ERASED, errors_upstream, inbox  # noqa: F401 - inbox: fixture


class Spied(Received):
    """A received message whose acknowledgements are counted (and sent: the client is connected)."""

    acks = 0

    def acknowledge(self) -> None:
        self.acks += 1
        super().acknowledge()


@pytest.fixture
def connected(tmp_path):
    broker = Mosquitto(workdir=tmp_path / "broker").start()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="held-rejection", protocol=mqtt.MQTTv311,
                         manual_ack=True)
    ready = threading.Event()
    client.on_connect = lambda *args: ready.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    assert ready.wait(60), "not connected to the test broker"
    yield client
    client.disconnect()
    client.loop_stop()
    broker.close()


def locked(store) -> sqlite3.Connection:
    """Another process's write lock on the agent's database (the store gives up at once: busy_timeout 0)."""
    store.conn.execute("PRAGMA busy_timeout=0")
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_invalid_push_whose_rejection_cannot_be_written_is_held_unacknowledged_and_reported_once_it_can(
        inbox, connected):  # noqa: F811
    inbox_, store, topics, _ = inbox
    document = json.loads(encode(PUSHES["catalogue"], {"products": [PUSHES["catalogue"].example["products"][0]]})[1])
    document["data"]["products"][0]["price_cents"] = -5  # invalid: will never apply
    topic = PUSHES["catalogue"].topic_for(topics.store)
    push = Spied(connected, topic, json.dumps(document).encode(), 7, 1, False)
    lock = locked(store)
    try:
        assert inbox_.receive(push) is False, "acknowledged although its rejection was not reported"
        assert (inbox_.held, inbox_.rejected, push.acks) == (1, 0, 0)
        assert inbox_.retry() is not None and push.acks == 0, "acknowledged while the database is still locked"
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    wait_until(lambda: inbox_.retry() is None, 60, "the held rejection retried")
    assert (inbox_.held, inbox_.rejected, push.acks) == (0, 1, 1)
    [report] = errors_upstream(store)
    assert report["message_id"] == document["id"] and "price_cents" in report["reason"]


def test_erasure_whose_commit_fails_is_not_logged_as_erased_and_is_logged_once_it_commits(
        inbox, connected, caplog):  # noqa: F811
    inbox_, store, topics, _ = inbox
    with store.transaction(durable=True) as conn:
        apply_customer(conn, CustomerProfile(customer=ERASED, version=1, first_name="Sanne", consents=[]),
                       inbox_._outbox)
    # After the erasure's own statements, the same transaction fails (what a full disk does at the commit).
    store.conn.execute("CREATE TRIGGER fail_seen BEFORE INSERT ON inbox_seen BEGIN "
                       "SELECT RAISE(ABORT, 'the commit failed'); END")
    _, payload = encode(PUSHES["erasure"], {"request_id": "er-log-1", "customer": ERASED})
    topic = PUSHES["erasure"].topic_for(topics.store)
    caplog.set_level(logging.INFO, logger="edge_agent")
    inbox_.receive(Spied(connected, topic, payload, 8, 1, False))
    with store.reading() as conn:
        assert conn.execute("SELECT 1 FROM customers WHERE customer = ?", (ERASED,)).fetchone(), "rolled back"
    assert "erased" not in caplog.text, "logged as erased although the erasure was rolled back"
    store.conn.execute("DROP TRIGGER fail_seen")
    inbox_.receive(Spied(connected, topic, payload, 9, 1, False))  # delivered again
    with store.reading() as conn:
        assert not conn.execute("SELECT 1 FROM customers WHERE customer = ?", (ERASED,)).fetchone()
    assert "erasure request er-log-1 applied: " in caplog.text
