"""The provisioned store broker against every login: each topic family of the contract x every role.

``edge-agent broker provision`` (:func:`edge_agent.provisioning.provision_store`) provisions store
``store-0042`` with kiosks ``kiosk-1`` and ``kiosk-2`` and shelf ``shelf-1`` into a temporary folder, and a
real Mosquitto runs what it wrote, unchanged (:meth:`tests.support.mosquitto.Mosquitto.provisioned`: Debian's
layout, its loopback listener and its LAN listener, here on 127.0.0.2). The roles:

* ``kiosk-1`` the agent, ``kiosk-1-screen`` the kiosk app, ``shelf-1`` a shelf's agent, ``console`` the store
  console, ``central-bridge`` central connecting in;
* ``unlisted``: a login in the password file that the ACL does not name (given nothing);
* a stranger (no such login), a wrong password and no login at all: refused at CONNECT.

What each role may do is derived here from the contract's roles (:func:`edge_agent.contract.roles.rights`), not
from the ACL or its generator, and tried on every topic of every message for this store's devices, a screen's
and the console's names as devices, another store and the ``central`` level. The test adds one login of its
own, ``test-harness`` (reads and writes everything), to publish and to watch.

What Mosquitto 2.0.11 does, as these tests see it: a refused publish is dropped (MQTT 5 gets PUBACK 0x87, the
matrix checks it; MQTT 3.1.1 a plain PUBACK) and the harness receives nothing. A refused subscription: the
``acl_file`` checks read rights when a message is delivered, not at SUBSCRIBE, so the SUBACK grants it (no 0x80)
and nothing it may not read is delivered; the matrix accepts a 0x80 as well, should a later Mosquitto refuse
there, and requires that nothing arrives. A test waits for "nothing more can come" with a SUBSCRIBE round trip:
the broker handles a client's packets in order and answers on one socket, so its SUBACK comes after everything
it delivered before.
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
    PUSHES,
    RESPONSES,
    Topics,
    encode,
)
from edge_agent.contract.roles import Family, Role, rights
from edge_agent.provisioning import StorePlan, parse_devices, provision_store
from edge_agent.provisioning.mosquitto_config import ACL_FILE, PASSWORD_FILE
from edge_agent.provisioning.passwords import hash_password
from kiosk.bridge import KIOSK_COMMANDS, Bridge
from tests.support.agent import AgentProcess, config_text
from tests.support.mosquitto import LoginClient, Mosquitto, free_port, settle
from tests.support.mqtt import envelope

STORE, DEVICE = "store-0042", "kiosk-1"  # the example store and kiosk (as agent.example.toml)
DEVICES = "kiosk-1,kiosk-2,shelf-1"
SCREEN = f"{DEVICE}-screen"
SHELF = "shelf-1"
HARNESS, UNLISTED = "test-harness", "unlisted"
LAN = "127.0.0.2"  # the LAN listener's address: on Linux all of 127/8 is loopback
ROLES = [DEVICE, SCREEN, SHELF, "console", "central-bridge", UNLISTED]
KINDS = {"kiosk-1": "kiosk", "kiosk-2": "kiosk", "shelf-1": "shelf"}
ON_DEVICE = {"kiosk": {Role.AGENT, Role.SCREEN}, "shelf": {Role.SHELF}}


class Provisioned:
    """The provisioned store and its running broker; ``logins`` maps every login to its password."""

    def __init__(self, folder: Path):
        port, tls_port = free_port(), free_port()
        (folder / "data").mkdir(parents=True)
        self.plan = StorePlan(STORE, parse_devices(DEVICES), lan_address=LAN, port=port, tls_port=tls_port,
                              etc=str(folder / "store" / "mosquitto"), persistence=f"{folder / 'data'}/")
        self.store = provision_store(self.plan, folder / "store")
        self.logins = dict(self.store.passwords)
        self.logins.update({HARNESS: "harness-secret", UNLISTED: "unlisted-secret"})
        # The test's own logins, added to what was generated.
        with open(self.store.path(PASSWORD_FILE), "a") as passwd:
            passwd.write(f"{HARNESS}:{hash_password(self.logins[HARNESS])}\n"
                         f"{UNLISTED}:{hash_password(self.logins[UNLISTED])}\n")
        with open(self.store.path(ACL_FILE), "a") as acl:
            acl.write(f"\n# Added by the test: its own observer.\nuser {HARNESS}\ntopic readwrite #\n")
        self.broker = Mosquitto.provisioned(self.store.etc, port=port, tls_port=tls_port,
                                            workdir=folder / "broker").start()

    @property
    def port(self) -> int:
        return self.broker.port

    def log(self) -> str:
        return self.broker.log()


def contract_rights(login: str) -> tuple[set[str], set[str]]:
    """(topics ``login`` may write, topics it may read) in the example store, from the contract's roles alone."""
    role = {DEVICE: Role.AGENT, "kiosk-2": Role.AGENT, SCREEN: Role.SCREEN, SHELF: Role.SHELF,
            "console": Role.CONSOLE, "central-bridge": Role.CENTRAL}.get(login)
    own = {DEVICE: DEVICE, "kiosk-2": "kiosk-2", SCREEN: DEVICE, SHELF: SHELF}.get(login)
    write: set[str] = set()
    read: set[str] = set()
    if role is None:
        return write, read
    for message in ALL_MESSAGES:
        right = rights(message)
        if "{device}" not in message.topic:
            topics = [message.topic_for(STORE)]
        elif role is Role.CONSOLE and Role.CONSOLE in right.publishers and right.family is Family.EVENT:
            topics = [message.topic_for(STORE, "console")]  # the console's own events (its audit): its own level
        elif own is not None:  # a device's login: its own device only
            topics = [message.topic_for(STORE, own)]
        else:  # the console and central: every device on which some role of its kind uses the message
            involved = right.publishers | right.subscribers
            topics = [message.topic_for(STORE, device) for device, kind in KINDS.items() if ON_DEVICE[kind] & involved]
            if Role.CONSOLE in right.publishers and right.family is Family.EVENT:
                topics.append(message.topic_for(STORE, "console"))  # the console's own events, for their readers
        if role in right.publishers:
            write.update(topics)
        if role in right.subscribers:
            read.update(topics)
    return write, read


