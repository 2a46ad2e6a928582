"""Certificates for the store broker and the bridge: a CA, server and client certificates, and a CRL.

Two authorities, made with `cryptography` (EC P-256 keys, SHA-256 signatures):

- the **store CA** (one per store) signs the store broker's server certificate for its LAN listener
  (the broker's host name and LAN address in its subjectAltName); devices trust it (``broker-ca.pem``);
- **central's CA** signs central's server certificate and each store's bridge client certificate (its
  common name ``bridge-<store>`` is the bridge's login at central: ``use_identity_as_username``), and
  publishes a CRL (Mosquitto's ``crlfile``) to refuse a revoked store.

Validity can be set explicitly (``not_before``/``not_after``) so tests can make an expired certificate.
Private keys are written readable by their owner only (:func:`write_private`).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = datetime.timedelta(days=1)
#: Clocks of devices and brokers differ a little: certificates start a few minutes before they are made.
BACKDATE = datetime.timedelta(minutes=5)
CA_DAYS = 3650
LEAF_DAYS = 825
CRL_DAYS = 30


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Connected Store"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable and writable by its owner only (created so: never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


def write_public(path: Path, data: bytes) -> None:
    """Write ``data`` (a certificate, a CRL) to ``path``, readable by all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, 0o644)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)

    def save(self, cert_path: Path, key_path: Path) -> None:
        """Write the certificate (readable by all) and the key (owner only) as PEM."""
        write_public(cert_path, self.cert_pem)
        write_private(key_path, self.key_pem)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> Issued:
        """Read a PEM certificate and its PEM key.

        :raises ValueError: when a file is not PEM of the right kind or the key is not an EC key.
        """
        return cls(x509.load_pem_x509_certificate(cert_path.read_bytes()), load_key(key_path))

    def valid_for(self, days: float, now: datetime.datetime | None = None) -> bool:
        """Whether the certificate is valid now and still ``days`` from now."""
        now = now or _now()
        return self.cert.not_valid_before_utc <= now and self.cert.not_valid_after_utc > now + days * DAY


class CertificateAuthority:
    """A CA: its certificate and key, issuing leaf certificates and CRLs.

    :param issued: the CA's certificate and key.
    """

    def __init__(self, issued: Issued):
        self.issued = issued

    @property
    def cert(self) -> x509.Certificate:
        return self.issued.cert

    @classmethod
    def create(cls, common_name: str, *, days: int = CA_DAYS, now: datetime.datetime | None = None
               ) -> CertificateAuthority:
        """A new self-signed CA valid for ``days``, which may sign leaf certificates only (path length 0)."""
        now = now or _now()
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(common_name)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - BACKDATE).not_valid_after(now + days * DAY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                                             key_cert_sign=True, crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(Issued(cert, key))

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        """The CA saved at these paths (see :meth:`Issued.load`)."""
        return cls(Issued.load(cert_path, key_path))

    def _leaf(self, common_name: str, usage: x509.ObjectIdentifier, alt_names: Sequence[x509.GeneralName],
              not_before: datetime.datetime | None, not_after: datetime.datetime | None, days: int,
              key: ec.EllipticCurvePrivateKey | None = None) -> Issued:
        now = _now()
        start = not_before or now - BACKDATE
        key = key or ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(not_after or now + days * DAY)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=True, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issued.key.public_key()),
                                  critical=False))
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(alt_names)), critical=False)
        return Issued(builder.sign(self.issued.key, hashes.SHA256()), key)

    def issue_server(self, common_name: str, *, dns_names: Iterable[str] = (), ip_addresses: Iterable[str] = (),
                     not_before: datetime.datetime | None = None, not_after: datetime.datetime | None = None,
                     days: int = LEAF_DAYS) -> Issued:
        """A server certificate for these names and addresses (subjectAltName; clients check them).

        :raises ValueError: for an address that is not an IP address.
        """
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
        return self._leaf(common_name, ExtendedKeyUsageOID.SERVER_AUTH, names, not_before, not_after, days)

    def issue_client(self, common_name: str, *, not_before: datetime.datetime | None = None,
                     not_after: datetime.datetime | None = None, days: int = LEAF_DAYS,
                     key: ec.EllipticCurvePrivateKey | None = None) -> Issued:
        """A client certificate whose common name is the client's identity (its login at the broker).

        :param key: the client's existing key (a new one by default).
        """
        return self._leaf(common_name, ExtendedKeyUsageOID.CLIENT_AUTH, (), not_before, not_after, days, key)

    def crl(self, revoked: Iterable[x509.Certificate | int], *, days: int = CRL_DAYS) -> bytes:
        """A PEM CRL listing ``revoked`` (certificates or serial numbers), valid for ``days``.

        Mosquitto refuses every client while its ``crlfile`` is out of date: publish a new one before.
        """
        now = _now()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(now - BACKDATE).next_update(now + days * DAY))
        for item in revoked:
            serial = item if isinstance(item, int) else item.serial_number
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - BACKDATE).build())
        return builder.sign(self.issued.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def signing_request(common_name: str, key: ec.EllipticCurvePrivateKey) -> bytes:
    """A PEM certificate signing request for ``common_name`` with ``key``: what a store sends central when
    central's CA key is not at hand."""
    request = x509.CertificateSigningRequestBuilder().subject_name(_name(common_name)).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM)


def new_key() -> ec.EllipticCurvePrivateKey:
    """A new EC P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The PEM EC private key at ``path``.

    :raises ValueError: when it is not one.
    """
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an EC private key")
    return key


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """``key`` as unencrypted PKCS#8 PEM (write it with :func:`write_private`)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def read_crl_serials(path: Path) -> list[int]:
    """The serial numbers a PEM CRL lists (an absent file lists none)."""
    if not path.exists():
        return []
    return [entry.serial_number for entry in x509.load_pem_x509_crl(path.read_bytes())]
