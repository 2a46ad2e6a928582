"""``edge-agent broker provision`` and ``central``/``revoke``: what they write, again and again, and bad input.

The command runs through the one ``edge-agent`` argparse tree (:func:`edge_agent.cli.run_command`). Promises:
secrets owner-only and nowhere else (not in the manifest, not in the log); a second run keeps every password,
the store CA, the server certificate and the bridge's key (devices keep working) and adds or drops devices;
the bridge waits for its certificate until central's CA signs it; the server certificate names the broker's
host and LAN address; and an agent given a device's credentials folder (as systemd's
``$CREDENTIALS_DIRECTORY``) connects to the provisioned broker over TLS on the LAN listener.
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from cryptography import x509

from edge_agent.agent import Agent
from edge_agent.cli import run_command
from edge_agent.config import parse_config
from edge_agent.credentials import Credentials
from edge_agent.provisioning import StorePlan, parse_devices, provision_store
from edge_agent.provisioning.certificates import read_crl_serials
from edge_agent.provisioning.mosquitto_config import (
    ACL_FILE,
    BRIDGE_CERT,
    BRIDGE_CONF,
    BRIDGE_KEY,
    BROKER_CERT,
    BROKER_KEY,
    CENTRAL_CRL,
    PASSWORD_FILE,
    STORE_CONF,
)
from edge_agent.provisioning.passwords import read_password_file, verify_password
from edge_agent.provisioning.store_broker import MANIFEST, PENDING_BRIDGE
from tests.support.mosquitto import Mosquitto, free_port

STORE = "store-0042"


def provision(out: Path, devices: str = "kiosk-1,shelf-3", *extra: str) -> int:
    return run_command(["broker", "provision", "--store", STORE, "--devices", devices, "--lan-address",
                        "192.168.42.2", "--out", str(out), *extra])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secrets_of(out: Path) -> dict[str, str]:
    return {str(path.relative_to(out)): path.read_text() for path in sorted((out / "credentials").rglob("*"))
            if path.is_file()}


def test_provision_writes_every_file_with_secrets_owner_only_and_no_secret_in_the_manifest(tmp_path, capsys,
                                                                                         caplog):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "store"
    assert provision(out) == 0
    assert "5 login(s)" in capsys.readouterr().out
    etc = out / "mosquitto"
    for private in (etc / PASSWORD_FILE, etc / BROKER_KEY, etc / BRIDGE_KEY, out / "store-ca" / "store-ca.key",
                    out / "credentials" / "console" / "console-https.key",
                    *(path for path in (out / "credentials").rglob("*-password"))):
        assert mode(private) == 0o600, private
    assert all(mode(folder) == 0o700 for folder in (out / "credentials").iterdir())
    hashes = read_password_file((etc / PASSWORD_FILE).read_text())
    assert set(hashes) == {"kiosk-1", "kiosk-1-screen", "shelf-3", "console", "central-bridge"}
    files = {"kiosk-1": ["broker-ca.pem", "kiosk-mqtt-password", "kiosk-mqtt-username", "mqtt-password",
                         "mqtt-username"],
             "shelf-3": ["broker-ca.pem", "mqtt-password", "mqtt-username"],
             "console": ["broker-ca.pem", "console-https.key", "console-https.pem", "mqtt-password", "mqtt-username"],
             "central-bridge": ["central-password", "central-username"]}
    assert {folder.name: sorted(p.name for p in folder.iterdir()) for folder in (out / "credentials").iterdir()} \
        == files
    assert verify_password((out / "credentials/kiosk-1/kiosk-mqtt-password").read_text().strip(),
                           hashes["kiosk-1-screen"])
    manifest = json.loads((out / MANIFEST).read_text())
    assert [(login["login"], login["role"]) for login in manifest["logins"]] == [
        ("kiosk-1", "agent"), ("kiosk-1-screen", "screen"), ("shelf-3", "shelf"), ("console", "console"),
        ("central-bridge", "central")]
    passwords = [path.read_text().strip() for path in (out / "credentials").rglob("*-password")]
    assert len(set(passwords)) == 5
    for password in passwords:
        assert password not in (out / MANIFEST).read_text()
        assert password not in caplog.text
        assert password not in (etc / ACL_FILE).read_text() + (etc / STORE_CONF).read_text()


def test_a_second_run_keeps_passwords_ca_certificates_and_hashes_and_adds_and_drops_devices(tmp_path):
    out = tmp_path / "store"
    assert provision(out) == 0
    etc = out / "mosquitto"
    before = secrets_of(out)
    kept = {name: (etc / name).read_bytes() for name in (PASSWORD_FILE, BROKER_CERT, BROKER_KEY, BRIDGE_KEY)}
    ca = (out / "store-ca" / "store-ca.pem").read_bytes()
    assert provision(out) == 0
    assert secrets_of(out) == before, "devices keep their credentials"
    assert {name: (etc / name).read_bytes() for name in kept} == kept
    assert (out / "store-ca" / "store-ca.pem").read_bytes() == ca
    assert provision(out, "kiosk-1,kiosk-2") == 0  # shelf-3 leaves, kiosk-2 comes
    after = secrets_of(out)
    assert {k: v for k, v in after.items() if k.startswith("credentials/kiosk-1/")} == \
        {k: v for k, v in before.items() if k.startswith("credentials/kiosk-1/")}
    assert not (out / "credentials" / "shelf-3").exists()
    assert "credentials/kiosk-2/mqtt-password" in after
    hashes = read_password_file((etc / PASSWORD_FILE).read_text())
    assert "shelf-3" not in hashes and "kiosk-2-screen" in hashes
    assert "user shelf-3" not in (etc / ACL_FILE).read_text()


def test_a_second_run_with_the_same_devices_changes_no_file(tmp_path):
    out, central = tmp_path / "store", tmp_path / "central"
    assert run_command(["broker", "central", "--address", "127.0.0.1", "--stores", STORE, "--out", str(central)]) == 0
    assert provision(out, "kiosk-1,shelf-3", "--central-ca", str(central)) == 0
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert provision(out, "kiosk-1,shelf-3", "--central-ca", str(central)) == 0
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before


def test_the_server_certificates_name_the_broker_and_console_and_are_made_again_when_the_lan_address_changes(tmp_path):
    out = tmp_path / "store"
    assert provision(out, "kiosk-1", "--hostname", "broker.winkel.lan") == 0
    cert = x509.load_pem_x509_certificate((out / "mosquitto" / BROKER_CERT).read_bytes())
    ca = x509.load_pem_x509_certificate((out / "store-ca" / "store-ca.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "broker.winkel.lan" in names.get_values_for_type(x509.DNSName)
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["192.168.42.2", "127.0.0.1"]
    cert.verify_directly_issued_by(ca)
    console = x509.load_pem_x509_certificate((out / "credentials" / "console" / "console-https.pem").read_bytes())
    console.verify_directly_issued_by(ca)
    console_names = console.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {f"console.{STORE}.local", "broker.winkel.lan"} <= set(console_names.get_values_for_type(x509.DNSName))
    assert "192.168.42.2" in [str(a) for a in console_names.get_values_for_type(x509.IPAddress)]
    assert run_command(["broker", "provision", "--store", STORE, "--devices", "kiosk-1", "--lan-address", "10.1.2.3",
                        "--hostname", "broker.winkel.lan", "--out", str(out)]) == 0
    again = x509.load_pem_x509_certificate((out / "mosquitto" / BROKER_CERT).read_bytes())
    assert again.serial_number != cert.serial_number
    assert "10.1.2.3" in [str(a) for a in again.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.IPAddress)]


def test_the_bridge_waits_for_its_certificate_until_centrals_ca_signs_it_and_revoke_lists_it(tmp_path, capsys):
    out, central = tmp_path / "store", tmp_path / "central"
    assert provision(out) == 0
    assert "waiting for its certificate" in capsys.readouterr().out
    assert (out / PENDING_BRIDGE).exists() and not (out / "mosquitto" / BRIDGE_CONF).exists()
    assert (out / "mosquitto" / "certs" / "bridge.csr").exists()
    assert run_command(["broker", "central", "--address", "127.0.0.1", "--stores", STORE, "--out", str(central)]) == 0
    assert provision(out, "kiosk-1,shelf-3", "--central-ca", str(central)) == 0
    assert "ready" in capsys.readouterr().out
    assert (out / "mosquitto" / BRIDGE_CONF).exists() and not (out / PENDING_BRIDGE).exists()
    bridge = x509.load_pem_x509_certificate((out / "mosquitto" / BRIDGE_CERT).read_bytes())
    assert bridge.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == f"bridge-{STORE}"
    assert run_command(["broker", "revoke", "--central", str(central), "--cert",
                        str(out / "mosquitto" / BRIDGE_CERT)]) == 0
    assert read_crl_serials(central / "mosquitto" / CENTRAL_CRL) == [bridge.serial_number]
    # Central provisioned again keeps what it revoked.
    assert run_command(["broker", "central", "--address", "127.0.0.1", "--stores", STORE, "--out", str(central)]) == 0
    assert read_crl_serials(central / "mosquitto" / CENTRAL_CRL) == [bridge.serial_number]


def test_revoking_a_certificate_central_did_not_issue_is_an_error_saying_so(tmp_path, capsys):
    out, central = tmp_path / "store", tmp_path / "central"
    assert run_command(["broker", "central", "--address", "127.0.0.1", "--out", str(central)]) == 0
    assert provision(out) == 0
    assert run_command(["broker", "revoke", "--central", str(central), "--cert",
                        str(out / "mosquitto" / BROKER_CERT)]) == 1
    assert "not issued by central's CA" in capsys.readouterr().err


@pytest.mark.parametrize(("devices", "code", "message"), [
    ("foo", 2, "device 'foo': say its kind"),
    ("kiosk-1:tablet", 2, "kind 'tablet'"),
    ("kiosk-1,kiosk-1", 1, "device 'kiosk-1' is listed twice"),
    ("console:kiosk", 1, "device 'console': reserved"),
    ("Kiosk-1:kiosk", 1, "device 'Kiosk-1': lowercase"),
])
def test_bad_devices_are_refused_naming_the_device_and_nothing_is_written(tmp_path, capsys, devices, code, message):
    try:
        result = provision(tmp_path / "store", devices)
    except SystemExit as exit_info:  # argparse's usage errors
        result = exit_info.code
    assert result == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_a_bad_address_is_an_error_saying_which_and_nothing_is_written(tmp_path, capsys):
    assert run_command(["broker", "provision", "--store", STORE, "--devices", "kiosk-1", "--lan-address", "nope",
                        "--out", str(tmp_path / "store")]) == 1
    assert "LAN address 'nope' is not an IP address" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_a_folder_of_another_store_is_refused_untouched(tmp_path, capsys):
    out = tmp_path / "store"
    assert provision(out) == 0
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert run_command(["broker", "provision", "--store", "store-0043", "--devices", "kiosk-1", "--lan-address",
                        "192.168.43.2", "--out", str(out)]) == 1
    assert "holds store store-0042's broker, not store-0043's" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before


def test_central_with_a_bad_address_or_store_is_an_error_saying_which(tmp_path, capsys):
    assert run_command(["broker", "central", "--address", "central.example", "--out", str(tmp_path / "c")]) == 1
    assert "central's address 'central.example' is not an IP address" in capsys.readouterr().err
    assert run_command(["broker", "central", "--address", "127.0.0.1", "--stores", "Store_1",
                        "--out", str(tmp_path / "c")]) == 1
    assert "store 'Store_1'" in capsys.readouterr().err


def test_an_agent_with_a_devices_credentials_folder_connects_over_tls_on_the_lan_listener(tmp_path):
    port, tls_port = free_port(), free_port()
    (tmp_path / "data").mkdir()
    plan = StorePlan(STORE, parse_devices("kiosk-1"), lan_address="127.0.0.2", port=port, tls_port=tls_port,
                     etc=str(tmp_path / "store" / "mosquitto"), persistence=f"{tmp_path / 'data'}/")
    store = provision_store(plan, tmp_path / "store")
    broker = Mosquitto.provisioned(store.etc, port=port, tls_port=tls_port, workdir=tmp_path / "broker").start()
    folder = store.credentials("kiosk-1")
    config = parse_config(
        f'[store]\nid = "{STORE}"\n[device]\nid = "kiosk-1"\n'
        f'[mqtt]\nhost = "127.0.0.2"\nport = {tls_port}\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
        f'[mqtt.tls]\nca_file = "{folder / "broker-ca.pem"}"\n'
        f'[database]\npath = "{tmp_path / "agent.db"}"\n', "<provisioned>")
    agent = Agent(config, Credentials({"CREDENTIALS_DIRECTORY": str(folder)}))
    agent.start()
    try:
        assert agent.link.wait_connected(60), agent.link.stats.last_error
        assert "as kiosk-1 " in broker.log()
    finally:
        agent.stop()
        broker.close()
