"""A full disk, a locked database, a handler bug: nothing acknowledged is lost, nothing fails silently.

The end-to-end tests run the agent as a process (``edge-agent run``) with its
database on a really full file system: a small tmpfs, mounted for the test
and filled with a file (this needs root, as CI runs; without it the test
fails saying so). The broker is a real Mosquitto with the persistence and
queue settings of the shipped ``config/mosquitto/store.conf``, so a push the
agent did not acknowledge is delivered again after the agent (and the broker)
restart. What the agent did is read from its database (read-only, from
outside) and from what it publishes: health, events, responses, sessions.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent import central
from edge_agent.commands import Commands
from edge_agent.config import parse_config
from edge_agent.contract import COMMANDS, PUSHES, Topics, encode, new_id
from edge_agent.identity import card_token
from edge_agent.inbox import Inbox
from edge_agent.link import Received, _Drainer
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port
from edge_agent.outbox import Outbox
from edge_agent.store import Store
from edge_agent.transient import Fault, fault_of
from tests.support.agent import config_text, new_store_id
from tests.support.cards import SANNE, SANNE_UID, STORE_HMAC_KEY_HEX
from tests.support.faults import wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import envelope

ROOT = Path(__file__).resolve().parents[1]
STORE_CONF = ROOT / "config" / "mosquitto" / "store.conf"
# What of the shipped store broker's configuration decides whether an unacknowledged push survives:
# persistence, and the queues of a persistent session. Listener, logins and ACLs are the ACL tests' business.
SESSION_SETTINGS = ("set_tcp_nodelay", "persistence", "autosave_interval", "max_queued_messages",
                    "max_inflight_messages")
ERASED = "c-0000000000000000000000000000e001"
PRODUCT = PUSHES["catalogue"].example["products"][0]
WAIT_S = 60.0  # generous: two cores shared by many test runs


# --------------------------------------------------------------------------- a really full disk


class SmallDisk:
    """A tmpfs of ``size`` mounted at ``path``; :meth:`fill` leaves no byte free, :meth:`free` gives it back."""

    def __init__(self, path: Path, size: str = "4m"):
        self.path = path
        self.filler = path / "filler"
        path.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"cannot mount a {size} tmpfs at {path} for the full-disk tests (they need root, as CI "
                        f"runs them): {result.stderr.strip() or result.returncode}")

    def fill(self) -> None:
        with open(self.filler, "ab", buffering=0) as file:
            for chunk in (1 << 16, 4096, 512, 1):
                block = b"\0" * chunk
                try:
                    while True:
                        file.write(block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
        assert self.free_bytes() == 0, f"{self.free_bytes()} bytes still free after filling"

    def free(self) -> None:
        self.filler.unlink()

    def free_bytes(self) -> int:
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[SmallDisk]:
    if os.geteuid() != 0:
        pytest.fail("the full-disk tests mount a tmpfs and need root (CI runs them as root); run them as root")
    disk = SmallDisk(tmp_path / "disk")
    yield disk
    disk.unmount()


def shipped_broker(workdir: Path) -> Mosquitto:
    """A test Mosquitto (anonymous, loopback) with the session and persistence settings of store.conf."""
    shipped = {}
    for line in STORE_CONF.read_text().splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            shipped[words[0]] = line.strip()
    assert shipped.get("persistence") == "persistence true", "store.conf must keep persistent sessions on disk"
    broker = Mosquitto(workdir=workdir)
    own = [line for line in broker.config_path.read_text().splitlines()
           if not line.split() or line.split()[0] not in SESSION_SETTINGS]
    broker.config_path.write_text("\n".join(own + [shipped[key] for key in SESSION_SETTINGS if key in shipped]) + "\n")
    return broker.start()


class Observer:
    """The agent from outside: everything it publishes, requests to it, pushes to it, its database read-only."""

    def __init__(self, broker: Mosquitto, topics: Topics, db_path: Path):
        self.topics = topics
        self.db_path = db_path
        self.messages: list[tuple[str, dict]] = []
        # A persistent session that is back soon after a broker restart: what the agent publishes
        # meanwhile waits for it.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"observer-{new_id()[-12:]}",
                                  protocol=mqtt.MQTTv311, clean_session=False)
        self.client.reconnect_delay_set(0.05, 0.5)  # type: ignore[arg-type]  # paho takes any seconds
        self.client.on_connect = lambda c, *_: c.subscribe(topics.device_root + "/#", qos=1)
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def on(self, suffix: str) -> list[dict]:
        return [document for topic, document in list(self.messages) if topic.endswith(suffix)]

    def health(self) -> dict | None:
        found = self.on("/health")
        return found[-1]["data"] if found else None

    def wait_health(self, condition, what: str) -> dict:
        try:
            return wait_until(lambda: (h := self.health()) is not None and condition(h) and h, WAIT_S, what)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; last health: {self.health()}") from None

    def wait_online(self) -> None:
        wait_until(lambda: any(d["data"]["state"] == "online" for d in self.on("/state")), WAIT_S, "agent online")

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def push(self, kind: str, data: dict) -> str:
        message_id, payload = encode(PUSHES[kind], data)
        self.publish(PUSHES[kind].topic_for(self.topics.store), payload)
        return message_id

    def request(self, command: str, data: dict) -> dict:
        transaction = new_id()
        self.publish(COMMANDS[command].topic_for(self.topics.store, self.topics.device),
                     envelope(f"request-{command}/1", data, transaction=transaction))
        return wait_until(lambda: next((d for d in self.on(f"/response/{command}")
                                        if d.get("transaction") == transaction), None), WAIT_S,
                          f"response to {command}")

    def query(self, sql: str, *args) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def scene(tmp_path, small_disk, agent_process):
    """``scene(extra="")``: a shipped-settings broker, an agent config with its database on the small disk,
    an observer; returns (broker, config_path, observer, start_agent)."""
    made: list[tuple[Mosquitto, Observer]] = []

    def make(extra: str = ""):
        broker = shipped_broker(tmp_path / "broker")
        store = new_store_id()
        db_path = small_disk.path / "agent.db"
        config_path = tmp_path / "agent.toml"
        config_path.write_text(config_text(broker.port, db_path, store, extra=extra))
        observer = Observer(broker, Topics(store, "kiosk-1"), db_path)
        made.append((broker, observer))

        def start_agent():
            process = agent_process(config_path)
            return process

        return broker, observer, start_agent

    yield make
    for broker, observer in made:
        observer.close()
        broker.close()


def customer(customer_id: str, version: int = 1) -> dict:
    until = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    return {"customer": customer_id, "version": version, "first_name": "Sanne", "tier": "goud", "points": 5120,
            "consents": [{"purpose": "recognition", "until": until}]}


def no_traceback(process) -> None:
    assert "Traceback" not in process.log(), process.log()[-4000:]


def hold_erasure_and_catalogue_on_full_disk(small_disk: SmallDisk, observer: Observer) -> tuple[str, str]:
    """A stored customer; the disk filled; an erasure of them and a catalogue pushed. Returns their ids
    after health shows both held."""
    observer.push("customer", customer(ERASED))
    wait_until(lambda: observer.query("SELECT 1 FROM customers WHERE customer = ?", ERASED), WAIT_S,
               "the customer stored")
    small_disk.fill()
    erasure = observer.push("erasure", {"request_id": "er-full-1", "customer": ERASED})
    catalogue = observer.push("catalogue", {"products": [PRODUCT]})
    observer.wait_health(lambda h: h["held_messages"] == 2 and h["storage_state"] == "full",
                         "health shows both pushes held on a full disk")
    return erasure, catalogue


def applied(observer: Observer) -> bool:
    return (any(d["data"]["request_id"] == "er-full-1" for d in observer.on("/event/erasure-ack"))
            and not observer.query("SELECT 1 FROM customers WHERE customer = ?", ERASED)
            and bool(observer.query("SELECT 1 FROM products WHERE gtin = ?", "0" + PRODUCT["gtin"])))


# --------------------------------------------------------------------------- end to end


def test_disk_full_erasure_and_catalogue_push_are_not_acknowledged_and_applied_once_space_returns(
        scene, small_disk):
    _broker, observer, start_agent = scene()
    agent = start_agent()
    observer.wait_online()
    hold_erasure_and_catalogue_on_full_disk(small_disk, observer)

    health = observer.health()
    assert health is not None
    assert health["storage_error"].startswith("storage full:"), health
    assert health["storage_free_bytes"] == 0
    assert not observer.on("/event/erasure-ack"), "an erasure acknowledged while nothing could be written"
    assert observer.query("SELECT 1 FROM customers WHERE customer = ?", ERASED), "the customer is still there"
    assert health["rejected_messages"] == 0, "a transient fault is retried, not rejected"

    # A request that needs a write gets an error answer saying why; one that needs none is served.
    answer = observer.request("feedback", {"score": 4, "phase": "continue"})
    assert answer["status"] == "error" and answer["error"].startswith("storage full:"), answer
    assert observer.request("ping", {})["status"] == "ok"

    small_disk.free()
    wait_until(lambda: applied(observer), WAIT_S, "erasure and catalogue applied after space returned")
    observer.wait_health(lambda h: h["storage_state"] == "ok" and h["held_messages"] == 0
                         and h["storage_free_bytes"] > 0, "health ok again")
    assert agent.alive
    no_traceback(agent)


def test_disk_full_held_pushes_are_delivered_again_after_agent_and_broker_restart_and_applied(scene, small_disk):
    broker, observer, start_agent = scene()
    agent = start_agent()
    observer.wait_online()
    hold_erasure_and_catalogue_on_full_disk(small_disk, observer)

    assert agent.terminate() == 0, agent.log()[-4000:]
    broker.restart()  # a graceful restart: Mosquitto keeps the session and its unacknowledged messages
    small_disk.free()
    assert observer.query("SELECT 1 FROM customers WHERE customer = ?", ERASED), "nothing erased before restart"

    restarted = start_agent()
    wait_until(lambda: applied(observer), WAIT_S, "held pushes redelivered and applied after the restart")
    no_traceback(agent)
    no_traceback(restarted)


def test_disk_full_tap_shows_no_personal_session_and_the_next_tap_after_space_returns_does(
        scene, small_disk, monkeypatch):
    device = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(device)
    try:
        monkeypatch.setenv("CS_STORE_HMAC_KEY", STORE_HMAC_KEY_HEX)
        _broker, observer, start_agent = scene(extra=f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n')
        agent = start_agent()
        observer.wait_online()
        assert emulator.wait_for_reader(WAIT_S), "the agent's reader never polled"
        observer.push("customer", customer(SANNE))
        observer.push("card-link", {"card": card_token(bytes.fromhex(STORE_HMAC_KEY_HEX), SANNE_UID), "version": 1,
                                    "kind": "customer", "customer": SANNE})
        wait_until(lambda: observer.query("SELECT 1 FROM card_links"), WAIT_S, "the card link stored")

        def tap() -> dict:
            before = len(started())
            emulator.hold(Type2Card(SANNE_UID))
            try:
                wait_until(lambda: len(started()) > before, WAIT_S, "a session for the tap")
            finally:
                emulator.remove()
            # A card put back before the reader noticed it leave is the same presence (as on a real
            # reader): shoppers don't tap twice within a second.
            time.sleep(1.0)
            return started()[-1]

        def started() -> list[dict]:
            return [d["data"] for d in observer.on("/local/session") if d["data"]["state"] == "started"]

        small_disk.fill()
        refused = tap()
        assert refused["outcome"] == "rejected" and refused["reason"] == "try-again", refused
        assert refused["customer"] is None and refused["may_show"] == []
        assert not observer.query("SELECT 1 FROM data_use WHERE customer = ?", SANNE)
        assert "tap not recorded (storage full" in agent.log()
        assert "Sanne" not in agent.log() and SANNE not in agent.log()

        small_disk.free()
        recognised = tap()
        assert recognised["outcome"] == "recognised" and recognised["customer"]["first_name"] == "Sanne"
        assert observer.query("SELECT use FROM data_use WHERE customer = ?", SANNE) == [("recognised",)]
        wait_until(lambda: any(d["data"]["session"] == recognised["session"] for d in observer.on("/event/tap")),
                   WAIT_S, "the recognised tap's event upstream")
        assert not any(d["data"]["session"] == refused["session"] for d in observer.on("/event/tap"))
        no_traceback(agent)
    finally:
        emulator.close()


def test_database_locked_by_another_process_push_is_held_and_applied_once_the_lock_is_released(tmp_path,
                                                                                                agent_process):
    broker = shipped_broker(tmp_path / "broker")
    store = new_store_id()
    db_path = tmp_path / "agent.db"
    config_path = tmp_path / "agent.toml"
    config_path.write_text(config_text(broker.port, db_path, store))
    observer = Observer(broker, Topics(store, "kiosk-1"), db_path)
    try:
        agent = agent_process(config_path)
        observer.wait_online()
        lock = sqlite3.connect(db_path, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            observer.push("catalogue", {"products": [PRODUCT]})
            observer.wait_health(lambda h: h["held_messages"] == 1 and h["storage_state"] == "busy",
                                 "health shows the push held on a locked database")
            assert observer.health()["storage_error"].startswith("storage busy:")
            assert not observer.query("SELECT 1 FROM products"), "applied although the database was locked"
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_until(lambda: observer.query("SELECT 1 FROM products"), WAIT_S, "the push applied after the lock")
        observer.wait_health(lambda h: h["held_messages"] == 0 and h["storage_state"] == "ok", "health ok again")
        assert observer.health()["rejected_messages"] == 0
        no_traceback(agent)
    finally:
        observer.close()
        broker.close()


# --------------------------------------------------------------------------- in one process, on real SQLite


def test_database_full_write_is_classified_transient_and_the_connection_takes_writes_again(tmp_path):
    store = Store(tmp_path / "agent.db")
    try:
        with store.reading() as conn:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own SQLITE_FULL, at this size
        rows = [(f"c-{index:032x}", 1, "x" * 2000, 0.0) for index in range(200)]
        with pytest.raises(sqlite3.OperationalError) as raised, store.transaction(durable=True) as conn:
            conn.executemany("INSERT INTO customers (customer, version, profile, updated) VALUES (?, ?, ?, ?)",
                             rows)
        assert fault_of(raised.value) is Fault.FULL
        assert store.fault is not None and store.fault[0] is Fault.FULL
        assert not store.conn.in_transaction, "a failed write must not leave the connection in a transaction"
        store.conn.execute("PRAGMA max_page_count=1073741823")
        assert store.probe() and store.fault is None
        with store.transaction(durable=True) as conn:
            conn.executemany("INSERT INTO customers (customer, version, profile, updated) VALUES (?, ?, ?, ?)", rows)
        with store.reading() as conn:
            assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 200
    finally:
        store.close()


@pytest.fixture
def inbox(tmp_path):
    config = parse_config(config_text(1883, tmp_path / "agent.db", "store-bug"), "agent.toml")
    store = Store(config.database.path)
    topics = Topics(config.store.id, config.device.id)
    outbox = Outbox(store, topics, 1000)
    answers: list[tuple[str, dict]] = []
    commands = Commands(config, respond=lambda name, payload: answers.append((name, json.loads(payload))))
    yield Inbox(store, outbox, topics, commands, on_probe=lambda raw: None), store, topics, answers
    store.close()


def received(topic: str, payload: bytes) -> Received:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="unconnected", protocol=mqtt.MQTTv311)
    return Received(client, topic, payload, 1, 1, False)


def errors_upstream(store: Store) -> list[dict]:
    with store.reading() as conn:
        rows = conn.execute("SELECT payload FROM outbox WHERE topic LIKE '%/event/error'").fetchall()
    return [json.loads(payload)["data"] for (payload,) in rows]


def test_handler_bug_while_applying_a_push_is_reported_with_id_topic_and_reason_without_personal_data(
        inbox, monkeypatch, caplog):
    inbox_, store, topics, _answers = inbox

    def broken(conn, payload, outbox):
        raise KeyError(f"{ERASED} Sanne")  # a bug whose text quotes personal data

    monkeypatch.setitem(central.APPLIERS, "catalogue", broken)
    caplog.set_level(logging.DEBUG)
    message_id, payload = encode(PUSHES["catalogue"], {"products": [PRODUCT]})
    topic = PUSHES["catalogue"].topic_for(topics.store)
    assert inbox_.receive(received(topic, payload)) is True, "a bug is not retried: acknowledged and reported"
    assert inbox_.rejected == 1 and inbox_.held == 0
    [report] = errors_upstream(store)
    assert report["message_id"] == message_id and report["topic"] == topic
    assert report["reason"].startswith("internal error: KeyError at inbox.py:"), report
    for text in (ERASED, "Sanne"):
        assert text not in report["reason"] and text not in caplog.text


def test_handler_bug_while_serving_a_request_gets_an_error_answer_and_is_counted(inbox, caplog):
    inbox_, store, topics, answers = inbox

    def broken(request):
        raise ValueError("Sanne")

    inbox_._commands.register("feedback", broken)
    caplog.set_level(logging.DEBUG)
    topic = COMMANDS["feedback"].topic_for(topics.store, topics.device)
    payload = envelope("request-feedback/1", {"score": 3, "phase": "inform"}, transaction="t-1")
    assert inbox_.receive(received(topic, payload)) is True
    [(name, answer)] = answers
    assert name == "feedback" and answer["status"] == "error" and answer["transaction"] == "t-1"
    assert answer["error"].startswith("internal error: ValueError at commands.py:"), answer
    assert inbox_.rejected == 1 and len(errors_upstream(store)) == 1
    assert "Sanne" not in caplog.text


def test_database_locked_while_deleting_acknowledged_events_keeps_them_and_the_drain_goes_on(tmp_path):
    store = Store(tmp_path / "agent.db")
    try:
        outbox = Outbox(store, Topics("store-lock", "kiosk-1"), 1000)
        for score in (1, 2, 3):
            outbox.enqueue("feedback", {"score": score, "phase": "inform"})
        drainer = _Drainer(outbox, window=10)
        drainer._settled = [pending.seq for pending in outbox.after(0, 10)]  # as if the broker acknowledged them
        store.conn.execute("PRAGMA busy_timeout=0")  # fail at once instead of after five seconds
        lock = sqlite3.connect(tmp_path / "agent.db", isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        drainer._delete_settled()  # must not raise: it would end the drain thread
        assert len(drainer._settled) == 3 and outbox.depth().total == 3
        assert drainer._delete_due_in() > 0, "retried after a delay, not at once"
        lock.execute("ROLLBACK")
        lock.close()
        drainer._last_delete = 0.0
        drainer._delete_settled()
        assert drainer._settled == [] and outbox.depth().total == 0
    finally:
        store.close()
