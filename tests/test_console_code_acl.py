"""The one-time code offers on the store broker the project ships (config/mosquitto/store.conf and its generated
ACL): a kiosk's agent offers a code, the console's login receives it, and a kiosk screen's login, which must not
be able to log anyone in at the console, can neither read an offer (of its own device or any other) nor forge
one (for its own device or another).

The shipped ACL is for the example store (store-0042: kiosk-1 with its screen, shelf-1),
so this test is that store.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.contract import CONSOLE_CODE, encode, new_id
from edge_agent.staff.pin import hash_pin
from tests.support.mosquitto import LoginClient, Mosquitto

STORE = "store-0042"
PASSWORDS = {"console": "console-pw-7f3a", "kiosk-1": "kiosk-pw-5d10", "kiosk-1-screen": "screen-pw-a2b8"}
NOT_AUTHORISED = 0x87


@pytest.fixture
def store_broker(tmp_path):
    broker = Mosquitto.store(tmp_path / "broker", PASSWORDS)
    broker.start()
    yield broker
    broker.close()


def _offer(code: str) -> bytes:
    return encode(CONSOLE_CODE, {"offer": new_id(), "staff": "s-anna", "display_name": "Anna", "role": "manager",
                                 "verifier": hash_pin(code),
                                 "valid_until": datetime.now(UTC) + timedelta(minutes=2)})[1]


def test_a_kiosk_screens_login_can_neither_read_nor_forge_a_console_code_offer(store_broker):
    topic = CONSOLE_CODE.topic_for(STORE, "kiosk-1")
    console = LoginClient(store_broker.port, "console", PASSWORDS["console"], [(CONSOLE_CODE.topic_for(STORE, "+"), 1)],
                          protocol=5)
    screens = [LoginClient(store_broker.port, name, PASSWORDS[name], protocol=5)
               for name in ("kiosk-1-screen",)]
    agent = LoginClient(store_broker.port, "kiosk-1", PASSWORDS["kiosk-1"], protocol=5)
    try:
        for client in (console, agent, *screens):
            client.wait_connected()
        for screen in screens:  # the exact topic, the device wildcard, the whole store: whatever it is granted
            screen.subscribe([(topic, 1)])
            screen.subscribe([(CONSOLE_CODE.topic_for(STORE, "+"), 1)])
            screen.subscribe([(f"cs/v1/{STORE}/#", 1)])
        # The agent's offer reaches the console and no screen.
        assert agent.publish(topic, _offer("40392817"), qos=1) == 0
        deadline = time.monotonic() + 30
        while topic not in console.topics():
            assert time.monotonic() < deadline, "the console never got the agent's offer"
            time.sleep(0.05)
        for screen in screens:
            screen.flush()
            assert topic not in screen.topics(), f"a screen read a console code offer: {screen.received}"
        # A screen's forged offer (a code it knows, in anyone's name) is refused and never reaches the console.
        console.received.clear()
        for screen in screens:
            assert screen.publish(topic, _offer("11112222"), qos=1) == NOT_AUTHORISED
            assert screen.publish(CONSOLE_CODE.topic_for(STORE, "kiosk-2"), _offer("11112222"), qos=1) \
                == NOT_AUTHORISED
        console.flush()
        assert not console.received, "a forged offer reached the console"
    finally:
        for client in (console, agent, *screens):
            client.close()
