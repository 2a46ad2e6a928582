"""The store broker's ACL (``config/mosquitto/connected-store.acl``) on a real Mosquitto with logins.

The agent logs in as its device id (``kiosk-1``), its kiosk app as ``kiosk-1-screen``. The kiosk must
receive everything its screens show (session, presence, scan, shelf, its responses, the agent's state,
birth and health) and send local requests, and nothing else: no upstream events, no central pushes
(customers!), no forged sessions, no commands to the agent.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract import COMMANDS, PUSHES, Topics
from kiosk.bridge import KIOSK_COMMANDS, Bridge
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.system import ensure_installed

ACL = Path(__file__).resolve().parents[1] / "config" / "mosquitto" / "connected-store.acl"
STORE, DEVICE = "store-0042", "kiosk-1"
USERS = {"kiosk-1": "agent-secret", "kiosk-1-screen": "screen-secret", "central-bridge": "bridge-secret"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("acl")
    passwd = ensure_installed("mosquitto", binary="mosquitto_passwd")
    for index, (user, password) in enumerate(USERS.items()):
        subprocess.run([passwd, "-b", *(["-c"] if index == 0 else []), str(folder / "passwd"), user, password],
                       check=True)
    broker = Mosquitto(workdir=folder / "broker", port=free_port(),
                       extra=f"password_file {folder / 'passwd'}\nacl_file {ACL}\n")
    broker.config_path.write_text(broker.config_path.read_text().replace("allow_anonymous true",
                                                                         "allow_anonymous false"))
    broker.start()
    yield broker
    broker.close()


class Client:
    """A paho client logged in as ``user`` that records what it receives."""

    def __init__(self, port: int, user: str, subscriptions: list[tuple[str, int]], name: str = ""):
        self.received: list[str] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.disconnected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{user}{name}", protocol=mqtt.MQTTv311)
        self.client.username_pw_set(user, USERS[user])
        self.client.on_connect = lambda c, *_: c.subscribe(subscriptions) if subscriptions else self._subscribed.set()
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._subscribed.wait(10), f"{user} could not subscribe"

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.received.append(message.topic)

    def publish(self, topic: str) -> None:
        self.client.publish(topic, b"{}", qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)
    time.sleep(0.5)  # and anything that would arrive late


def test_the_kiosk_login_reads_what_its_screens_show_and_sends_only_local_requests(broker):
    topics = Topics(STORE, DEVICE)
    screen_topics = Bridge("127.0.0.1", broker.port, STORE, DEVICE, sink=None).subscriptions()
    everything = [("cs/#", 1)]
    kiosk = Client(broker.port, "kiosk-1-screen", screen_topics + everything)  # asks for more than it may have
    agent = Client(broker.port, "kiosk-1", [(topics.device_root + "/local/request/+", 1), ("cs/v1/central/#", 1)])
    central = Client(broker.port, "central-bridge", everything)
    try:
        shown = [topics.session, topics.presence, topics.scan, topics.shelf, topics.state, topics.birth,
                 topics.health, *(topics.response(name) for name in KIOSK_COMMANDS)]
        hidden = [topics.event("tap"), topics.event("presence"), topics.event("consent")]
        for topic in shown + hidden:
            agent.publish(topic)
        customer = PUSHES["customer"].topic_for(STORE)
        central.publish(customer)
        central.publish(COMMANDS["ping"].topic_for(STORE, DEVICE))
        requests = [COMMANDS[name].topic_for(STORE, DEVICE) for name in KIOSK_COMMANDS]
        for topic in requests:
            kiosk.publish(topic)
        wait_until(lambda: not set(shown) - set(kiosk.received) and not set(requests) - set(agent.received)
                   and customer in agent.received)
        assert set(kiosk.received) == set(shown), "the kiosk reads exactly what it shows: no events, no customers"
        assert set(agent.received) == {*requests, customer}, "the agent gets the kiosk's requests and central's pushes"
        assert not kiosk.disconnected.is_set()
    finally:
        for client in (kiosk, agent, central):
            client.close()


@pytest.mark.parametrize("forged", ["session", "set-log-level", "customer"])
def test_a_kiosk_login_cannot_forge_a_session_a_command_or_a_push(broker, forged):
    topics = Topics(STORE, DEVICE)
    topic = {"session": topics.session, "set-log-level": COMMANDS["set-log-level"].topic_for(STORE, DEVICE),
             "customer": PUSHES["customer"].topic_for(STORE)}[forged]
    central = Client(broker.port, "central-bridge", [("cs/#", 1)])
    forger = Client(broker.port, "kiosk-1-screen", [], name="-forger")
    try:
        forger.client.publish(topic, b"{}", qos=1)
        # Mosquitto 2 closes the connection of a client publishing where it may not (MQTT-3.3.5-2).
        assert forger.disconnected.wait(10), "the broker cut the forger off"
        wait_until(lambda: topic in central.received, timeout=1.0)
        assert topic not in central.received
    finally:
        forger.close()
        central.close()
