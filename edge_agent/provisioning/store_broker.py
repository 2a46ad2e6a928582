"""Provisioning a store broker into a folder: what ``edge-agent broker provision`` writes, and how to re-run it.

The folder (``out``)::

    mosquitto/                      -> the broker's /etc/mosquitto (plan.etc), as laid out there
      conf.d/connected-store.conf   the broker (listeners on loopback and the LAN address, logins, ACL)
      connected-store.acl           every login's topics, from the contract
      connected-store.passwd        PBKDF2-SHA512 hashes (owner only)
      conf.d/central-bridge.conf    the TLS bridge to central (only once its certificate is signed)
      certs/broker.pem, broker.key  the LAN listener's server certificate (store CA), key owner only
      certs/store-ca.pem            the store CA's certificate
      certs/central-ca.pem          central's CA (to check central), with the bridge's
      certs/bridge.pem, bridge.key  client certificate (bridge-<store>, signed by central's CA)
      certs/bridge.csr              the bridge's signing request, for central to sign
    pending/central.conf            the bridge, while its certificate is not signed yet
    store-ca/store-ca.pem, .key     the store CA (keep the key off the broker once provisioned)
    credentials/<device>/           what each device's services read from $CREDENTIALS_DIRECTORY:
                                    mqtt-username, mqtt-password (its agent), kiosk-mqtt-username and
                                    kiosk-mqtt-password (its kiosk app), broker-ca.pem (to check the broker)
    credentials/console/            mqtt-username, mqtt-password, broker-ca.pem, and console-https.pem, .key:
                                    the console's HTTPS certificate (store CA; console.<store>.local, LAN address)
    credentials/central-bridge/     central-username, central-password (`edge-agent central push`)
    provisioned.json                the store, its devices and logins with their roles (no secret)

Run again on the same folder, it keeps what is there and still fits: the store CA, server certificates
that name the same host and address and are valid for 30 more days, every existing login's password (so
devices need no new credentials) and the bridge's key; it adds new devices' logins and drops those of
devices no longer listed. Everything secret is written owner-only.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..contract.roles import Role
from .acl import render_acl
from .certificates import (
    CertificateAuthority,
    Issued,
    key_pem,
    load_key,
    new_key,
    signing_request,
    write_private,
    write_public,
)
from .mosquitto_config import (
    ACL_FILE,
    BRIDGE_CERT,
    BRIDGE_CONF,
    BRIDGE_KEY,
    BROKER_CERT,
    BROKER_KEY,
    CENTRAL_CA,
    PASSWORD_FILE,
    STORE_CA,
    STORE_CONF,
    render_bridge_conf,
    render_store_conf,
)
from .passwords import hash_password, new_password, password_file, read_password_file, verify_password
from .plan import CENTRAL_LOGIN, CONSOLE_LOGIN, Login, StorePlan

logger = logging.getLogger(__name__)

#: A server certificate is made again when it ends sooner than this.
RENEW_DAYS = 30
BRIDGE_CSR = "certs/bridge.csr"
PENDING_BRIDGE = "pending/central.conf"
STORE_CA_CERT, STORE_CA_KEY = "store-ca/store-ca.pem", "store-ca/store-ca.key"
BROKER_CA_FILE = "broker-ca.pem"
CONSOLE_CERT, CONSOLE_KEY = "console-https.pem", "console-https.key"
MANIFEST = "provisioned.json"


@dataclass(frozen=True)
class CredentialFiles:
    """Where one login's user name and password go: ``credentials/<folder>/<username file>``."""

    folder: str
    username: str
    password: str


def credential_files(login: Login) -> CredentialFiles:
    """The credential files of ``login`` (the names the agent, the kiosk and the tools read)."""
    if login.role is Role.SCREEN:
        return CredentialFiles(login.device or login.name, "kiosk-mqtt-username", "kiosk-mqtt-password")
    if login.role is Role.CENTRAL:
        return CredentialFiles(login.name, "central-username", "central-password")
    return CredentialFiles(login.device or login.name, "mqtt-username", "mqtt-password")


