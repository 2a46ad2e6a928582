"""The store's bridge to central over TLS with client certificates: two real Mosquittos, provisioned.

``edge-agent broker central`` provisions central's broker (:func:`edge_agent.provisioning.provision_central`)
and ``edge-agent broker provision --central-ca`` a store whose bridge certificate central's CA signs; both
run what was written, unchanged (:meth:`tests.support.mosquitto.Mosquitto.provisioned`). Central requires a
client certificate from its CA, takes its name as the login (``bridge-<store>``) and checks its CRL; the
store's bridge checks central's certificate against central's CA and its address.

Promises: only the contract's bridged (pseudonymous) messages go out, central's pushes and commands come in;
a bridge with a certificate from another CA, an expired one, or a revoked one never gets in (central logs the
refusal, nothing crosses), and neither does a store bridging with a central CA it should not trust; a store's
bridge cannot write into another store's topics at central.
"""

from __future__ import annotations

import datetime
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract import ALL_MESSAGES, EVENTS, PUSHES, STATE, encode
from edge_agent.provisioning import (
    CertificateAuthority,
    StorePlan,
    parse_devices,
    provision_central,
    provision_store,
    revoke,
)
from edge_agent.provisioning.central_broker import ProvisionedCentral
from edge_agent.provisioning.certificates import load_key, write_public
from edge_agent.provisioning.mosquitto_config import (
    ACL_FILE,
    BRIDGE_CERT,
    BRIDGE_CONF,
    BRIDGE_KEY,
    CENTRAL_CA,
    CENTRAL_CRL,
    PASSWORD_FILE,
)
from edge_agent.provisioning.passwords import hash_password
from edge_agent.provisioning.store_broker import ProvisionedStore
from tests.support.mosquitto import LoginClient, Mosquitto, free_port, settle
from tests.support.mqtt import BUSY_MACHINE_WAIT_S
from tests.support.system import ensure_installed

STORE, DEVICE = "store-7", "kiosk-1"
OTHER = "store-8"


@dataclass
class Central:
    provisioned: ProvisionedCentral
    broker: Mosquitto
    tls_port: int

    def systems(self, subscriptions=(("cs/v1/#", 1),)) -> LoginClient:
        """Central's own systems, on central's loopback listener."""
        client = LoginClient(self.broker.port, "central-systems", self.provisioned.password, list(subscriptions),
                             client_id="central-systems")
        client.wait_connected()
        return client


def start_central(folder: Path, stores=(STORE, OTHER)) -> Central:
    port, tls_port = free_port(), free_port()
    (folder / "data").mkdir(parents=True, exist_ok=True)
    provisioned = provision_central(folder / "central", address="127.0.0.1", stores=list(stores), port=port,
                                    tls_port=tls_port, etc=str(folder / "central" / "mosquitto"),
                                    persistence=f"{folder / 'data'}/")
    return Central(provisioned, Mosquitto.provisioned(provisioned.etc, port=port, tls_port=tls_port,
                                                      workdir=folder / "broker"), tls_port)


def provision(folder: Path, central: Central, store: str = STORE, central_ca: CertificateAuthority | None = None
              ) -> tuple[ProvisionedStore, int]:
    port = free_port()
    (folder / "data").mkdir(parents=True, exist_ok=True)
    plan = StorePlan(store, parse_devices(f"{DEVICE},shelf-1"), lan_address="127.0.0.2", port=port,
                     tls_port=free_port(), central_address=f"127.0.0.1:{central.tls_port}",
                     etc=str(folder / "store" / "mosquitto"), persistence=f"{folder / 'data'}/")
    return provision_store(plan, folder / "store", central_ca=central_ca or central.provisioned.ca), port


def start_store(folder: Path, store: ProvisionedStore, port: int) -> Mosquitto:
    return Mosquitto.provisioned(store.etc, port=port, workdir=folder / "broker").start()


def agent_of(store: ProvisionedStore, port: int) -> LoginClient:
    client = LoginClient(port, DEVICE, store.passwords[DEVICE], [(PUSHES["erasure"].topic_for(store.plan.store), 1)])
    client.wait_connected()
    return client


