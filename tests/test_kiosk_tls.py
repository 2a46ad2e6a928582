"""The kiosk on a Pi whose store broker runs on another Pi: over TLS to the provisioned broker's LAN listener.

The store broker (``edge-agent broker provision``) speaks plain MQTT on loopback only and TLS on the store
LAN (here 127.0.0.2: on Linux all of 127/8 is loopback). A real Mosquitto runs from the provisioned files;
the kiosk logs in with the screen login and checks the broker with the store CA, both from the device's
credentials folder (as systemd's ``$CREDENTIALS_DIRECTORY``). Promises: the kiosk's bridge connects and gets
what the agent (over TLS too) publishes; a CA that did not sign the broker's certificate is refused, said
in one clear log line, and the kiosk keeps trying; so is a certificate for another address (the name check
is on); the screen login over TLS is still held to the ACL; a
missing or unusable ``ca_file`` is a configuration mistake with its file, line and key (exit 2); the
example configuration's TLS block and the kiosk unit's credentials fit what provisioning writes; and the
kiosk app under Xvfb started against the TLS listener shows its first screen.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.config import parse_config as parse_agent_config
from edge_agent.contract import SESSION, STATE, Topics, encode
from edge_agent.credentials import Credentials
from edge_agent.mqtt_tls import TlsConfig
from edge_agent.problems import EXIT_INVALID, EXIT_OK
from edge_agent.provisioning import StorePlan, parse_devices, provision_store
from kiosk.bridge import Bridge
from kiosk.cli import main as kiosk_main
from tests.support.kiosk import KioskProcess
from tests.support.mosquitto import LoginClient, Mosquitto, free_port, settle

ROOT = Path(__file__).resolve().parent.parent
STORE, DEVICE = "store-0042", "kiosk-1"
LAN = "127.0.0.2"
EXAMPLE = ROOT / "config" / "kiosk.example.toml"
UNIT = ROOT / "systemd" / "connected-store-kiosk.service"


SESSION_ID, FORGED_ID = "01a20735-b502-769a-a830-637530718552", "01a20735-b502-769a-a830-637530718553"


def session_payload(sid: str) -> bytes:
    """An anonymous session start, as the agent publishes it."""
    _, raw = encode(SESSION, {"session": sid, "state": "started", "outcome": "anonymous", "assurance": "sun",
                              "may_show": [], "invite_to_enrol": True})
    return raw


class Store:
    """A provisioned store with its broker running; ``folder`` is the kiosk Pi's credentials folder.

    :param certified_for: the LAN address provisioning is told (its server certificate names it); the broker
        listens on :data:`LAN` whatever it is.
    """

    def __init__(self, folder: Path, certified_for: str = LAN):
        self.port, self.tls_port = free_port(), free_port()
        (folder / "data").mkdir(parents=True)
        plan = StorePlan(STORE, parse_devices(DEVICE), lan_address=certified_for, port=self.port,
                         tls_port=self.tls_port, etc=str(folder / "store" / "mosquitto"),
                         persistence=f"{folder / 'data'}/")
        self.store = provision_store(plan, folder / "store")
        conf = self.store.etc / "conf.d" / "connected-store.conf"
        listener = f"listener {self.tls_port} {certified_for}\n"
        assert listener in conf.read_text(), "the provisioned TLS listener"
        conf.write_text(conf.read_text().replace(listener, f"listener {self.tls_port} {LAN}\n"))
        self.folder = self.store.credentials(DEVICE)
        self.credentials = Credentials({"CREDENTIALS_DIRECTORY": str(self.folder)})
        self.broker = Mosquitto.provisioned(self.store.etc, port=self.port, tls_port=self.tls_port,
                                            workdir=folder / "broker").start()

    @property
    def ca(self) -> Path:
        return self.folder / "broker-ca.pem"

    def kiosk_bridge(self, sink, ca_file: Path | None = None, insecure: bool = False) -> Bridge:
        """The kiosk's bridge as the kiosk app builds it, to the LAN listener with the screen login."""
        return Bridge(LAN, self.tls_port, STORE, DEVICE, sink, post=lambda function, *args: function(*args),
                      username=self.credentials.get("kiosk-mqtt-username"),
                      password=self.credentials.get("kiosk-mqtt-password"),
                      tls=TlsConfig(ca_file=ca_file or self.ca, insecure=insecure))

    def agent_login(self, subscriptions=()) -> LoginClient:
        """The device's agent login, on the TLS listener."""
        return LoginClient(self.tls_port, self.credentials.get("mqtt-username") or "",
                           self.credentials.get("mqtt-password") or "", subscriptions, host=LAN, ca_file=self.ca)