@dataclass
class ProvisionedStore:
    """What :func:`provision_store` wrote.

    :ivar passwords: login -> password (also in the credentials folders).
    :ivar bridge_ready: whether the bridge's certificate is signed and ``conf.d/central-bridge.conf`` written.
    """

    plan: StorePlan
    out: Path
    passwords: dict[str, str] = field(repr=False)
    bridge_ready: bool

    @property
    def etc(self) -> Path:
        """The folder that becomes the broker's /etc/mosquitto."""
        return self.out / "mosquitto"

    def path(self, name: str) -> Path:
        """A file under :attr:`etc` (one of :mod:`.mosquitto_config`'s names: ``STORE_CONF``, ``ACL_FILE``…)."""
        return self.etc / name

    def credentials(self, login: str) -> Path:
        """The credentials folder of ``login``'s device (or of the console, or central)."""
        return self.out / "credentials" / credential_files(self.plan.login(login)).folder

    @property
    def store_ca(self) -> Path:
        """The store CA's certificate (what devices check the broker's LAN listener with)."""
        return self.out / STORE_CA_CERT


def _existing_passwords(out: Path, plan: StorePlan) -> dict[str, str]:
    found = {}
    for login in plan.logins:
        files = credential_files(login)
        path = out / "credentials" / files.folder / files.password
        if path.exists():
            found[login.name] = path.read_text().strip()
    return found


def _server_fits(issued: Issued, ca: CertificateAuthority, hostname: str, address: str) -> bool:
    try:
        names = issued.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return (issued.cert.issuer == ca.cert.subject and issued.valid_for(RENEW_DAYS)
            and hostname in names.get_values_for_type(x509.DNSName)
            and ipaddress.ip_address(address) in names.get_values_for_type(x509.IPAddress))


def _server_certificate(cert: Path, key: Path, ca: CertificateAuthority, hostname: str, address: str,
                        also: tuple[str, ...] = ()) -> None:
    """Keep the server certificate at ``cert``/``key`` while it is ``ca``'s, names ``hostname`` and ``address``
    and has 30 days left; issue a new one otherwise (also naming ``also`` and loopback)."""
    if key.exists() and cert.exists() and _server_fits(Issued.load(cert, key), ca, hostname, address):
        return
    ca.issue_server(hostname, dns_names=[hostname, *also, "localhost"], ip_addresses=[address, "127.0.0.1"]).save(
        cert, key)


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _requests_for(path: Path, key: ec.EllipticCurvePrivateKey, name: str) -> bool:
    request = x509.load_pem_x509_csr(path.read_bytes())
    public = request.public_key()
    return (isinstance(public, ec.EllipticCurvePublicKey) and _public_bytes(public) == _public_bytes(key.public_key())
            and request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name)


def _bridge_fits(path: Path, central_ca: CertificateAuthority, key: ec.EllipticCurvePrivateKey, name: str) -> bool:
    """Whether the bridge certificate at ``path`` is central's, for this key and name, and not ending soon (a
    second run must not replace it: central may have listed it, and it keeps what it has)."""
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    public = cert.public_key()
    return (cert.issuer == central_ca.cert.subject and isinstance(public, ec.EllipticCurvePublicKey)
            and _public_bytes(public) == _public_bytes(key.public_key())
            and cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
            and Issued(cert, key).valid_for(RENEW_DAYS))