def wait_bridged(agent: LoginClient, systems: LoginClient, store: str, what: str = "the bridge never came up",
                 logs=()) -> None:
    """Publish a footfall until central has it (the bridge connects on its own schedule)."""
    footfall = EVENTS["footfall"].topic_for(store, DEVICE)
    deadline = time.monotonic() + BUSY_MACHINE_WAIT_S
    while footfall not in systems.topics():
        assert time.monotonic() < deadline, what + "\n" + "\n".join(log() for log in logs)
        agent.publish(footfall, b'{"probe":true}', qos=1)
        time.sleep(0.2)


def openssl_verdict(central: Central, store: ProvisionedStore) -> str:
    """What OpenSSL (the library Mosquitto checks certificates with) says of the store's bridge certificate
    against central's CA and CRL: ``OK`` or its reason. Mosquitto itself logs only "certificate verify
    failed" and closes the connection without a TLS alert, so the reason is asked of ``openssl verify``."""
    openssl = ensure_installed("openssl", binary="openssl")
    result = subprocess.run([openssl, "verify", "-CAfile", str(central.provisioned.path(CENTRAL_CA)),
                             "-crl_check", "-CRLfile", str(central.provisioned.path(CENTRAL_CRL)),
                             "-purpose", "sslclient", str(store.path(BRIDGE_CERT))], capture_output=True, text=True)
    return (result.stdout + result.stderr).strip()


def refused(agent: LoginClient, systems: LoginClient, central: Central, store: ProvisionedStore, alert: str
            ) -> None:
    """The bridge never gets in: central refuses its certificate (OpenSSL's reason: ``alert``) and nothing the
    store sends arrives."""
    footfall = EVENTS["footfall"].topic_for(store.plan.store, DEVICE)
    deadline = time.monotonic() + BUSY_MACHINE_WAIT_S
    while "certificate verify failed" not in central.broker.log():
        assert time.monotonic() < deadline, f"central never refused the bridge: {central.broker.log()}"
        agent.publish(footfall, b'{"probe":true}', qos=1)
        time.sleep(0.2)
    assert alert in openssl_verdict(central, store), "refused for that reason"
    settle(systems)
    assert footfall not in systems.topics(), "nothing crossed a refused bridge"


@pytest.fixture
def central(tmp_path):
    central = start_central(tmp_path / "c")
    central.broker.start()
    yield central
    central.broker.close()


def example_payload(message) -> bytes:
    if message.model.__name__ == "ResponseEnvelope":
        return b'{"status":"ok"}'
    _, payload = encode(message, message.example, transaction="t-1" if message.response else None)
    return payload


def test_the_tls_bridge_carries_every_bridged_message_and_nothing_local(tmp_path, central):
    store, port = provision(tmp_path / "s", central)
    broker = start_store(tmp_path / "s", store, port)
    systems = central.systems()
    # Everything the agent publishes (its login may), everything central sends (its systems' login may send
    # the bridged ones; the local ones it may not even publish at central).
    agent = LoginClient(port, DEVICE, store.passwords[DEVICE], [("cs/v1/#", 1)])
    agent.wait_connected()
    try:
        wait_bridged(agent, systems, STORE, logs=(broker.log, central.broker.log))
        sent_up, sent_down = [], []
        for message in ALL_MESSAGES:
            topic = message.topic_for(STORE, DEVICE)
            if message.direction == "publish":
                agent.publish(topic, example_payload(message), qos=1)
                sent_up.append(message)
            else:
                systems.publish(topic, example_payload(message), qos=1)
                sent_down.append(message)
        settle(agent, systems)
        deadline = time.monotonic() + BUSY_MACHINE_WAIT_S
        bridged_up = {m.topic_for(STORE, DEVICE) for m in sent_up if m.bridged}
        bridged_down = {m.topic_for(STORE, DEVICE) for m in sent_down if m.bridged}
        # The agent's login reads only what its role receives: the commands and its pushes come in.
        agent_reads = {m.topic_for(STORE, DEVICE) for m in sent_down if m.bridged}
        while not (bridged_up <= systems.topics() and agent_reads <= agent.topics()):
            assert time.monotonic() < deadline, (f"missing at central: {sorted(bridged_up - systems.topics())}; "
                                                 f"at the store: {sorted(agent_reads - agent.topics())}")
            time.sleep(0.1)
            settle(agent, systems)
        local_up = {m.topic_for(STORE, DEVICE) for m in sent_up if not m.bridged}
        assert not local_up & systems.topics(), "a local (personal) topic crossed to central"
        assert {t for t in systems.topics() if t.startswith(f"cs/v1/{STORE}/")} <= bridged_up | {
            STATE.topic_for(STORE, "bridge")}, "central got nothing but the bridged messages and the bridge's state"
        assert bridged_down <= agent.topics()
        assert "bridge-" + STORE in central.broker.log(), "the bridge logged in with its certificate's name"
    finally:
        for client in (agent, systems):
            client.close()
        broker.close()