class Sink:
    """Records what the bridge hands the UI."""

    def __init__(self):
        self.states: list[str] = []
        self.sessions: list[str] = []
        self.connections: list[bool] = []
        self.changed = threading.Event()

    def on_device_state(self, payload):
        self.states.append(payload.state)
        self.changed.set()

    def on_session(self, payload):
        self.sessions.append(payload.session)
        self.changed.set()

    def on_connection(self, connected):
        self.connections.append(connected)
        self.changed.set()

    def __getattr__(self, name):
        return lambda *args: None


def wait_for(predicate, timeout: float, message) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message() if callable(message) else message
        time.sleep(0.05)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    provisioned = Store(tmp_path_factory.mktemp("kiosk-tls"))
    yield provisioned
    provisioned.broker.close()


def write_config(path: Path, store: Store, ca_file: Path | str, extra: str = "") -> Path:
    path.write_text(f'[store]\nid = "{STORE}"\n[device]\nid = "{DEVICE}"\n'
                    f'[mqtt]\nhost = "{LAN}"\nport = {store.tls_port}\n'
                    f'[mqtt.tls]\nca_file = "{ca_file}"\n{extra}', encoding="utf-8")
    return path


def test_the_kiosk_connects_over_tls_with_its_screen_login_and_gets_what_the_agent_publishes(store, tmp_path):
    config = parse_agent_config(
        f'[store]\nid = "{STORE}"\n[device]\nid = "{DEVICE}"\n'
        f'[mqtt]\nhost = "{LAN}"\nport = {store.tls_port}\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
        f'[mqtt.tls]\nca_file = "{store.ca}"\n'
        f'[database]\npath = "{tmp_path / "agent.db"}"\n', "<provisioned>")
    sink = Sink()
    kiosk = store.kiosk_bridge(sink)
    screen = store.credentials.get("kiosk-mqtt-username")
    assert screen == f"{DEVICE}-screen", "provisioning gives the kiosk app its own login"
    agent = Agent(config, store.credentials)
    kiosk.start()
    agent.start()
    try:
        assert agent.link.wait_connected(60), agent.link.stats.last_error
        wait_for(lambda: kiosk.connected and "online" in sink.states, 60,
                 lambda: f"the kiosk never saw the agent online (last error {kiosk.last_error}):\n{store.broker.log()}")
        # A local message the agent publishes on the kiosk's session topic, through the agent's own link.
        assert agent.link.publish(Topics(STORE, DEVICE).session, session_payload(SESSION_ID), qos=SESSION.qos)
        wait_for(lambda: SESSION_ID in sink.sessions, 30,
                 "the kiosk never got the agent's session message")
        assert f"as {screen} " in store.broker.log() and f"as {DEVICE} " in store.broker.log()
        assert kiosk.last_error is None
    finally:
        kiosk.stop()
        agent.stop()


def test_a_ca_that_did_not_sign_the_broker_is_refused_in_a_clear_log_line_and_the_kiosk_keeps_trying(
        store, tmp_path, caplog):
    other = Store(tmp_path / "other")  # another store: its own CA
    other.broker.close()
    caplog.set_level(logging.DEBUG, logger="kiosk.bridge")
    sink = Sink()
    kiosk = store.kiosk_bridge(sink, ca_file=other.ca)
    kiosk.start()
    try:
        def attempts() -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.name == "kiosk.bridge" and "connect to" in r.getMessage()]

        # One warning with the reason, then the same reason again and again at DEBUG: it keeps trying.
        wait_for(lambda: len(attempts()) >= 3, 60, lambda: f"no retries: {[r.getMessage() for r in attempts()]}")
        warning = attempts()[0]
        assert warning.levelno == logging.WARNING
        assert re.search(rf"cannot connect to {re.escape(LAN)}:{store.tls_port} over TLS: .*"
                         r"CERTIFICATE_VERIFY_FAILED.*; trying again", warning.getMessage()), warning.getMessage()
        assert all(r.levelno == logging.DEBUG for r in attempts()[1:]), "the same reason is logged once"
        assert not kiosk.connected and True not in sink.connections
        assert kiosk.client._thread is not None and kiosk.client._thread.is_alive(), "the kiosk stopped trying"
    finally:
        kiosk.stop()


