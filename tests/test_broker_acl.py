"""The store broker as shipped (``config/mosquitto/store.conf`` with ``connected-store.acl``) against every login.

A real Mosquitto runs the shipped store.conf line for line (only port and paths replaced:
:meth:`tests.support.mosquitto.Mosquitto.store`) with the shipped ACL, an example for store ``store-0042`` with
one kiosk, ``kiosk-1``. The roles:

* ``kiosk-1``, the edge agent: publishes what the contract says the agent publishes, reads the commands to
  it, the kiosk's requests, its probe and its own store's pushes;
* ``kiosk-1-screen``, the kiosk app: reads what its screens show, sends its local requests;
* ``central-bridge``, central connecting into the store broker: writes pushes and bridged commands, reads what
  is bridged out;
* strangers: a login the ACL does not name (``kiosk-2``, another device), and one named like the store, which
  the old ``pattern write cs/v1/+/%u/#`` let write the store's central pushes.

What each role may do is derived from the contract's catalogue (:mod:`edge_agent.contract.catalogue`), not
copied from the ACL, and tried on every topic of every family, for this store and device, another device,
another store and the ``central`` level. The test adds one login of its own, ``test-harness`` (reads and
writes everything), to publish and to watch; every other line is the shipped file.

What Mosquitto 2.0 really does, as these tests see it: a refused subscription is granted in the SUBACK (MQTT
3.1.1 has no refusal there) but nothing it does not allow is delivered; a refused publish is dropped (QoS 0
silently; QoS 1 still gets a PUBACK, with reason 0x87 even for MQTT 3.1.1). Nothing here relies on the
connection staying open or closing after a refusal (with other settings Mosquitto 2.0.11 closes it). A test waits
for "nothing more can come" with a SUBSCRIBE round trip: the broker handles a client's packets in order and
answers on one socket, so its SUBACK comes after everything it delivered before.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract import (
    ALL_MESSAGES,
    COMMANDS,
    DEMO_CONTROL,
    EVENTS,
    LOCAL,
    PROBE,
    PUSHES,
    RESPONSES,
    Message,
    Topics,
    encode,
)
from edge_agent.contract.catalogue import BIRTH, HEALTH, STATE
from kiosk.bridge import KIOSK_COMMANDS, Bridge
from tests.support.agent import AgentProcess, config_text
from tests.support.mosquitto import STORE_ACL, LoginClient, Mosquitto, settle
from tests.support.mqtt import envelope

STORE, DEVICE = "store-0042", "kiosk-1"  # the shipped ACL's example store and kiosk (as agent.example.toml)
SCREEN = f"{DEVICE}-screen"
HARNESS = "test-harness"
LOGINS = {DEVICE: "agent-secret", SCREEN: "screen-secret", "central-bridge": "bridge-secret",
          "kiosk-2": "other-device-secret", STORE: "store-named-secret", HARNESS: "harness-secret"}
ROLES = [DEVICE, SCREEN, "central-bridge", "kiosk-2", STORE]


def contract_rights(role: str) -> tuple[set[str], set[str]]:
    """(topics ``role`` may write, topics it may read) in the example store, from the contract alone."""
    def own(message: Message) -> str:
        return message.topic_for(STORE, DEVICE)

    local_commands = [m for m in COMMANDS.values() if m.topic.startswith(LOCAL)]
    if role == DEVICE:  # the agent: what it publishes; its commands, the kiosk's requests, its probe, its pushes
        return ({own(m) for m in ALL_MESSAGES if m.direction == "publish"},
                {own(m) for m in (*COMMANDS.values(), *PUSHES.values(), PROBE)})
    if role == SCREEN:  # the kiosk app: the device's status and the local topics the agent publishes for it
        shown = [STATE, BIRTH, HEALTH, *(m for m in ALL_MESSAGES if m.direction == "publish"
                                         and m.topic.startswith(LOCAL))]
        # Its requests are the local commands; local/demo (DEMO_CONTROL, no command) is for the demo's own
        # broker (edge-agent demo), never a store's.
        return {own(m) for m in local_commands}, {own(m) for m in shown}
    if role == "central-bridge":  # what the bridge carries: pushes and bridged commands in, the rest out
        return ({own(m) for m in ALL_MESSAGES if m.direction == "receive" and m.bridged},
                {own(m) for m in ALL_MESSAGES if m.direction == "publish" and m.bridged})
    return set(), set()


def universe() -> set[str]:
    """Every topic of every family: this store and device, another device, another store, the central level."""
    places = [(STORE, DEVICE), (STORE, "kiosk-2"), (STORE, SCREEN), ("store-2", DEVICE), ("central", DEVICE),
              ("central", STORE)]
    topics = {message.topic_for(store, device) for message in ALL_MESSAGES for store, device in places}
    topics |= {push.topic_for(store) for push in PUSHES.values()
               for store in (STORE, "store-2", DEVICE, SCREEN, "kiosk-2")}
    return topics


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store-broker")
    acl = folder / "acl"
    acl.write_text(STORE_ACL.read_text() + f"\n# Added by the test: its own observer.\nuser {HARNESS}\n"
                   "topic readwrite #\n")
    broker = Mosquitto.store(folder / "broker", LOGINS, acl=acl).start()
    yield broker
    broker.close()


def connect_as(port: int, user: str, subscriptions: Sequence[tuple[str, int]] = (), *,
               password: str | None = None, **options) -> LoginClient:
    """A client logged in as ``user`` with its password from :data:`LOGINS` (or ``password``)."""
    return LoginClient(port, user, LOGINS.get(user, "") if password is None else password, subscriptions, **options)


@pytest.fixture
def harness(broker):
    client = connect_as(broker.port, HARNESS, [("#", 0)])
    client.wait_connected()
    yield client
    client.close()


@pytest.mark.parametrize("role", ROLES)
def test_every_login_writes_and_reads_exactly_what_the_contract_gives_its_role(broker, harness, role):
    may_write, may_read = contract_rights(role)
    everything = sorted(universe())
    assert may_write | may_read <= set(everything)
    client = connect_as(broker.port, role, [("#", 0)])  # asks for everything, as an attacker would
    try:
        client.wait_connected()
        mark = f"{role}|".encode()
        for topic in everything:
            client.publish(topic, mark + topic.encode())
        settle(client, harness)
        written = harness.topics(mark)
        assert written == may_write, (f"{role} wrote where it may not: {sorted(written - may_write)}; "
                                      f"was refused where it may: {sorted(may_write - written)}")
        for topic in everything:
            harness.publish(topic, b"harness|" + topic.encode())
        settle(harness, client)
        read = client.topics(b"harness|")
        assert read == may_read, (f"{role} read what it may not: {sorted(read - may_read)}; "
                                  f"missed what it may: {sorted(may_read - read)}")
    finally:
        client.close()


def test_the_kiosk_app_receives_every_topic_it_subscribes_to_and_may_send_every_request_it_sends(broker):
    may_write, may_read = contract_rights(SCREEN)
    assert {COMMANDS[name].topic_for(STORE, DEVICE) for name in KIOSK_COMMANDS} == may_write
    assert DEMO_CONTROL.topic_for(STORE, DEVICE) not in may_write
    assert {topic for topic, _ in Bridge("127.0.0.1", broker.port, STORE, DEVICE, sink=None).subscriptions()} \
        <= may_read


def test_a_kiosk_screen_login_cannot_publish_an_erasure_ack_as_a_device(broker, harness):
    central = connect_as(broker.port, "central-bridge", [("#", 0)])
    screen = connect_as(broker.port, SCREEN)
    try:
        central.wait_connected()
        screen.wait_connected()
        _, ack = encode(EVENTS["erasure-ack"], EVENTS["erasure-ack"].example)
        forged = [EVENTS["erasure-ack"].topic_for(STORE, device) for device in (SCREEN, DEVICE)]
        for topic in forged:
            screen.publish(topic, ack, qos=1)
        settle(screen, harness, central)
        assert not {t for t, _ in harness.received} & set(forged), "the broker dropped the forged acks"
        assert not central.topics() & set(forged), "central never sees them"
        assert not screen.disconnected.is_set(), "with the shipped configuration a refusal keeps the connection"
    finally:
        screen.close()
        central.close()


def test_no_login_but_central_can_write_a_push_under_the_central_level(broker, harness):
    customer = PUSHES["customer"]
    payload = envelope(customer.schema_id, customer.example)
    forged = set()
    for login in (DEVICE, SCREEN, "kiosk-2", STORE):
        forger = connect_as(broker.port, login)
        forger.wait_connected()
        for store in (login, STORE):  # "cs/v1/central/<its name>/" was its own under the old pattern
            for kind in ("customer", "erasure"):
                topic = PUSHES[kind].topic_for(store)
                forger.publish(topic, payload, qos=1)
                forged.add(topic)
        forger.close()
    settle(harness)
    assert not {t for t, _ in harness.received} & forged, "the broker dropped every forged push"
    agent = connect_as(broker.port, DEVICE, [(Topics(STORE, DEVICE).central_root + "#", 1)])
    central = connect_as(broker.port, "central-bridge")
    try:
        agent.wait_connected()
        central.wait_connected()
        central.publish(customer.topic_for(STORE), payload, qos=1)
        settle(central, agent)
        assert agent.topics() == {customer.topic_for(STORE)}, "central's own push arrives"
    finally:
        central.close()
        agent.close()


def test_no_login_can_write_into_another_stores_topics(broker, harness):
    other = Topics("store-2", DEVICE)
    agent, screen = connect_as(broker.port, DEVICE), connect_as(broker.port, SCREEN)
    try:
        agent.wait_connected()
        screen.wait_connected()
        attempts = {agent: [other.event("tap"), other.session, other.state, other.response("ping"),
                            PUSHES["customer"].topic_for("store-2")],
                    screen: [COMMANDS[name].topic_for("store-2", DEVICE) for name in KIOSK_COMMANDS]}
        for client, topics in attempts.items():
            for topic in topics:
                client.publish(topic, b"{}", qos=1)
        settle(agent, screen, harness)
        assert not {t for t, _ in harness.received if t.startswith("cs/v1/store-2/") or "/store-2/" in t}
    finally:
        agent.close()
        screen.close()


def test_the_agent_login_reads_its_own_stores_pushes_and_no_other_stores(broker, harness):
    agent = connect_as(broker.port, DEVICE, [("cs/v1/central/#", 1)])
    try:
        agent.wait_connected()
        for store in (STORE, "store-2"):
            harness.publish(PUSHES["customer"].topic_for(store), b"harness|customer", qos=1)
        settle(harness, agent)
        assert agent.topics() == {PUSHES["customer"].topic_for(STORE)}
    finally:
        agent.close()


def test_anonymous_clients_and_wrong_passwords_are_refused(broker):
    for user, password in (("", ""), (DEVICE, "wrong")):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=DEVICE, protocol=mqtt.MQTTv311)
        if user:
            client.username_pw_set(user, password)
        result: list[int] = []
        client.on_connect = lambda c, u, f, reason_code, p, seen=result: seen.append(reason_code.value)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        deadline = time.monotonic() + 10
        while not result and time.monotonic() < deadline:
            time.sleep(0.02)
        client.loop_stop()
        client.disconnect()
        assert result and result[0] != 0, f"{user or 'anonymous'} was let in"


def test_an_impostor_with_the_agents_client_id_cannot_consume_a_push_queued_for_the_agent(broker, harness):
    central_root = Topics(STORE, DEVICE).central_root
    agent = connect_as(broker.port, DEVICE, [(central_root + "#", 1)], clean_session=False)
    agent.wait_connected()
    agent.close()  # offline: central's push waits in its persistent session
    push = PUSHES["erasure"].topic_for(STORE)
    central = connect_as(broker.port, "central-bridge")
    central.wait_connected()
    central.publish(push, envelope(PUSHES["erasure"].schema_id, PUSHES["erasure"].example), qos=1)
    central.close()
    for login in (SCREEN, "kiosk-2"):
        impostor = connect_as(broker.port, login, [(central_root + "#", 1)], client_id=DEVICE, clean_session=False)
        impostor.flush()
        assert impostor.session_present is False, f"{login} got the agent's session"
        assert not impostor.topics(), f"{login} consumed the agent's queued push"
        impostor.close()
    agent = connect_as(broker.port, DEVICE, clean_session=False)
    try:
        agent.flush()
        assert agent.session_present is True
        assert agent.topics() == {push}, "the push waited for the agent"
    finally:
        agent.close()


def test_a_login_using_the_agents_client_id_does_not_knock_the_agent_off_the_broker(broker, tmp_path, monkeypatch):
    topics = Topics(STORE, DEVICE)
    config = tmp_path / "agent.toml"
    config.write_text(config_text(broker.port, tmp_path / "agent.db", STORE, DEVICE))
    monkeypatch.setenv("CS_MQTT_USERNAME", DEVICE)
    monkeypatch.setenv("CS_MQTT_PASSWORD", LOGINS[DEVICE])
    central = connect_as(broker.port, "central-bridge", [(topics.response("ping"), 1), (topics.state, 1)])
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    try:
        central.wait_connected()
        deadline = time.monotonic() + 30
        while b'"online"' not in b"".join(p for t, p in central.received if t == topics.state):
            assert time.monotonic() < deadline, f"the agent never came online: {agent.log()}"
            time.sleep(0.05)
        for _ in range(6):
            for login in (SCREEN, "kiosk-2"):
                impostor = connect_as(broker.port, login, client_id=DEVICE)
                impostor.wait_connected()
                impostor.close()
        ping = envelope(COMMANDS["ping"].schema_id, {}, transaction="after-impostors")
        central.publish(COMMANDS["ping"].topic_for(STORE, DEVICE), ping, qos=1)
        while not any(b"after-impostors" in p for t, p in central.received if t == topics.response("ping")):
            assert time.monotonic() < deadline, f"the agent stopped answering: {agent.log()}"
            time.sleep(0.05)
        assert "disconnected from broker" not in agent.log(), "an impostor knocked the agent off"
        assert b'"offline"' not in b"".join(p for t, p in central.received if t == topics.state)
        assert f"as {DEVICE} " in broker.log() and f"as {SCREEN} " in broker.log(), \
            "each client's id is its login"
    finally:
        assert agent.terminate() == 0
        central.close()


def test_the_agent_and_the_kiosk_talk_through_the_shipped_broker_with_their_logins(broker, tmp_path, monkeypatch):
    config = tmp_path / "agent.toml"
    config.write_text(config_text(broker.port, tmp_path / "agent.db", STORE, DEVICE))
    monkeypatch.setenv("CS_MQTT_USERNAME", DEVICE)
    monkeypatch.setenv("CS_MQTT_PASSWORD", LOGINS[DEVICE])

    class Sink:
        def __init__(self):
            self.states, self.responses = [], []

        def on_device_state(self, payload):
            self.states.append(payload.state)

        def on_response(self, command, session, ok, data, error):
            self.responses.append((command, ok, error))

        def __getattr__(self, name):
            return lambda *args: None

    sink = Sink()
    kiosk = Bridge("127.0.0.1", broker.port, STORE, DEVICE, sink, post=lambda function, *args: function(*args),
                   username=SCREEN, password=LOGINS[SCREEN], client_id="cs-kiosk-anything")
    assert kiosk.client._client_id == SCREEN.encode(), "the kiosk's client id is its login"
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    kiosk.start()
    try:
        deadline = time.monotonic() + 30
        while "online" not in sink.states or not kiosk.connected:
            assert time.monotonic() < deadline, f"the kiosk never saw the agent online: {agent.log()}"
            time.sleep(0.05)
        kiosk.request("end-session", "01a20735-b502-769a-a830-637530718552")
        while not sink.responses:
            assert time.monotonic() < deadline, f"the agent never answered the kiosk: {agent.log()}"
            time.sleep(0.05)
        assert sink.responses[0][0] == "end-session"
        assert f"as {DEVICE} " in broker.log() and f"as {SCREEN} " in broker.log()
        assert RESPONSES["end-session"].topic_for(STORE, DEVICE) in contract_rights(SCREEN)[1]
    finally:
        kiosk.stop()
        assert agent.terminate() == 0


def test_the_shipped_bridge_brings_central_pushes_to_the_agent_login_and_its_events_to_central(tmp_path):
    root = Path(__file__).resolve().parents[1]
    central = Mosquitto(workdir=tmp_path / "central").start()
    lines = []
    for line in (root / "config" / "mosquitto" / "bridge.conf").read_text().splitlines():
        if line.startswith(("bridge_cafile", "bridge_certfile", "bridge_keyfile")):
            continue  # loopback has no certificates
        lines.append(f"address 127.0.0.1:{central.port}" if line.startswith("address ") else
                     line.replace("STORE_ID", STORE))
    store = Mosquitto.store(tmp_path / "store", LOGINS, bridge="\n".join(lines) + "\n").start()
    topics = Topics(STORE, DEVICE)
    agent = connect_as(store.port, DEVICE, [(topics.central_root + "#", 1)])
    at_central = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="central-watch", protocol=mqtt.MQTTv311)
    upstream: list[str] = []
    at_central.on_message = lambda c, u, message: upstream.append(message.topic)
    at_central.on_connect = lambda c, *_: c.subscribe("cs/v1/#", 1)
    at_central.connect("127.0.0.1", central.port)
    at_central.loop_start()
    try:
        agent.wait_connected()
        push = PUSHES["customer"].topic_for(STORE)
        footfall = topics.event("footfall")
        deadline = time.monotonic() + 30
        while push not in agent.topics() or footfall not in upstream:
            assert time.monotonic() < deadline, f"the bridge carried nothing: {store.log()}"
            at_central.publish(push, b"{}", qos=1)  # until the bridge is up
            agent.publish(footfall, b"{}", qos=1)
            time.sleep(0.2)
    finally:
        agent.close()
        at_central.disconnect()
        at_central.loop_stop()
        store.close()
        central.close()


def test_the_agent_and_the_kiosk_send_their_login_as_client_id_whatever_is_configured(mosquitto, tmp_path,
                                                                                      monkeypatch):
    # On the test broker, which keeps the client id a client sends (no use_username_as_clientid).
    store = f"store-cid-{time.monotonic_ns()}"
    config = tmp_path / "agent.toml"
    config.write_text(config_text(mosquitto.port, tmp_path / "agent.db", store, DEVICE)
                      .replace("[mqtt]\n", '[mqtt]\nclient_id = "configured-id"\n'))
    monkeypatch.setenv("CS_MQTT_USERNAME", f"{DEVICE}-{store}")
    monkeypatch.setenv("CS_MQTT_PASSWORD", "unused")
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    kiosk = Bridge("127.0.0.1", mosquitto.port, store, DEVICE, sink=None, username=f"{SCREEN}-{store}",
                   client_id="configured-kiosk-id")
    try:
        deadline = time.monotonic() + 30
        while f"as {DEVICE}-{store} " not in mosquitto.log():
            assert time.monotonic() < deadline, f"the agent did not connect as its login: {agent.log()}"
            time.sleep(0.05)
        assert "as configured-id " not in mosquitto.log()
        assert "mqtt.client_id 'configured-id' is not used" in agent.log()
        assert kiosk.client._client_id == f"{SCREEN}-{store}".encode()
    finally:
        assert agent.terminate() == 0
