"""Promises of the README's delivery-guarantee section that no other test held when broken on purpose.

Each test here was written after a mutant of the code (listed in its docstring) left the whole of the
relevant test files passing.
"""

from __future__ import annotations

import sqlite3

import paho.mqtt.client as mqtt
import pytest

from edge_agent.agent import Agent
from edge_agent.contract import PUSHES, encode
from tests.support.faults import wait_until


@pytest.fixture
def running(mosquitto, make_config, publisher):
    _, config = make_config(mosquitto)
    agent = Agent(config)
    agent.start()
    assert agent.link.wait_connected(10)
    yield agent, publisher(mosquitto)
    agent.stop()


def test_push_acknowledged_to_the_broker_before_it_is_applied_is_never_the_case(running, monkeypatch):
    """Promise: pushes are "acknowledged to the broker only after" they were applied (and recorded by id).

    Mutant that survived the suite: ``Link._work`` sending the PUBACK before calling the handler. Here the real
    paho client's ``ack`` is watched: when it is called for the push, the push must already be committed, as a
    separate connection to the agent's database sees it (a PUBACK makes the broker forget the message, so an
    agent killed between the two would lose it).
    """
    agent, pub = running
    seen_at_ack: list[bool] = []
    real_ack = mqtt.Client.ack
    reader = sqlite3.connect(f"file:{agent.store.path}?mode=ro", uri=True, check_same_thread=False)

    def watched_ack(client, mid, qos):
        row = reader.execute("SELECT 1 FROM inbox_seen WHERE id = ?", (message_id,)).fetchone()
        seen_at_ack.append(row is not None)
        return real_ack(client, mid, qos)

    monkeypatch.setattr(mqtt.Client, "ack", watched_ack)
    message_id, payload = encode(PUSHES["order"], PUSHES["order"].example)
    pub.publish(PUSHES["order"].topic_for(agent.topics.store), payload)
    wait_until(lambda: seen_at_ack, 15, "the push's PUBACK")
    wait_until(lambda: agent.inbox.applied == 1, 15, "the push applied")
    reader.close()
    assert seen_at_ack[0] is True, "the PUBACK went out before the push was committed"
