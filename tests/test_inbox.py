"""The inbox through a real Mosquitto: versions never go backwards, duplicates are ignored,
personal data retained on the broker is refused, every rejection is reported upstream."""

from __future__ import annotations

import json

import pytest

from edge_agent.agent import Agent
from edge_agent.contract import PUSHES, encode, new_id
from tests.support.faults import wait_until

ORDER = PUSHES["order"].example


@pytest.fixture
def running(mosquitto, make_config, capture, publisher):
    _, config = make_config(mosquitto)
    agent = Agent(config)
    agent.start()
    assert agent.link.wait_connected(10)
    errors = capture(mosquitto, agent.topics.event("error"))
    yield agent, publisher(mosquitto), errors
    agent.stop()


def push(pub, agent, kind: str, data: dict, message_id: str | None = None, retain: bool = False) -> str:
    message_id, payload = encode(PUSHES[kind], data, message_id=message_id)
    pub.publish(PUSHES[kind].topic_for(agent.topics.store), payload, retain=retain)
    return message_id


def stored_order(agent, order_id: str):
    with agent.store.reading() as conn:
        return conn.execute("SELECT version, status FROM orders WHERE order_id = ?", (order_id,)).fetchone()


def test_older_version_is_rejected_with_a_reason_and_the_newer_one_stays(running):
    agent, pub, errors = running
    push(pub, agent, "order", ORDER | {"order_id": "V-1", "version": 3, "status": "ready"})
    old_id = push(pub, agent, "order", ORDER | {"order_id": "V-1", "version": 2, "status": "placed"})
    report = errors.wait_topic("/event/error")[0].json()["data"]
    assert report["message_id"] == old_id and "older than the stored version 3" in report["reason"]
    assert stored_order(agent, "V-1") == (3, "ready")
    # The same version again is a no-op, not an error.
    push(pub, agent, "order", ORDER | {"order_id": "V-1", "version": 3, "status": "collected"})
    push(pub, agent, "order", ORDER | {"order_id": "V-1", "version": 4, "status": "collected"})
    wait_until(lambda: stored_order(agent, "V-1") == (4, "collected"), 10, "version 4 applied")
    assert agent.inbox.rejected == 1


def test_a_message_delivered_twice_is_applied_once(running):
    agent, pub, _errors = running
    message_id = new_id()
    push(pub, agent, "erasure", {"request_id": "er-dup", "customer": ORDER["customer"]}, message_id=message_id)
    push(pub, agent, "erasure", {"request_id": "er-dup", "customer": ORDER["customer"]}, message_id=message_id)
    wait_until(lambda: agent.inbox.applied + agent.inbox.duplicates == 2, 60, "both handled")
    assert agent.inbox.applied == 1 and agent.inbox.duplicates == 1 and agent.inbox.rejected == 0
    with agent.store.reading() as conn:
        acks = conn.execute("SELECT count(*) FROM outbox WHERE topic LIKE '%/erasure-ack'").fetchone()[0]
    assert acks <= 1  # at most one still waiting for its PUBACK; never two


def test_retained_personal_push_is_refused(mosquitto, make_config, capture, publisher):
    # A retained message carries the retain flag only when it is delivered on
    # subscribing, so it is published before the agent connects.
    _, config = make_config(mosquitto)
    pub = publisher(mosquitto)
    topic = PUSHES["customer"].topic_for(config.store.id)
    _, payload = encode(PUSHES["customer"], PUSHES["customer"].example)
    pub.publish(topic, payload, retain=True)
    agent = Agent(config)
    errors = capture(mosquitto, agent.topics.event("error"))
    agent.start()
    try:
        report = errors.wait_topic("/event/error")[0].json()["data"]
        assert report["reason"] == "personal data must not be retained on the broker"
        with agent.store.reading() as conn:
            assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 0
    finally:
        agent.stop()
        pub.publish(topic, b"", retain=True)  # clear it from the shared broker


def test_unknown_kind_and_wrong_schema_are_reported_not_applied(running):
    agent, pub, errors = running
    pub.publish(agent.topics.central_root + "nonsense", b"{}")
    _, payload = encode(PUSHES["order"], ORDER)
    pub.publish(PUSHES["customer"].topic_for(agent.topics.store), payload)  # an order on the customer topic
    reports = [m.json()["data"] for m in errors.wait_topic("/event/error", count=2)]
    assert reports[0]["reason"] == "unknown kind of push"
    assert reports[1]["reason"] == "schema 'order/1' is not 'customer/1'"
    assert all(json.dumps(r).count(ORDER["customer"]) == 0 for r in reports), "no payload echoed"