def test_a_broker_whose_certificate_names_another_address_is_refused_by_the_name_check(tmp_path, caplog):
    moved = Store(tmp_path / "moved", certified_for="127.0.0.3")  # the store CA's, but not for 127.0.0.2
    caplog.set_level(logging.INFO, logger="kiosk.bridge")
    refused = moved.kiosk_bridge(Sink())
    refused.start()
    try:
        wait_for(lambda: refused.last_error is not None, 60, "no connection attempt")
        assert "CERTIFICATE_VERIFY_FAILED" in refused.last_error and "mismatch" in refused.last_error, \
            refused.last_error
        assert not refused.connected
    finally:
        refused.stop()
    # The same CA without the name check connects: it was the name that was refused, not the CA.
    unchecked = moved.kiosk_bridge(Sink(), insecure=True)
    unchecked.start()
    try:
        wait_for(lambda: unchecked.connected, 60, lambda: f"no connection: {unchecked.last_error}")
    finally:
        unchecked.stop()
        moved.broker.close()


def test_the_screen_login_over_tls_still_cannot_publish_as_the_agent(store):
    sink = Sink()
    kiosk = store.kiosk_bridge(sink)
    topics = Topics(STORE, DEVICE)
    watcher = store.agent_login([(topics.session, 1), (topics.state, 1)])
    kiosk.start()
    try:
        watcher.wait_connected(30)
        wait_for(lambda: kiosk.connected, 60, lambda: f"no TLS connection: {kiosk.last_error}")
        # What only the agent may say: a session on screen, the device's state.
        session = session_payload(FORGED_ID)
        state_id, state = encode(STATE, {"state": "offline", "reason": "shutdown"})
        for topic, payload in ((topics.session, session), (topics.state, state)):
            info = kiosk.client.publish(topic, payload, qos=1)
            info.wait_for_publish(30)
        # Mosquitto routes (or refuses) a publish before its PUBACK, so after the PUBACKs a SUBSCRIBE round
        # trip of the watcher's brings in whatever reached it.
        settle(watcher)
        forged = (state_id.encode(), FORGED_ID.encode())
        assert not [t for t, p in watcher.received if any(mark in p for mark in forged)], watcher.received
        assert kiosk.connected, "with the shipped configuration a refusal keeps the connection"
    finally:
        kiosk.stop()
        watcher.close()