def test_a_stores_bridge_cannot_reach_another_stores_topics_at_central(tmp_path, central):
    # A store whose bridge would carry store-8's topics: its certificate's name (bridge-store-7) decides.
    store, port = provision(tmp_path / "s", central)
    forged = store.path(BRIDGE_CONF)
    other_event, other_push = EVENTS["footfall"].topic_for(OTHER, DEVICE), PUSHES["erasure"].topic_for(OTHER)
    forged.write_text(forged.read_text() + f"topic {other_event} out 1\ntopic {other_push} in 1\n")
    # The store's ACL stops every device there; the test's own login publishes and watches.
    with open(store.path(PASSWORD_FILE), "a") as passwd:
        passwd.write(f"test-harness:{hash_password('harness')}\n")
    with open(store.path(ACL_FILE), "a") as acl:
        acl.write("\nuser test-harness\ntopic readwrite #\n")
    broker = start_store(tmp_path / "s", store, port)
    systems = central.systems()
    agent = agent_of(store, port)
    harness = LoginClient(port, "test-harness", "harness", [("cs/v1/#", 1)])
    harness.wait_connected()
    try:
        wait_bridged(agent, systems, STORE, logs=(broker.log, central.broker.log))
        harness.publish(other_event, b'{"forged":true}', qos=1)
        systems.publish(other_push, b'{"for":"store-8"}', qos=1)
        systems.publish(PUSHES["erasure"].topic_for(STORE), b'{"for":"store-7"}', qos=1)
        deadline = time.monotonic() + BUSY_MACHINE_WAIT_S
        while PUSHES["erasure"].topic_for(STORE) not in harness.topics():  # a later push had its turn
            assert time.monotonic() < deadline, "the store's own push never came"
            time.sleep(0.1)
        wait_bridged(agent, systems, STORE)  # a later event of its own store arrived after the forged one
        settle(systems, harness)
        assert other_event not in systems.topics(), "central took store-8's topic from store-7's bridge"
        assert other_push not in harness.topics(), "store-7's bridge read store-8's push at central"
    finally:
        for client in (agent, harness, systems):
            client.close()
        broker.close()


def test_a_bridge_certificate_from_another_ca_is_refused(tmp_path, central):
    impostor_ca = CertificateAuthority.create("not central's CA")
    store, port = provision(tmp_path / "s", central, central_ca=impostor_ca)
    # The store still trusts the real central (to isolate the client side of the handshake).
    write_public(store.path(CENTRAL_CA), central.provisioned.ca.issued.cert_pem)
    broker = start_store(tmp_path / "s", store, port)
    systems, agent = central.systems(), agent_of(store, port)
    try:
        refused(agent, systems, central, store, "unable to get local issuer certificate")
    finally:
        agent.close()
        systems.close()
        broker.close()


def test_a_store_that_does_not_trust_centrals_certificate_does_not_bridge(tmp_path, central):
    store, port = provision(tmp_path / "s", central)
    write_public(store.path(CENTRAL_CA), CertificateAuthority.create("some other CA").issued.cert_pem)
    broker = start_store(tmp_path / "s", store, port)
    systems, agent = central.systems(), agent_of(store, port)
    try:
        deadline = time.monotonic() + BUSY_MACHINE_WAIT_S
        while "certificate verify failed" not in broker.log():
            assert time.monotonic() < deadline, f"the store's bridge did not refuse central: {broker.log()}"
            agent.publish(EVENTS["footfall"].topic_for(STORE, DEVICE), b"{}", qos=1)
            time.sleep(0.2)
        settle(systems)
        assert EVENTS["footfall"].topic_for(STORE, DEVICE) not in systems.topics()
    finally:
        agent.close()
        systems.close()
        broker.close()


