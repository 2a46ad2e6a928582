"""A real Mosquitto for tests and benchmarks, on a free loopback port.

Installs Debian's ``mosquitto`` package when the binary is missing
(:func:`tests.support.system.ensure_installed`: the test setup must work on a
fresh machine), writes its own configuration into a
temporary folder and can stop, kill and restart the broker to simulate
outages. Persistence is on, so QoS 1 messages queued for a persistent
session survive a broker restart, as in production (config/mosquitto/).

:meth:`Mosquitto.store` starts the store broker the project ships instead:
``config/mosquitto/store.conf`` line for line, with only its ports, addresses
(both listeners on loopback: :attr:`Mosquitto.tls_port` is the LAN listener's),
paths, the LAN listener's certificate (a test store CA, :attr:`Mosquitto.ca_path`)
and the password file (made from the logins given) replaced, the shipped ACL
and, when asked, a bridge after it (as conf.d/central-bridge.conf).

:meth:`Mosquitto.provisioned` runs what ``edge-agent broker provision`` wrote,
unchanged: Debian's layout (a main file that includes ``conf.d``), the test
adding only its log settings and, as root, ``user root``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.provisioning.certificates import CertificateAuthority, write_public
from edge_agent.provisioning.passwords import hash_password, password_file
from tests.support.system import ensure_installed

CONFIG = Path(__file__).resolve().parents[2] / "config" / "mosquitto"
STORE_CONF = CONFIG / "store.conf"
STORE_ACL = CONFIG / "connected-store.acl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Mosquitto:
    """One Mosquitto process with its own configuration and data folder.

    :param port: loopback port; a free one by default.
    :param extra: extra configuration lines.
    """

    def __init__(self, port: int | None = None, extra: str = "", workdir: Path | None = None):
        self.binary = ensure_installed("mosquitto", "mosquitto-clients", binary="mosquitto")
        self.port = port or free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="mosquitto-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        # As root, Mosquitto drops to the "mosquitto" user, which cannot write
        # into pytest's root-only folders: persistence and the log would be
        # silently off. Stay root in tests.
        run_as = "user root\n" if os.geteuid() == 0 else ""
        self.config_path.write_text(
            run_as +
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "set_tcp_nodelay true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            + extra
        )
        self.process: subprocess.Popen | None = None
        self.passwd_path: Path | None = None
        #: The store broker's LAN (TLS) listener, and the CA that signed its certificate (store brokers only).
        self.tls_port: int | None = None
        self.ca_path: Path | None = None

    @classmethod
    def store(cls, workdir: Path, logins: dict[str, str], *, acl: Path = STORE_ACL, bridge: str = "",
              port: int | None = None) -> Mosquitto:
        """The shipped store broker (``config/mosquitto/store.conf``), not started.

        :param workdir: its folder (persistence, log, password file, ``include_dir``).
        :param logins: user name -> password, written with ``mosquitto_passwd``.
        :param acl: the ACL file; the shipped one by default.
        :param bridge: a bridge configuration (as conf.d/central-bridge.conf), after the broker's own lines.
        :raises ValueError: when store.conf names a path this helper does not know how to replace.
        """
        broker = cls(port=port, workdir=workdir)
        broker.passwd_path = broker.workdir / "passwd"
        # Hashed by the project's own code (edge_agent.provisioning.passwords), as `edge-agent broker provision`
        # does; tests/test_provisioning_passwords.py checks them against mosquitto_passwd's and the broker.
        broker.passwd_path.write_text(password_file({user: hash_password(password)
                                                     for user, password in logins.items()}))
        certs = broker.workdir / "certs"
        store_ca = CertificateAuthority.create("test store CA")
        broker.ca_path = certs / "store-ca.pem"
        write_public(broker.ca_path, store_ca.issued.cert_pem)
        store_ca.issue_server("localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"]).save(
            certs / "broker.pem", certs / "broker.key")
        broker.tls_port = free_port()
        replacement = {"password_file": f"password_file {broker.passwd_path}", "acl_file": f"acl_file {acl}",
                       "persistence_location": f"persistence_location {broker.workdir}/",
                       "certfile": f"certfile {certs / 'broker.pem'}",
                       "keyfile": f"keyfile {certs / 'broker.key'}"}
        lines = ["user root"] if os.geteuid() == 0 else []
        listeners = 0
        for number, line in enumerate(STORE_CONF.read_text().splitlines(), 1):
            directive = line.split(maxsplit=1)[0] if line.strip() and not line.lstrip().startswith("#") else ""
            if directive == "listener":
                # The first listener is loopback; the next one the LAN's, moved to loopback for the test.
                lines.append(f"listener {broker.port if listeners == 0 else broker.tls_port} 127.0.0.1")
                listeners += 1
            elif directive in replacement:
                lines.append(replacement[directive])
            elif directive and ("/etc/" in line or "/var/" in line):
                raise ValueError(f"{STORE_CONF}:{number}: {directive} names a path the test broker cannot use")
            else:
                lines.append(line)
        lines += [f"log_dest file {broker.log_path}", "log_type error", "log_type warning", "log_type notice",
                  "log_type information"]
        # Where Debian's layout puts it: the bridge's own file in conf.d, read after the broker's.
        broker.config_path.write_text("\n".join(lines) + "\n" + bridge)
        return broker

    @classmethod
    def provisioned(cls, etc: Path, *, port: int, tls_port: int | None = None, workdir: Path | None = None
                    ) -> Mosquitto:
        """The broker ``edge-agent broker provision`` (or ``central``) wrote into ``etc``, not started.

        :param etc: the folder that is the broker's /etc/mosquitto (provisioned with ``etc`` pointing there,
            so every path inside is real); its ``conf.d`` is included as Debian's mosquitto.conf does.
        :param port: the loopback port the provisioned configuration listens on (it chose it).
        :param tls_port: its TLS listener's port, when the test connects there.
        """
        broker = cls(port=port, workdir=workdir)
        broker.tls_port = tls_port
        run_as = "user root\n" if os.geteuid() == 0 else ""
        broker.config_path.write_text(
            run_as + f"log_dest file {broker.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            f"include_dir {etc / 'conf.d'}\n")
        return broker

    def log(self) -> str:
        """What the broker logged so far."""
        return self.log_path.read_text() if self.log_path.exists() else ""

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def start(self) -> Self:
        if self.process is not None and self.process.poll() is None:
            return self
        with open(self.workdir / "mosquitto.stderr", "ab") as stderr:
            self.process = subprocess.Popen([self.binary, "-c", str(self.config_path)],
                                            stdout=subprocess.DEVNULL, stderr=stderr)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        """Graceful stop (SIGTERM): Mosquitto saves its persistence file."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """Hard stop (SIGKILL), as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class LoginClient:
    """A paho client (MQTT 3.1.1) logged in as ``user``, recording what it receives.

    :param subscriptions: subscribed on every connect.
    :param client_id: the login by default, as the store broker binds them.
    :param protocol: MQTT 3.1.1 by default; with MQTT 5 the broker says why it refused a publish (PUBACK 0x87).
    :param host: the broker's address (loopback by default; a store broker's LAN listener may be elsewhere).
    :param ca_file: connect with TLS, checking the broker's certificate against this CA.

    :meth:`flush` waits with a SUBSCRIBE round trip until everything the broker delivered before has
    arrived: Mosquitto handles a client's packets in order and answers on one socket.
    """

    def __init__(self, port: int, user: str, password: str, subscriptions: Sequence[tuple[str, int]] = (), *,
                 client_id: str | None = None, clean_session: bool = True, protocol: int = mqtt.MQTTv311,
                 host: str = "127.0.0.1", ca_file: Path | None = None):
        self.received: list[tuple[str, bytes]] = []
        #: The broker's answers: PUBACK reason code by message id, SUBACK reason codes by message id.
        self.pubacks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.session_present: bool | None = None
        self.connect_result: int | None = None
        self._lock = threading.Lock()
        self._acks: dict[int, threading.Event] = {}
        self._connected = threading.Event()
        self.disconnected = threading.Event()
        self._subscriptions = list(subscriptions)
        session = {"clean_session": clean_session} if protocol != mqtt.MQTTv5 else {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or user, protocol=protocol,
                                  **session)
        self.client.username_pw_set(user, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.connect(host, port, clean_start=clean_session if protocol == mqtt.MQTTv5 else
                            mqtt.MQTT_CLEAN_START_FIRST_ONLY)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connect_result = reason_code.value
        self.session_present = flags.session_present
        if reason_code.is_failure:
            return
        with self._lock:
            self._acks = {}  # what the last connection never acknowledged, it never will
        if self._subscriptions:
            self._wait_subscribe(self._subscriptions)
        self._connected.set()

    def _on_disconnect(self, *_) -> None:
        self._connected.clear()
        self.disconnected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._lock:
            self.subacks[mid] = [code.value for code in reason_codes]
            event = self._acks.setdefault(mid, threading.Event())
        event.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            self.pubacks[mid] = reason_code.value

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.received.append((message.topic, bytes(message.payload)))

    def _wait_subscribe(self, topics) -> threading.Event:
        _, mid = self.client.subscribe(topics)
        with self._lock:
            return self._acks.setdefault(mid, threading.Event())

    def wait_connected(self, timeout: float = 10) -> None:
        assert self._connected.wait(timeout), f"no connection (CONNACK {self.connect_result})"
        with self._lock:
            pending = list(self._acks.values())
        for event in pending:
            assert event.wait(timeout), "no SUBACK"

    def flush(self, timeout: float = 10) -> None:
        """Return once everything the broker delivered to this client before now has arrived."""
        self.wait_connected(timeout)
        assert self._wait_subscribe([("cs/v1/flush", 0)]).wait(timeout), "no SUBACK to the flush"

    def topics(self, mark: bytes = b"") -> set[str]:
        with self._lock:
            return {topic for topic, payload in self.received if payload.startswith(mark)}

    def subscribe(self, topics: Sequence[tuple[str, int]], timeout: float = 10) -> list[int]:
        """Subscribe and wait for the SUBACK; its reason codes, one per topic (0x80: refused)."""
        _, mid = self.client.subscribe(list(topics))
        with self._lock:
            event = self._acks.setdefault(mid, threading.Event())
        assert event.wait(timeout), "no SUBACK"
        with self._lock:
            return self.subacks[mid]

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> int | None:
        """Publish; at QoS 1, return once the broker answered (or the connection ended), with the PUBACK's
        reason code (0 accepted, 0x87 not authorised: MQTT 5 only; MQTT 3.1.1 has none, always 0)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            # Refused at QoS 1: still a PUBACK (0x87), or, with some settings, the end of the connection.
            deadline = time.monotonic() + 10
            while not info.is_published() and not self.disconnected.is_set():
                assert time.monotonic() < deadline, f"no PUBACK for {topic}"
                time.sleep(0.01)
            with self._lock:
                return self.pubacks.get(info.mid)
        return None

    def publish_all(self, messages: Sequence[tuple[str, bytes]], timeout: float = 60) -> list[int | None]:
        """Publish each (topic, payload) at QoS 1 without waiting in between; once the broker answered them
        all, their PUBACK reason codes in order (see :meth:`publish`)."""
        infos = [self.client.publish(topic, payload, qos=1) for topic, payload in messages]
        deadline = time.monotonic() + timeout
        while not all(info.is_published() for info in infos) and not self.disconnected.is_set():
            assert time.monotonic() < deadline, "no PUBACK for every message"
            time.sleep(0.01)
        with self._lock:
            return [self.pubacks.get(info.mid) for info in infos]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def settle(*clients: LoginClient) -> None:
    """Flush each in turn: whatever the first published has reached the later ones."""
    for client in clients:
        client.flush()
