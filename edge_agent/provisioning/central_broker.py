"""Provisioning central's broker for the stores' bridges, and revoking a store: ``edge-agent broker central``.

The folder (``out``)::

    mosquitto/                          -> central's /etc/mosquitto
      conf.d/central.conf               TLS listener requiring a client certificate; loopback for central's systems
      central.acl                       each store's bridge reaches its own store's bridged topics only
      central.passwd                    central-systems (owner only)
      certs/central-ca.pem              central's CA: stores check central with it, central checks bridges
      certs/central.pem, central.key    central's server certificate (its host name and address)
      certs/central-ca.crl              the CRL Mosquitto checks (crlfile); :func:`revoke` adds to it
    ca/central-ca.pem, central-ca.key   central's CA (signs bridges: ``edge-agent broker provision --central-ca``)
    credentials/central-systems/        central-username, central-password

Run again, it keeps the CA, a server certificate that still fits, the password and the CRL's entries.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from .acl import CENTRAL_SYSTEMS_LOGIN, render_central_acl
from .certificates import CertificateAuthority, Issued, read_crl_serials, write_private, write_public
from .mosquitto_config import (
    CENTRAL_ACL,
    CENTRAL_CA,
    CENTRAL_CERT,
    CENTRAL_CONF,
    CENTRAL_CRL,
    CENTRAL_KEY,
    CENTRAL_PASSWORD_FILE,
    render_central_conf,
)
from .passwords import hash_password, new_password, password_file
from .plan import ID

logger = logging.getLogger(__name__)

CA_CERT, CA_KEY = "ca/central-ca.pem", "ca/central-ca.key"
CREDENTIALS = "credentials/" + CENTRAL_SYSTEMS_LOGIN


@dataclass
class ProvisionedCentral:
    """What :func:`provision_central` wrote; :attr:`ca` signs the stores' bridge certificates."""

    out: Path
    ca: CertificateAuthority
    password: str = field(repr=False)

    @property
    def etc(self) -> Path:
        return self.out / "mosquitto"

    def path(self, name: str) -> Path:
        """A file under :attr:`etc` (``CENTRAL_CONF``, ``CENTRAL_CRL``… of :mod:`.mosquitto_config`)."""
        return self.etc / name


def load_central_ca(folder: Path) -> CertificateAuthority:
    """Central's CA from a folder :func:`provision_central` wrote (or a folder holding central-ca.pem/.key).

    :raises ValueError: when the folder holds no central CA.
    """
    for cert, key in ((folder / CA_CERT, folder / CA_KEY), (folder / "central-ca.pem", folder / "central-ca.key")):
        if cert.exists() and key.exists():
            return CertificateAuthority.load(cert, key)
    raise ValueError(f"{folder}: no central CA there ({CA_CERT} and {CA_KEY}): run `edge-agent broker central`")


def provision_central(out: Path, *, address: str, hostname: str = "", stores: Sequence[str] = (),
                      port: int = 1883, tls_port: int = 8883, etc: str = "/etc/mosquitto",
                      persistence: str = "/var/lib/mosquitto/") -> ProvisionedCentral:
    """Write central's broker for ``stores`` into ``out`` (see the module's docstring).

    :param address: the address central's TLS listener binds; in its certificate with ``hostname``.
    :raises ValueError: for an address that is not an IP address or a store id that cannot be one.
    """
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"central's address {address!r} is not an IP address") from None
    for store in stores:
        if not ID.match(store):
            raise ValueError(f"store {store!r}: lowercase letters, digits and dashes")
    hostname = hostname or "central.connected-store.local"
    out.mkdir(parents=True, exist_ok=True)
    mosquitto = out / "mosquitto"
    if (out / CA_KEY).exists():
        ca = CertificateAuthority.load(out / CA_CERT, out / CA_KEY)
    else:
        ca = CertificateAuthority.create("connected-store central CA")
        ca.issued.save(out / CA_CERT, out / CA_KEY)
    write_public(mosquitto / CENTRAL_CA, ca.issued.cert_pem)

    server: Issued | None = None
    if (mosquitto / CENTRAL_KEY).exists():
        server = Issued.load(mosquitto / CENTRAL_CERT, mosquitto / CENTRAL_KEY)
        names = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if (server.cert.issuer != ca.cert.subject or not server.valid_for(30)
                or ipaddress.ip_address(address) not in names.get_values_for_type(x509.IPAddress)
                or hostname not in names.get_values_for_type(x509.DNSName)):
            server = None
    if server is None:
        server = ca.issue_server(hostname, dns_names=[hostname], ip_addresses=[address])
        server.save(mosquitto / CENTRAL_CERT, mosquitto / CENTRAL_KEY)

    # The CRL keeps what it revoked; a fresh one is signed on every run (Mosquitto refuses all on an old one).
    write_public(mosquitto / CENTRAL_CRL, ca.crl(read_crl_serials(mosquitto / CENTRAL_CRL)))

    password_path = out / CREDENTIALS / "central-password"
    password = password_path.read_text().strip() if password_path.exists() else new_password()
    write_private(mosquitto / CENTRAL_PASSWORD_FILE,
                  password_file({CENTRAL_SYSTEMS_LOGIN: hash_password(password)}).encode())
    (out / CREDENTIALS).mkdir(parents=True, exist_ok=True)
    (out / CREDENTIALS).chmod(0o700)
    write_private(out / CREDENTIALS / "central-username", (CENTRAL_SYSTEMS_LOGIN + "\n").encode())
    write_private(password_path, (password + "\n").encode())

    (mosquitto / "conf.d").mkdir(parents=True, exist_ok=True)
    (mosquitto / CENTRAL_CONF).write_text(render_central_conf(address, tls_port=tls_port, port=port, etc=etc,
                                                              persistence=persistence, stores=stores))
    (mosquitto / CENTRAL_ACL).write_text(render_central_acl(stores))
    logger.info("provisioned central's broker for %d store(s) into %s", len(stores), out)
    return ProvisionedCentral(out, ca, password)


def revoke(central: Path, certificate: Path) -> list[int]:
    """Add ``certificate`` (a store's bridge certificate, PEM) to central's CRL; the serials now revoked.

    Mosquitto reads its ``crlfile`` when it starts: restart central's broker to apply it.

    :raises ValueError: when the certificate was not issued by central's CA.
    """
    ca = load_central_ca(central)
    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    if cert.issuer != ca.cert.subject:
        raise ValueError(f"{certificate}: not issued by central's CA ({ca.cert.subject.rfc4514_string()})")
    crl = central / "mosquitto" / CENTRAL_CRL
    serials = sorted({*read_crl_serials(crl), cert.serial_number})
    write_public(crl, ca.crl(serials))
    logger.info("revoked %s (serial %x) in %s", cert.subject.rfc4514_string(), cert.serial_number, crl)
    return serials
