"""The generated Mosquitto bridge's topic rules, run for real between two plain loopback brokers.

A "store" Mosquitto bridges to a "central" Mosquitto with the topic rules ``edge-agent broker provision``
writes (:func:`edge_agent.provisioning.mosquitto_config.render_bridge_conf`; config/mosquitto/bridge.conf is
its output for the example store), only the TLS lines left out, so that these tests look at the topics alone
(tests/test_bridge_tls.py runs the bridge with its certificates). What the agent publishes locally must not
reach central when it is personal (the kiosk session, local requests and responses), and must reach it when
it is pseudonymous (state, events, responses to central's commands); what central pushes must reach the store.
"""

from __future__ import annotations

import time

import pytest

from edge_agent.contract import ALL_MESSAGES, DEMO_CONTROL, EVENTS, encode
from edge_agent.provisioning import StorePlan, parse_devices
from edge_agent.provisioning.mosquitto_config import render_bridge_conf
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import Capture, Publisher

STORE, DEVICE = "store-7", "kiosk-1"
FOOTFALL = EVENTS["footfall"].topic_for(STORE, DEVICE)


def bridge_lines(central_port: int) -> str:
    plan = StorePlan(STORE, parse_devices(DEVICE), lan_address="127.0.0.2", central_address=f"127.0.0.1:{central_port}")
    lines = [line for line in render_bridge_conf(plan).splitlines()
             if not line.startswith(("bridge_cafile", "bridge_certfile", "bridge_keyfile"))]
    return "\n".join(lines) + "\n"


@pytest.fixture
def brokers(tmp_path):
    central = Mosquitto(workdir=tmp_path / "central").start()
    store = Mosquitto(workdir=tmp_path / "store", extra=bridge_lines(central.port)).start()
    yield store, central
    store.close()
    central.close()


def example_payload(message) -> bytes:
    if message.model.__name__ == "ResponseEnvelope":
        return b'{"status":"ok"}'
    _, payload = encode(message, message.example, transaction="t-1" if message.response else None)
    return payload


def test_bridge_carries_pseudonymous_topics_and_never_local_personal_ones(brokers):
    store, central = brokers
    at_central = Capture(central.port, "#")
    at_store = Capture(store.port, ["cs/v1/central/#", f"cs/v1/{STORE}/+/request/#",
                                    f"cs/v1/{STORE}/+/local/request/#"])
    # The bridge connects asynchronously; wait until a probe crosses.
    store_pub, central_pub = Publisher(store.port), Publisher(central.port)
    deadline = time.monotonic() + 20
    while not any(m.topic.endswith("/event/footfall") for m in at_central.messages):
        assert time.monotonic() < deadline, "the bridge never came up"
        store_pub.publish(FOOTFALL, b"{}")
        time.sleep(0.2)
    try:
        for message in ALL_MESSAGES:
            if message.direction == "publish":
                store_pub.publish(message.topic_for(STORE, DEVICE), example_payload(message))
            elif message.topic.startswith("cs/v1/central/"):
                central_pub.publish(message.topic_for(STORE), example_payload(message))
            elif message is DEMO_CONTROL:  # the kiosk publishes it in the store, for `edge-agent demo`
                store_pub.publish(message.topic_for(STORE, DEVICE), example_payload(message))
            else:  # commands: central may send the bridged ones
                central_pub.publish(message.topic_for(STORE, DEVICE), example_payload(message))
        store_pub.publish(FOOTFALL, b'{"last":true}')
        at_central.wait_for(lambda ms: any(m.payload == b'{"last":true}' for m in ms), timeout=20)
        at_store.wait_for(lambda ms: any(m.topic.endswith("/erasure") for m in ms), timeout=20)
        crossed_up = {m.topic for m in at_central.messages}
        crossed_down = {m.topic for m in at_store.messages}
        for message in ALL_MESSAGES:
            topic = message.topic_for(STORE, DEVICE)
            up = message.direction == "publish"
            crossed = topic in (crossed_up if up else crossed_down)
            if message.bridged:
                assert crossed, f"{message.name} should reach {'central' if up else 'the store'}"
            else:
                assert not crossed, f"{message.name} must never cross the bridge"
        assert DEMO_CONTROL.topic_for(STORE, DEVICE) not in crossed_up, "demo-control must stay in the store"
    finally:
        for client in (at_central, at_store, store_pub, central_pub):
            client.close()