def universe() -> set[str]:
    """Every topic of every message: this store's devices, names that are not devices, another store, central."""
    places = [(STORE, device) for device in (*KINDS, SCREEN, "console", "central-bridge", "bridge")]
    places += [("store-2", DEVICE), ("central", DEVICE), ("central", STORE)]
    topics = {message.topic_for(store, device) for message in ALL_MESSAGES for store, device in places}
    topics |= {push.topic_for(store) for push in PUSHES.values()
               for store in (STORE, "store-2", DEVICE, SCREEN, "kiosk-2", "console")}
    return topics


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    provisioned = Provisioned(tmp_path_factory.mktemp("store-broker"))
    yield provisioned
    provisioned.broker.close()


@pytest.fixture(scope="module")
def logins(broker) -> dict[str, str]:
    return broker.logins


def connect_as(broker: Provisioned, user: str, subscriptions: Sequence[tuple[str, int]] = (), *,
               password: str | None = None, lan: bool = False, **options) -> LoginClient:
    """A client logged in as ``user`` with its provisioned password (or ``password``); with ``lan``, on the
    LAN listener over TLS, checking the broker against the store CA as devices do."""
    if lan:
        options["host"] = LAN
        options.setdefault("ca_file", broker.store.store_ca)
    return LoginClient(broker.broker.tls_port if lan else broker.port, user,
                       broker.logins.get(user, "") if password is None else password, subscriptions, **options)


@pytest.fixture
def harness(broker):
    client = connect_as(broker, HARNESS, [("#", 0)])
    client.wait_connected()
    yield client
    client.close()


def test_every_role_of_the_contract_has_a_login_in_the_matrix():
    assert {Role.AGENT, Role.SCREEN, Role.SHELF, Role.CONSOLE, Role.CENTRAL} == set(Role)
    for login in ROLES[:-1]:
        write, read = contract_rights(login)
        assert write or read, f"{login} is given nothing by the contract: the matrix would prove nothing"


