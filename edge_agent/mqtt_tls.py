"""TLS to an MQTT broker, for the paho clients of the agent and the kiosk alike.

The store broker (``edge-agent broker provision``, docs/broker.md) speaks plain
MQTT on loopback only and TLS on the store LAN, so a device whose broker runs
on another Pi connects over TLS, checking the broker against the store CA
(``broker-ca.pem`` in the device's credentials). Both configurations have the
same ``[mqtt.tls]`` table (:class:`TlsConfig`); :func:`use_tls` sets a client up
from it, and :func:`tls_file_problems` says which of its files cannot be used,
so a configuration check can name them before a connection fails on them.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, Field, model_validator


class TlsConfig(BaseModel):
    """The ``[mqtt.tls]`` table: connect with TLS, the broker checked against ``ca_file`` and its name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: Path | None = Field(None,
                                 description="CA bundle that signed the broker's certificate; system CAs when empty.")
    cert_file: Path | None = Field(None, description="Client certificate for mutual TLS.")
    key_file: Path | None = Field(None, description="Private key of the client certificate.")
    insecure: bool = Field(False, description="Skip host name verification. For lab use only.")

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


def use_tls(client: mqtt.Client, tls: TlsConfig | None) -> None:
    """Make ``client`` connect with TLS as ``tls`` says (nothing when None): the broker's certificate must
    chain to ``ca_file`` (the system CAs without one) and, unless ``insecure``, name the host connected to.

    :raises OSError: when a file cannot be read (see :func:`tls_file_problems`).
    :raises ssl.SSLError: when a file is not a certificate or key.
    """
    if tls is None:
        return
    client.tls_set(ca_certs=str(tls.ca_file) if tls.ca_file else None,
                   certfile=str(tls.cert_file) if tls.cert_file else None,
                   keyfile=str(tls.key_file) if tls.key_file else None,
                   cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.tls_insecure_set(tls.insecure)


def tls_file_problems(tls: TlsConfig | None) -> list[tuple[str, str]]:
    """The files of ``tls`` that cannot be used: ``(key, what is wrong)`` per file, key as in the table
    (``ca_file``); empty when every named file is readable and holds what it should."""
    if tls is None:
        return []
    problems: list[tuple[str, str]] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if tls.ca_file is not None:
        reason = _unreadable(tls.ca_file)
        if reason is None:
            try:
                context.load_verify_locations(cafile=str(tls.ca_file))
            except ssl.SSLError:
                reason = "holds no PEM certificate"
        if reason is not None:
            problems.append(("ca_file", f"cannot use {tls.ca_file}: {reason}"))
    if tls.cert_file is not None and tls.key_file is not None:
        unreadable = [(key, f"cannot use {path}: {reason}")
                      for key, path in (("cert_file", tls.cert_file), ("key_file", tls.key_file))
                      if (reason := _unreadable(path)) is not None]
        problems.extend(unreadable)
        if not unreadable:
            try:
                context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
            except ssl.SSLError:
                reason = f"{tls.cert_file} and {tls.key_file} are not a certificate and its key (PEM)"
                problems.append(("cert_file", reason))
    return problems


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be read (its error, without the path), or None."""
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


__all__ = ["TlsConfig", "tls_file_problems", "use_tls"]
