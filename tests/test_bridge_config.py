"""The shipped Mosquitto bridge configuration, run for real between two loopback brokers.

A "store" Mosquitto bridges to a "central" Mosquitto with the topic rules of
config/mosquitto/bridge.conf (only the TLS lines are left out: loopback has no
certificates). What the agent publishes locally must not reach central when
it is personal (the kiosk session, local requests and responses), and must
reach it when it is pseudonymous (state, events, responses to central's
commands); what central pushes must reach the store.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge_agent.contract import ALL_MESSAGES, DEMO_CONTROL, EVENTS, encode
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import Capture, Publisher

ROOT = Path(__file__).resolve().parent.parent
STORE, DEVICE = "store-7", "kiosk-1"
FOOTFALL = EVENTS["footfall"].topic_for(STORE, DEVICE)


def bridge_lines(central_port: int) -> str:
    lines = []
    for line in (ROOT / "config" / "mosquitto" / "bridge.conf").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "bridge_cafile", "bridge_certfile", "bridge_keyfile")):
            continue
        if stripped.startswith("address "):
            stripped = f"address 127.0.0.1:{central_port}"
        lines.append(stripped.replace("STORE_ID", STORE))
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
