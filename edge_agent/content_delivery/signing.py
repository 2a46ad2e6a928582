"""Signing and checking content pack manifests: Ed25519 over the canonical manifest, keys chosen by key id.

Central signs a pack's manifest with its content key; an agent holds only
public keys (``[content] public_keys``, several at once so a key can be
rotated: the new one is added to every agent before central signs with it, the
old one removed after). The signed bytes are
:data:`~edge_agent.contract.payloads_content_delivery.SIGNATURE_DOMAIN`
followed by :func:`canonical_manifest` (the rules are in
:mod:`edge_agent.contract.payloads_content_delivery`); ``edge-agent content
build`` and the agent share this one implementation. Keys are written as the
app QR code keys are (:mod:`edge_agent.camera.app_qr`): 64 hex digits of the
raw public key.

A manifest that is unsigned, signed by a key this agent does not hold, or
whose signature does not verify raises :class:`ManifestRefused` with a short
``code`` (``unsigned``, ``unknown-key``, ``bad-signature``) and a reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from ..camera.app_qr import public_key_from_hex, public_key_hex
from ..contract.payloads_content_delivery import SIGNATURE_DOMAIN, ContentPackManifest

__all__ = ["ManifestRefused", "ManifestVerifier", "canonical_manifest", "generate_key", "load_private_key",
           "public_key_from_hex", "public_key_hex", "sign_manifest", "signed_bytes", "write_private_key"]

UNSIGNED = "unsigned"
UNKNOWN_KEY = "unknown-key"
BAD_SIGNATURE = "bad-signature"


class ManifestRefused(Exception):
    """A manifest the agent does not accept; ``code`` says which check, the message why."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def canonical_manifest(manifest: ContentPackManifest | Mapping[str, Any]) -> bytes:
    """The canonical JSON of a manifest: without ``signature``, keys sorted, no whitespace, UTF-8."""
    data = manifest.model_dump(mode="json") if isinstance(manifest, ContentPackManifest) else dict(manifest)
    data.pop("signature", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_bytes(manifest: ContentPackManifest | Mapping[str, Any]) -> bytes:
    """What the signature is over: the domain line, then the canonical manifest."""
    return SIGNATURE_DOMAIN + canonical_manifest(manifest)


def sign_manifest(manifest: Mapping[str, Any], private_key: Ed25519PrivateKey, key_id: str) -> dict[str, Any]:
    """``manifest`` with ``key_id`` and its ``signature`` set (central's side; the demo and the tests).

    The manifest is validated first, so what is signed is what an agent will check.

    :raises pydantic.ValidationError: when the manifest does not fit the contract.
    """
    unsigned = {**manifest, "key_id": key_id, "signature": None}
    model = ContentPackManifest.model_validate(unsigned)
    return {**model.model_dump(mode="json"), "signature": private_key.sign(signed_bytes(model)).hex()}


class ManifestVerifier:
    """Checks manifests against the content keys this agent holds.

    :param public_keys: key id -> public key; several allow rotation. Empty: every manifest is refused.
    """

    def __init__(self, public_keys: Mapping[str, Ed25519PublicKey]):
        self._keys = dict(public_keys)

    @classmethod
    def from_hex(cls, public_keys: Mapping[str, str]) -> ManifestVerifier:
        """A verifier from the configuration's key id -> 64 hex digits.

        :raises ValueError: for a key that is not 64 hex digits.
        """
        return cls({key_id: public_key_from_hex(text) for key_id, text in public_keys.items()})

    @property
    def key_ids(self) -> list[str]:
        """The ids of the keys held, sorted."""
        return sorted(self._keys)

    def verify(self, manifest: ContentPackManifest) -> None:
        """Return when ``manifest`` is signed by a key held here.

        :raises ManifestRefused: unsigned, an unknown key id, or a signature that does not verify.
        """
        if manifest.signature is None:
            raise ManifestRefused(UNSIGNED, f"pack {manifest.pack} version {manifest.version}: unsigned")
        key = self._keys.get(manifest.key_id)
        if key is None:
            held = ", ".join(self.key_ids) or "none"
            raise ManifestRefused(UNKNOWN_KEY, f"pack {manifest.pack} version {manifest.version}: signed by key "
                                               f"{manifest.key_id!r}, which this device does not hold (held: {held})")
        try:
            key.verify(bytes.fromhex(manifest.signature), signed_bytes(manifest))
        except InvalidSignature:
            raise ManifestRefused(BAD_SIGNATURE, f"pack {manifest.pack} version {manifest.version}: the signature "
                                                 f"does not verify with key {manifest.key_id!r}") from None


def generate_key() -> Ed25519PrivateKey:
    """A new content key."""
    return Ed25519PrivateKey.generate()


def write_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, readable by its owner only.

    :raises FileExistsError: when ``path`` exists (a key is never overwritten).
    """
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with open(path, "xb") as handle:
        path.chmod(0o600)
        handle.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The content key in ``path`` (PKCS#8 PEM, unencrypted).

    :raises ValueError: when the file holds no Ed25519 private key, naming the file.
    """
    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 key")
    return key
