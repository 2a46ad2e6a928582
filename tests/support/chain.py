"""A simulated chain on one host: N provisioned store brokers, each with an agent process and its store's
data, bridged over TLS to one central Mosquitto (for tests/test_chain.py and bench/chain.py).

Everything is what ``edge-agent broker central`` and ``edge-agent broker provision`` generate
(:mod:`edge_agent.provisioning`): central's broker with its CA, requiring the stores' client certificates;
each store broker with its logins, ACL from the contract and bridge to central, run unchanged
(:meth:`tests.support.mosquitto.Mosquitto.provisioned`). Each store has one kiosk device: its agent runs as
``edge-agent run`` in a child process with the credentials the provisioning wrote for it
(``CREDENTIALS_DIRECTORY``), and the kiosk's screen login sends its requests. Central's systems are paho
clients with the ``central-systems`` login on central's loopback listener: they push to the stores and read
the events the bridges carry up.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract import COMMANDS, PUSHES, encode
from edge_agent.contract.types import gtin_check_digit
from edge_agent.provisioning import StorePlan, parse_devices, provision_central, provision_store
from edge_agent.provisioning.acl import CENTRAL_SYSTEMS_LOGIN
from tests.support.agent import ROOT, config_text
from tests.support.mosquitto import Mosquitto, free_port

DEVICE = "kiosk-1"
SCREEN = DEVICE + "-screen"
ADDRESS = "127.0.0.1"


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


class Client:
    """A paho client with a login, connected and (optionally) subscribed before it is returned."""

    def __init__(self, port: int, user: str, password: str, client_id: str, subscriptions: Sequence[str] = (),
                 clean: bool = True, on_message: Callable[[mqtt.MQTTMessage], None] | None = None):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        self.client.username_pw_set(user, password)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self._subscriptions = list(subscriptions)
        self._subscribed = threading.Event()
        self.connected = threading.Event()
        self._on_message = on_message
        self.client.on_connect = self._connected
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = lambda _c, _u, message: self._on_message and self._on_message(message)
        self.client.reconnect_delay_set(0.1, 1.0)
        self.client.connect(ADDRESS, port, keepalive=10)
        self.client.loop_start()
        if not self.connected.wait(15):
            raise RuntimeError(f"{user} could not connect to 127.0.0.1:{port}")
        if self._subscriptions and not self._subscribed.wait(15):
            raise RuntimeError(f"{user}'s subscriptions were not confirmed")

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            return
        self.connected.set()
        if self._subscriptions:
            client.subscribe([(topic, 1) for topic in self._subscriptions])

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class Store:
    """One store of the chain: its broker, its agent process and the kiosk screen's client."""

    id: str
    folder: Path
    broker: Mosquitto
    db: Path
    config: Path
    credentials: Path
    screen_password: str
    agent: subprocess.Popen | None = None
    screen: Client | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / "agent.log"

    def start_agent(self) -> None:
        env = dict(os.environ, CREDENTIALS_DIRECTORY=str(self.credentials))
        with open(self.log, "ab") as log:
            self.agent = subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "-c", str(self.config)],
                                          stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)

    def rss_kb(self) -> int:
        """The agent process's resident memory."""
        assert self.agent is not None
        with open(f"/proc/{self.agent.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def offer_version(self, offer: str) -> int | None:
        """The version of ``offer`` the agent has applied (read from its database), or None."""
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return None
        try:
            row = conn.execute("SELECT version FROM offers WHERE offer = ?", (offer,)).fetchone()
        except sqlite3.Error:
            return None
        finally:
            conn.close()
        return row[0] if row else None

    def count(self, table: str) -> int:
        """Rows of ``table`` in the agent's database (0 while it cannot be read)."""
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return 0
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        except sqlite3.Error:
            return 0
        finally:
            conn.close()

    def outbox_depth(self) -> int:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        finally:
            conn.close()


class Chain:
    """N stores bridged over TLS to one central broker, all on this host (see the module docstring).

    :param workdir: a folder of its own (provisioned files, persistence, logs, databases).
    :param stores: how many stores.
    """

    def __init__(self, workdir: Path, stores: int):
        self.workdir = workdir
        self.store_ids = [f"store-{n:04d}" for n in range(1, stores + 1)]
        self.central_port, self.central_tls_port = free_port(), free_port()
        folder = workdir / "central"
        self.central_files = provision_central(
            folder, address=ADDRESS, stores=self.store_ids, port=self.central_port, tls_port=self.central_tls_port,
            etc=str(folder / "mosquitto"), persistence=f"{folder / 'data'}/")
        (folder / "data").mkdir(exist_ok=True)
        self.central = Mosquitto.provisioned(self.central_files.etc, port=self.central_port,
                                             tls_port=self.central_tls_port, workdir=folder / "run")
        self.stores: list[Store] = []
        for store_id in self.store_ids:
            self.stores.append(self._provision(store_id))
        self.events: dict[str, set[str]] = {store: set() for store in self.store_ids}
        self.event_times: list[float] = []
        self._events_lock = threading.Lock()
        self.online: set[str] = set()
        self.systems: Client | None = None

    def _provision(self, store_id: str) -> Store:
        folder = self.workdir / store_id
        port, tls_port = free_port(), free_port()
        plan = StorePlan(store_id, parse_devices(DEVICE), lan_address=ADDRESS,
                         central_address=f"{ADDRESS}:{self.central_tls_port}", port=port, tls_port=tls_port,
                         etc=str(folder / "mosquitto"), persistence=f"{folder / 'data'}/")
        (folder / "data").mkdir(parents=True, exist_ok=True)
        provisioned = provision_store(plan, folder, central_ca=self.central_files.ca)
        if not provisioned.bridge_ready:
            raise RuntimeError(f"{store_id}: the bridge's certificate was not signed")
        broker = Mosquitto.provisioned(provisioned.etc, port=port, tls_port=tls_port, workdir=folder / "run")
        db = folder / "agent.db"
        config = folder / "agent.toml"
        config.write_text(config_text(port, db, store_id, DEVICE, extra='[logging]\nlevel = "WARNING"\n')
                          .replace("interval_s = 0.5", "interval_s = 30", 1))
        return Store(store_id, folder, broker, db, config, provisioned.credentials(DEVICE),
                     provisioned.passwords[SCREEN])

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 120.0) -> None:
        """Start central, every store broker and agent, central's systems; wait until every agent is online
        at central (its retained ``state`` came over the bridge)."""
        self.central.start()
        for store in self.stores:
            store.broker.start()
        for store in self.stores:
            store.start_agent()
        self.systems = Client(self.central_port, CENTRAL_SYSTEMS_LOGIN, self.central_files.password,
                              client_id="central-systems-chain", clean=False, on_message=self._on_central,
                              subscriptions=["cs/v1/+/+/state", "cs/v1/+/+/event/feedback"])
        if not wait_until(lambda: self.online >= set(self.store_ids), timeout, 0.2):
            missing = sorted(set(self.store_ids) - self.online)
            raise RuntimeError(f"stores not online at central after {timeout:g} s: {', '.join(missing)}; "
                               f"logs under {self.workdir}")
        for store in self.stores:
            store.screen = Client(store.broker.port, SCREEN, store.screen_password, client_id=SCREEN)

    def _on_central(self, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")
        store = parts[2]
        if parts[-1] == "state":  # a device's, or the bridge's own notification (cs/v1/<store>/bridge/state: 1/0)
            if parts[3] != "bridge" and json.loads(message.payload)["data"]["state"] == "online":
                self.online.add(store)
            return
        message_id = json.loads(message.payload)["id"]
        with self._events_lock:
            if message_id not in self.events.setdefault(store, set()):
                self.events[store].add(message_id)
                self.event_times.append(time.monotonic())

    def restart_central(self, down_s: float = 0.0) -> None:
        """Stop central's broker (SIGTERM: it saves its persistence), leave it down ``down_s`` seconds, and
        start it again on the same ports."""
        self.central.stop()
        time.sleep(down_s)
        self.central.start()

    def close(self) -> None:
        for store in self.stores:
            if store.screen is not None:
                store.screen.close()
        if self.systems is not None:
            self.systems.close()
        for store in self.stores:
            if store.agent is not None and store.agent.poll() is None:
                store.agent.terminate()
        for store in self.stores:
            if store.agent is not None:
                try:
                    store.agent.wait(20)
                except subprocess.TimeoutExpired:
                    store.agent.kill()
            store.broker.close()
        self.central.close()

    # ------------------------------------------------------------------ what central does

    def push(self, store_id: str, kind: str, data: dict) -> None:
        """Central pushes ``data`` (a ``kind`` push of the contract) to one store."""
        assert self.systems is not None, "start() first"
        _, payload = encode(PUSHES[kind], data)
        self.systems.publish(PUSHES[kind].topic_for(store_id), payload)

    def push_offers(self, offer: str, version: int, gtin: str) -> float:
        """The same offers push to every store (a chain-wide offer); the monotonic time it was sent."""
        sent = time.monotonic()
        for store in self.store_ids:
            self.push(store, "offers", {"offers": [offer_record(offer, version, gtin)]})
        return sent

    def applied_everywhere(self, offer: str, version: int) -> bool:
        return all((store.offer_version(offer) or 0) >= version for store in self.stores)

    def events_received(self) -> int:
        with self._events_lock:
            return sum(len(ids) for ids in self.events.values())

    # ------------------------------------------------------------------ what the stores do

    def send_feedback(self, store: Store, transaction: str) -> None:
        """The kiosk screen of ``store`` sends a feedback request: one ``event/feedback`` upstream."""
        assert store.screen is not None, "start() first"
        _, payload = encode(COMMANDS["feedback"], {"score": 5, "phase": "after-care"}, transaction=transaction)
        store.screen.publish(COMMANDS["feedback"].topic_for(store.id, DEVICE), payload)


def offer_record(offer: str, version: int, gtin: str) -> dict:
    """An offers-push record: 10% off one product, for everyone, through 2027."""
    return {"offer": offer, "version": version, "active": True, "kind": "percentage-off", "percent": 10,
            "targeting": {"everyone": True}, "products": [gtin],
            "title": {"nl": f"Actie {version}", "en": f"Offer {version}"},
            "valid_from": "2026-01-01T00:00:00+00:00", "valid_until": "2027-12-31T00:00:00+00:00"}


def gtin(n: int) -> str:
    """The ``n``-th GTIN-13 of the chain's catalogue (871234 5 and a valid check digit)."""
    body = f"871234{n:06d}"
    return body + str(gtin_check_digit(body))


def catalogue(products: int) -> dict:
    """A store's catalogue of ``products`` products."""
    return {"products": [{"gtin": gtin(n), "version": 1, "name": {"nl": f"Product {n}"}, "price_cents": 100 + n,
                          "category": f"cat-{n % 10}"} for n in range(1, products + 1)]}