@pytest.mark.parametrize("role", ROLES)
def test_every_login_writes_and_reads_exactly_what_the_contract_gives_its_role(broker, harness, role):
    may_write, may_read = contract_rights(role)
    everything = sorted(universe())
    assert may_write | may_read <= set(everything)
    # MQTT 5, so a refused publish says so (PUBACK 0x87); asks for everything, as an attacker would.
    client = connect_as(broker, role, [("#", 0)], protocol=mqtt.MQTTv5)
    try:
        client.wait_connected()
        mark = f"{role}|".encode()
        codes = client.publish_all([(topic, mark + topic.encode()) for topic in everything])
        refused = {topic for topic, code in zip(everything, codes, strict=True) if code == 0x87}
        settle(client, harness)
        written = harness.topics(mark)
        assert written == may_write, (f"{role} wrote where it may not: {sorted(written - may_write)}; "
                                      f"was refused where it may: {sorted(may_write - written)}")
        assert refused == set(everything) - may_write, "PUBACK 0x87 exactly where the broker dropped the message"
        granted = {topic for topic, code in zip(everything, client.subscribe([(topic, 0) for topic in everything]),
                                                strict=True) if code < 0x80}
        assert may_read <= granted, f"{role} was refused a subscription it may have: {sorted(may_read - granted)}"
        for topic in everything:
            harness.publish(topic, b"harness|" + topic.encode())
        settle(harness, client)
        read = client.topics(b"harness|")
        assert read == may_read, (f"{role} read what it may not: {sorted(read - may_read)}; "
                                  f"missed what it may: {sorted(may_read - read)}")
    finally:
        client.close()


@pytest.mark.parametrize(("user", "password"), [("stranger", "whatever"), (DEVICE, "wrong"), ("", "")],
                         ids=["unknown-login", "wrong-password", "anonymous"])
def test_a_stranger_a_wrong_password_and_no_login_are_refused_on_both_listeners(broker, user, password):
    for host, port, tls in (("127.0.0.1", broker.port, False), (LAN, broker.broker.tls_port, True)):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=DEVICE, protocol=mqtt.MQTTv311)
        if tls:
            client.tls_set(ca_certs=str(broker.store.store_ca))
        if user:
            client.username_pw_set(user, password)
        result: list[int] = []
        client.on_connect = lambda c, u, f, reason_code, p, seen=result: seen.append(reason_code.value)
        client.connect(host, port)
        client.loop_start()
        deadline = time.monotonic() + 30
        while not result and time.monotonic() < deadline:
            time.sleep(0.02)
        client.loop_stop()
        client.disconnect()
        assert result and result[0] != 0, f"{user or 'anonymous'} was let in on {host}:{port}"


def test_the_lan_listener_takes_tls_with_the_store_ca_on_the_lan_address_only(broker):
    agent = connect_as(broker, DEVICE, lan=True, ca_file=broker.store.credentials(DEVICE) / "broker-ca.pem")
    try:
        agent.wait_connected()
    finally:
        agent.close()
    import socket

    with pytest.raises(OSError):  # not on every interface: nothing on loopback's own address at that port
        socket.create_connection(("127.0.0.1", broker.broker.tls_port), timeout=5).close()
    with pytest.raises(OSError):  # nor the loopback port on the LAN address
        socket.create_connection((LAN, broker.port), timeout=5).close()


def test_the_kiosk_app_receives_every_topic_it_subscribes_to_and_may_send_every_request_it_sends(broker):
    may_write, may_read = contract_rights(SCREEN)
    assert {COMMANDS[name].topic_for(STORE, DEVICE) for name in KIOSK_COMMANDS} == may_write
    assert DEMO_CONTROL.topic_for(STORE, DEVICE) not in may_write
    assert {topic for topic, _ in Bridge("127.0.0.1", broker.port, STORE, DEVICE, sink=None).subscriptions()} \
        <= may_read