def provision_store(plan: StorePlan, out: Path, *, central_ca: CertificateAuthority | None = None
                    ) -> ProvisionedStore:
    """Write everything ``plan``'s store broker and devices need into ``out`` (see the module's docstring).

    :param central_ca: central's CA, to sign the bridge's client certificate; without it the bridge's key and
        signing request are written and its configuration waits in ``pending/``.
    :raises ValueError: when ``out`` holds another store's broker, or a file already there cannot be read as
        what it should be.
    """
    if (out / MANIFEST).exists():
        try:
            earlier = json.loads((out / MANIFEST).read_text()).get("store")
        except (ValueError, AttributeError):
            raise ValueError(f"{out / MANIFEST}: not what `edge-agent broker provision` writes") from None
        if earlier != plan.store:
            raise ValueError(f"{out} holds store {earlier}'s broker, not {plan.store}'s: give another --out")
    out.mkdir(parents=True, exist_ok=True)
    etc = out / "mosquitto"

    # The store CA, kept across runs: every device trusts it.
    if (out / STORE_CA_KEY).exists():
        store_ca = CertificateAuthority.load(out / STORE_CA_CERT, out / STORE_CA_KEY)
    else:
        store_ca = CertificateAuthority.create(f"{plan.store} store CA")
        store_ca.issued.save(out / STORE_CA_CERT, out / STORE_CA_KEY)
    write_public(etc / STORE_CA, store_ca.issued.cert_pem)

    _server_certificate(etc / BROKER_CERT, etc / BROKER_KEY, store_ca, plan.broker_hostname, plan.lan_address)

    # Logins: keep a password that is there, make the others; keep a hash that still matches it.
    passwords = _existing_passwords(out, plan)
    old_hashes = read_password_file((etc / PASSWORD_FILE).read_text()) if (etc / PASSWORD_FILE).exists() else {}
    hashes = {}
    for login in plan.logins:
        password = passwords.setdefault(login.name, new_password())
        old = old_hashes.get(login.name)
        hashes[login.name] = old if old and verify_password(password, old) else hash_password(password)
    write_private(etc / PASSWORD_FILE, password_file(hashes).encode())
    credentials = out / "credentials"
    listed = {credential_files(login).folder for login in plan.logins}
    if credentials.exists():
        for folder in credentials.iterdir():
            if folder.name not in listed:  # a device no longer in the store: its login is gone too
                shutil.rmtree(folder)
    for login in plan.logins:
        files = credential_files(login)
        folder = credentials / files.folder
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        write_private(folder / files.username, (login.name + "\n").encode())
        write_private(folder / files.password, (passwords[login.name] + "\n").encode())
        if login.name != CENTRAL_LOGIN:
            write_public(folder / BROKER_CA_FILE, store_ca.issued.cert_pem)
    # The store console serves HTTPS beside the broker, on the same LAN address (issue 16): its certificate.
    console = credentials / credential_files(plan.login(CONSOLE_LOGIN)).folder
    _server_certificate(console / CONSOLE_CERT, console / CONSOLE_KEY, store_ca, plan.console_hostname,
                        plan.lan_address, also=(plan.broker_hostname,))

    (etc / "conf.d").mkdir(parents=True, exist_ok=True)
    (etc / STORE_CONF).write_text(render_store_conf(plan))
    (etc / ACL_FILE).write_text(render_acl(plan))

    # The bridge: its key stays; its certificate comes from central's CA.
    if (etc / BRIDGE_KEY).exists():
        bridge_key = load_key(etc / BRIDGE_KEY)
    else:
        bridge_key = new_key()
        write_private(etc / BRIDGE_KEY, key_pem(bridge_key))
    if not (etc / BRIDGE_CSR).exists() or not _requests_for(etc / BRIDGE_CSR, bridge_key, plan.bridge_client_id):
        write_public(etc / BRIDGE_CSR, signing_request(plan.bridge_client_id, bridge_key))
    bridge_ready = False
    if central_ca is not None:
        if not _bridge_fits(etc / BRIDGE_CERT, central_ca, bridge_key, plan.bridge_client_id):
            bridge = central_ca.issue_client(plan.bridge_client_id, key=bridge_key)
            write_public(etc / BRIDGE_CERT, bridge.cert_pem)
        write_public(etc / CENTRAL_CA, central_ca.issued.cert_pem)
    if (etc / BRIDGE_CERT).exists() and (etc / CENTRAL_CA).exists():
        bridge_ready = True
        (etc / BRIDGE_CONF).write_text(render_bridge_conf(plan))
        (out / PENDING_BRIDGE).unlink(missing_ok=True)
    else:
        (etc / BRIDGE_CONF).unlink(missing_ok=True)
        (out / "pending").mkdir(exist_ok=True)
        (out / PENDING_BRIDGE).write_text(render_bridge_conf(plan))
        logger.warning("the bridge to central waits for its certificate: have central sign %s, or provision "
                       "again with central's CA", etc / BRIDGE_CSR)

    manifest = {"store": plan.store, "lan_address": plan.lan_address, "hostname": plan.broker_hostname,
                "central_address": plan.central_address, "bridge_ready": bridge_ready,
                "devices": [{"id": d.id, "kind": d.kind} for d in plan.devices],
                "logins": [{"login": login.name, "role": str(login.role), "device": login.device,
                            "credentials": f"credentials/{credential_files(login).folder}"}
                           for login in plan.logins]}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    logger.info("provisioned store %s (%d devices, %d logins) into %s", plan.store, len(plan.devices),
                len(plan.logins), out)
    return ProvisionedStore(plan, out, passwords, bridge_ready)


__all__ = ["BRIDGE_CSR", "MANIFEST", "PENDING_BRIDGE", "CredentialFiles", "ProvisionedStore", "credential_files",
           "provision_store"]