def test_an_expired_bridge_certificate_is_refused(tmp_path, central):
    store, port = provision(tmp_path / "s", central)
    now = datetime.datetime.now(datetime.UTC)
    expired = central.provisioned.ca.issue_client(f"bridge-{STORE}", key=load_key(store.path(BRIDGE_KEY)),
                                                  not_before=now - datetime.timedelta(days=30),
                                                  not_after=now - datetime.timedelta(days=1))
    write_public(store.path(BRIDGE_CERT), expired.cert_pem)
    broker = start_store(tmp_path / "s", store, port)
    systems, agent = central.systems(), agent_of(store, port)
    try:
        refused(agent, systems, central, store, "certificate has expired")
    finally:
        agent.close()
        systems.close()
        broker.close()


def test_a_revoked_bridge_certificate_is_refused_and_another_stores_still_bridges(tmp_path):
    central = start_central(tmp_path / "c")
    revoked_store, revoked_port = provision(tmp_path / "s7", central, STORE)
    good_store, good_port = provision(tmp_path / "s8", central, OTHER)
    serials = revoke(central.provisioned.out, revoked_store.path(BRIDGE_CERT))
    assert len(serials) == 1
    central.broker.start()  # Mosquitto reads the CRL when it starts
    revoked_broker = start_store(tmp_path / "s7", revoked_store, revoked_port)
    good_broker = start_store(tmp_path / "s8", good_store, good_port)
    systems = central.systems()
    revoked_agent, good_agent = agent_of(revoked_store, revoked_port), agent_of(good_store, good_port)
    try:
        wait_bridged(good_agent, systems, OTHER, "a store whose certificate is not revoked bridges",
                     logs=(good_broker.log, central.broker.log))
        refused(revoked_agent, systems, central, revoked_store, "certificate revoked")
        assert openssl_verdict(central, good_store).endswith(": OK"), "a certificate not revoked passes"
    finally:
        for client in (revoked_agent, good_agent, systems):
            client.close()
        revoked_broker.close()
        good_broker.close()
        central.broker.close()


def test_a_store_connecting_with_another_stores_bridge_client_id_does_not_take_over_its_bridge(tmp_path, central):
    store7, port7 = provision(tmp_path / "s7", central, STORE)
    store8, _ = provision(tmp_path / "s8", central, OTHER)
    broker = start_store(tmp_path / "s7", store7, port7)
    systems, agent = central.systems(), agent_of(store7, port7)
    try:
        wait_bridged(agent, systems, STORE, logs=(broker.log, central.broker.log))
        # Store 8's certificate, asking for store 7's bridge's client id (and its persistent session).
        impostor = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bridge-{STORE}", clean_session=False,
                               protocol=mqtt.MQTTv311)
        impostor.tls_set(ca_certs=str(store8.path(CENTRAL_CA)), certfile=str(store8.path(BRIDGE_CERT)),
                         keyfile=str(store8.path(BRIDGE_KEY)))
        connected = []
        impostor.on_connect = lambda c, u, f, reason_code, p: connected.append(reason_code.value)
        impostor.connect("127.0.0.1", central.tls_port)
        impostor.loop_start()
        deadline = time.monotonic() + BUSY_MACHINE_WAIT_S
        while not connected:
            assert time.monotonic() < deadline, "the impostor got no answer"
            time.sleep(0.05)
        impostor.disconnect()
        impostor.loop_stop()
        assert f"as bridge-{OTHER} " in central.broker.log(), "its client id is its certificate's name"
        systems.received.clear()
        wait_bridged(agent, systems, STORE, "store 7's bridge still carries its events")
        assert f"Client bridge-{STORE} already connected, closing old connection" not in central.broker.log()
    finally:
        agent.close()
        systems.close()
        broker.close()