def test_a_missing_ca_file_is_a_configuration_mistake_with_its_file_line_and_key(store, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "broker-ca.pem"
    config = write_config(tmp_path / "kiosk.toml", store, missing)
    assert kiosk_main(["--config", str(config), "--validate-config"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert f"{config}:9: mqtt.tls.ca_file: cannot use {missing}: No such file or directory" in err, err
    # The same at a normal start: the kiosk does not open a window that can never connect.
    assert kiosk_main(["--config", str(config)]) == EXIT_INVALID
    assert "mqtt.tls.ca_file" in capsys.readouterr().err


def test_a_ca_file_that_holds_no_certificate_is_a_configuration_mistake(store, tmp_path, capsys):
    garbage = tmp_path / "broker-ca.pem"
    garbage.write_text("not a certificate\n")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for ca_file, reason in ((garbage, "holds no PEM certificate"), (folder, "Is a directory")):
        config = write_config(tmp_path / "kiosk.toml", store, ca_file)
        assert kiosk_main(["--config", str(config), "--validate-config"]) == EXIT_INVALID
        err = capsys.readouterr().err
        assert f"{config}:9: mqtt.tls.ca_file: cannot use {ca_file}: {reason}" in err, err


def test_the_examples_tls_block_validates_with_the_provisioned_ca_and_the_unit_loads_it(store, tmp_path, capsys):
    text = EXAMPLE.read_text(encoding="utf-8")
    block = re.search(r"^# \[mqtt\]\n(?:# .*\n)*?# \[mqtt\.tls\]\n(?:# .*\n)+", text, re.MULTILINE)
    assert block, "the example shows the TLS set-up"
    uncommented = re.sub(r"^# ", "", block.group(0), flags=re.MULTILINE)
    example_ca = re.search(r'ca_file = "([^"]+)"', uncommented)
    assert example_ca and example_ca.group(1) == "/run/credentials/connected-store-kiosk.service/broker-ca.pem"
    # The example with its TLS block in use (its [mqtt] table replaced), pointed at this test's CA.
    used = re.sub(r"^\[mqtt\]\n(?:(?!\[).*\n)*", "", text, count=1, flags=re.MULTILINE)
    used += uncommented.replace(example_ca.group(1), str(store.ca))
    config = tmp_path / "kiosk.toml"
    config.write_text(used, encoding="utf-8")
    assert kiosk_main(["--config", str(config), "--validate-config"]) == EXIT_OK, capsys.readouterr().err
    # The unit loads every credential the kiosk reads, and provisioning writes each for the kiosk's device.
    loaded = dict(re.findall(r"^LoadCredential=([^:]+):(.+)$", UNIT.read_text(encoding="utf-8"), re.MULTILINE))
    assert {"kiosk-mqtt-username", "kiosk-mqtt-password", "broker-ca.pem"} <= set(loaded)
    assert all(path == f"/etc/connected-store/credentials/{name}" for name, path in loaded.items())
    assert all((store.folder / name).is_file() for name in loaded), sorted(p.name for p in store.folder.iterdir())


def test_the_kiosk_app_started_against_the_tls_listener_shows_its_first_screen(store, xvfb, tmp_path, monkeypatch):
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(store.folder))
    for name in ("CS_KIOSK_MQTT_USERNAME", "CS_KIOSK_MQTT_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    config = write_config(tmp_path / "kiosk.toml", store, store.ca)
    kiosk = KioskProcess(xvfb, store.tls_port, STORE, DEVICE, tmp_path / "kiosk")
    kiosk.command = [sys.executable, "-m", "kiosk", "--config", str(config), "--size", "800x480",
                     "--status-file", str(kiosk.status_path)]
    try:
        kiosk.start(timeout=90)  # returns once the kiosk says it is connected
        shown = kiosk.wait(lambda s: bool(s["screen"]), timeout=30)
        assert "over TLS" in kiosk.log(), kiosk.log()
    finally:
        code = kiosk.stop()
    assert shown["screen"], kiosk.log()
    assert code == 0, kiosk.log()
    assert "Traceback" not in kiosk.log(), kiosk.log()
    assert f"as {DEVICE}-screen " in store.broker.log()


def test_client_certificate_files_that_cannot_be_used_are_named_each_with_its_key(store, tmp_path, capsys):
    key = tmp_path / "kiosk.key"
    key.write_text("not a key\n")
    config = write_config(tmp_path / "kiosk.toml", store, store.ca,
                          f'cert_file = "{tmp_path / "missing.pem"}"\nkey_file = "{key}"\n')
    assert kiosk_main(["--config", str(config), "--validate-config"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert f"{config}:10: mqtt.tls.cert_file: cannot use {tmp_path / 'missing.pem'}: No such file or directory" in err
    (tmp_path / "missing.pem").write_text("not a certificate\n")
    assert kiosk_main(["--config", str(config), "--validate-config"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "mqtt.tls.cert_file: " in err and "are not a certificate and its key (PEM)" in err, err
    assert "mqtt.tls.ca_file" not in err, "the CA itself is fine"


def test_the_kiosk_app_given_a_wrong_ca_shows_its_screen_says_why_once_and_keeps_trying(store, xvfb, tmp_path,
                                                                                       monkeypatch):
    other = Store(tmp_path / "other")  # another store: its own CA
    other.broker.close()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(store.folder))
    config = write_config(tmp_path / "kiosk.toml", store, other.ca)
    kiosk = KioskProcess(xvfb, store.tls_port, STORE, DEVICE, tmp_path / "kiosk")
    # DEBUG: the repeated attempts are logged there (the reason itself once, as a warning).
    kiosk.command = [sys.executable, "-m", "kiosk", "--config", str(config), "--size", "800x480",
                     "--status-file", str(kiosk.status_path), "--log-level", "DEBUG"]
    try:
        with pytest.raises(TimeoutError):
            kiosk.start(timeout=0.1)  # launched; it cannot connect, so start's wait for "connected" gives up
        shown = kiosk.wait(lambda s: bool(s["screen"]), timeout=60)
        wait_for(lambda: kiosk.log().count("still cannot connect") >= 2, 60,
                 lambda: f"the kiosk stopped trying:\n{kiosk.log()[-3000:]}")
        assert kiosk.process is not None and kiosk.process.poll() is None, "the kiosk kept running"
        assert not kiosk.status()["connected"]
    finally:
        code = kiosk.stop()
    log = kiosk.log()
    refusals = [line for line in log.splitlines() if "WARNING" in line and "cannot connect to" in line]
    assert len(refusals) == 1 and "CERTIFICATE_VERIFY_FAILED" in refusals[0], refusals
    assert shown["screen"] and code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
