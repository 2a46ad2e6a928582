"""The link over TLS with a user name and password, against a real Mosquitto TLS listener.

A CA and a server certificate for 127.0.0.1 are made for the test with
`cryptography`; the password file with Mosquitto's own mosquitto_passwd. The
credentials reach the agent the way systemd hands them over:
$CREDENTIALS_DIRECTORY/mqtt-username and mqtt-password.
"""

from __future__ import annotations

import datetime
import ipaddress
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.credentials import Credentials
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.system import ensure_installed


def _write_key(key, path):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def make_pki(folder):
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connected-store test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, folder / "server.key")


@pytest.fixture
def tls_broker(tmp_path):
    make_pki(tmp_path)
    passwd = ensure_installed("mosquitto", binary="mosquitto_passwd")
    subprocess.run([passwd, "-b", "-c", str(tmp_path / "passwd"), "kiosk-1", "s3cret"], check=True)
    port = free_port()
    broker = Mosquitto(workdir=tmp_path / "broker", port=free_port(), extra=(
        f"listener {port} 127.0.0.1\n"
        f"cafile {tmp_path / 'ca.pem'}\ncertfile {tmp_path / 'server.pem'}\nkeyfile {tmp_path / 'server.key'}\n"
        f"password_file {tmp_path / 'passwd'}\n"))
    # Nobody without a password: the agent must log in.
    broker.config_path.write_text(broker.config_path.read_text().replace("allow_anonymous true",
                                                                         "allow_anonymous false"))
    broker.start()
    yield broker, port, tmp_path
    broker.close()


def tls_config(port, folder):
    return parse_config(
        f'[store]\nid = "store-tls"\n[device]\nid = "kiosk-1"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
        f'[mqtt.tls]\nca_file = "{folder / "ca.pem"}"\n'
        f'[database]\npath = "{folder / "agent.db"}"\n', "<tls>")


def test_agent_connects_over_tls_with_credentials_from_credentials_directory(tls_broker, tmp_path):
    _broker, port, folder = tls_broker
    secrets = tmp_path / "credentials"
    secrets.mkdir(mode=0o700)  # as systemd makes it: secrets others could read are refused
    (secrets / "mqtt-username").write_text("kiosk-1\n")
    (secrets / "mqtt-password").write_text("s3cret\n")
    agent = Agent(tls_config(port, folder), Credentials({"CREDENTIALS_DIRECTORY": str(secrets)}))
    agent.start()
    try:
        assert agent.link.wait_connected(10), agent.link.stats.last_error
    finally:
        agent.stop()


def test_wrong_password_is_refused_reported_and_retried_without_crash(tls_broker, caplog):
    _broker, port, folder = tls_broker
    agent = Agent(tls_config(port, folder), Credentials({"CS_MQTT_USERNAME": "kiosk-1", "CS_MQTT_PASSWORD": "nope"}))
    agent.start()
    try:
        assert not agent.link.wait_connected(2)
        assert "refused" in (agent.link.stats.last_error or "")
        assert agent.link.alive()
        assert "nope" not in caplog.text
    finally:
        agent.stop()