def test_a_kiosk_screen_login_cannot_publish_an_erasure_ack_as_a_device(broker, harness):
    central = connect_as(broker, "central-bridge", [("#", 0)])
    screen = connect_as(broker, SCREEN)
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
    for login in (DEVICE, SCREEN, SHELF, "console", UNLISTED):
        forger = connect_as(broker, login)
        forger.wait_connected()
        for store in (login, STORE):  # "cs/v1/central/<its name>/" was its own under the old pattern
            for kind in ("customer", "erasure"):
                topic = PUSHES[kind].topic_for(store)
                forger.publish(topic, payload, qos=1)
                forged.add(topic)
        forger.close()
    settle(harness)
    assert not {t for t, _ in harness.received} & forged, "the broker dropped every forged push"
    agent = connect_as(broker, DEVICE, [(Topics(STORE, DEVICE).central_root + "#", 1)])
    central = connect_as(broker, "central-bridge")
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
    agent, screen = connect_as(broker, DEVICE), connect_as(broker, SCREEN)
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
    agent = connect_as(broker, DEVICE, [("cs/v1/central/#", 1)])
    try:
        agent.wait_connected()
        for store in (STORE, "store-2"):
            harness.publish(PUSHES["customer"].topic_for(store), b"harness|customer", qos=1)
        settle(harness, agent)
        assert agent.topics() == {PUSHES["customer"].topic_for(STORE)}
    finally:
        agent.close()


def test_an_impostor_with_the_agents_client_id_cannot_consume_a_push_queued_for_the_agent(broker, harness):
    central_root = Topics(STORE, DEVICE).central_root
    agent = connect_as(broker, DEVICE, [(central_root + "#", 1)], clean_session=False)
    agent.wait_connected()
    agent.close()  # offline: central's push waits in its persistent session
    push = PUSHES["erasure"].topic_for(STORE)
    central = connect_as(broker, "central-bridge")
    central.wait_connected()
    central.publish(push, envelope(PUSHES["erasure"].schema_id, PUSHES["erasure"].example), qos=1)
    central.close()
    for login in (SCREEN, "kiosk-2", SHELF, "console"):
        impostor = connect_as(broker, login, [(central_root + "#", 1)], client_id=DEVICE, clean_session=False)
        impostor.flush()
        assert impostor.session_present is False, f"{login} got the agent's session"
        assert not impostor.topics(), f"{login} consumed the agent's queued push"
        impostor.close()
    agent = connect_as(broker, DEVICE, clean_session=False)
    try:
        agent.flush()
        assert agent.session_present is True
        assert agent.topics() == {push}, "the push waited for the agent"
    finally:
        agent.close()


def test_a_login_taking_the_agents_client_id_on_the_lan_listener_leaves_the_agent_connected(broker):
    # use_username_as_clientid is a setting of each listener: the LAN's must bind ids to logins as well.
    agent = connect_as(broker, DEVICE)
    try:
        agent.wait_connected()
        for login in (SCREEN, "kiosk-2", SHELF, "console", "central-bridge"):
            impostor = connect_as(broker, login, client_id=DEVICE, lan=True)
            impostor.wait_connected()
            impostor.close()
        agent.flush()
        assert not agent.disconnected.is_set(), "an impostor on the LAN listener knocked the agent off"
    finally:
        agent.close()


def test_a_login_using_the_agents_client_id_does_not_knock_the_agent_off_the_broker(broker, tmp_path, monkeypatch):
    topics = Topics(STORE, DEVICE)
    config = tmp_path / "agent.toml"
    config.write_text(config_text(broker.port, tmp_path / "agent.db", STORE, DEVICE))
    monkeypatch.setenv("CS_MQTT_USERNAME", DEVICE)
    monkeypatch.setenv("CS_MQTT_PASSWORD", broker.logins[DEVICE])
    central = connect_as(broker, "central-bridge", [(topics.response("ping"), 1), (topics.state, 1)])
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    try:
        central.wait_connected()
        deadline = time.monotonic() + 30
        while b'"online"' not in b"".join(p for t, p in central.received if t == topics.state):
            assert time.monotonic() < deadline, f"the agent never came online: {agent.log()}"
            time.sleep(0.05)
        for _ in range(6):
            for login in (SCREEN, "kiosk-2", SHELF, "console"):
                impostor = connect_as(broker, login, client_id=DEVICE)
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
    monkeypatch.setenv("CS_MQTT_PASSWORD", broker.logins[DEVICE])

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
                   username=SCREEN, password=broker.logins[SCREEN], client_id="cs-kiosk-anything")
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
