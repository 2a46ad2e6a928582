"""The customer app's QR code: a signed, short-lived token (the format is in docs/app-qr.md).

The store's app shows a QR code that says "this is customer ``c-…``, until
``expiry``", signed by the app backend with an Ed25519 key. The agent holds
only public keys, so a stolen kiosk cannot mint tokens for anyone. The text
of the QR code is::

    CSA1:<base32 of: key id (1) | expiry (4) | hex digits (1) | customer (n) | signature (64)>

all in QR alphanumeric characters (upper-case base32 without padding), so the
code stays small (version 6 at error correction M for a 32-digit customer id)
and is read from a phone screen at arm's length.

:class:`AppTokenVerifier` checks a token and yields an :class:`AppIdentification`
with assurance ``app``, which goes through the same consent rules as a card
(:func:`edge_agent.identity.decide`). A bad token raises :class:`AppTokenError`
with a short reason: ``malformed``, ``unknown-key``, ``bad-signature``,
``expired``, ``expiry-too-far`` (a lifetime beyond ``max_ttl_s``: not an
app token the backend would issue) or ``replayed`` (the token was already
used: an app token is good for one presentation; a code held up in front of
the camera is one presentation, see :class:`~.barcodes.ScanDebouncer`).

Plain Python plus ``cryptography``; no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..identity import Assurance
from . import CameraError

PREFIX = "CSA1:"
DOMAIN = b"connected-store/app-qr/1\x00"  # signed before the body: a signature for nothing else fits
SIGNATURE_LENGTH = 64
CUSTOMER = re.compile(r"c-([0-9a-f]{16,64})")
_HEADER = struct.Struct(">BIB")  # key id, expiry (Unix seconds), number of hex digits of the customer id

# Reasons
MALFORMED = "malformed"
UNKNOWN_KEY = "unknown-key"
BAD_SIGNATURE = "bad-signature"
EXPIRED = "expired"
EXPIRY_TOO_FAR = "expiry-too-far"
REPLAYED = "replayed"
REASONS = (MALFORMED, UNKNOWN_KEY, BAD_SIGNATURE, EXPIRED, EXPIRY_TOO_FAR, REPLAYED)


class AppTokenError(CameraError):
    """An app QR token was refused; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class AppIdentification:
    """A verified app token: who, until when, with assurance ``app``."""

    customer: str
    expires: float  # Unix seconds
    key_id: int
    assurance: Assurance = Assurance.APP


def is_app_token(text: str) -> bool:
    """True when ``text`` claims to be an app token (it starts with ``CSA1:``); says nothing of its validity."""
    return text.startswith(PREFIX)


def _body(key_id: int, expires: int, customer: str) -> bytes:
    match = CUSTOMER.fullmatch(customer)
    if match is None:
        raise ValueError("customer must be c- and 16 to 64 lower-case hex digits")
    digits = match.group(1)
    if not 0 <= key_id <= 255:
        raise ValueError("key_id must be 0..255")
    if not 0 <= expires < 2 ** 32:
        raise ValueError("expires must fit in 32 bits of Unix seconds")
    padded = digits if len(digits) % 2 == 0 else "0" + digits
    return _HEADER.pack(key_id, expires, len(digits)) + bytes.fromhex(padded)


def issue_token(private_key: Ed25519PrivateKey, customer: str, ttl_s: float = 60, key_id: int = 1,
                now: float | None = None) -> str:
    """An app token for ``customer`` valid for ``ttl_s`` seconds: what the app backend issues.

    Here for the tests, the demo and as the reference for the backend.

    :raises ValueError: for a malformed customer id, key id or lifetime.
    """
    if ttl_s <= 0:
        raise ValueError("ttl_s must be > 0")
    expires = int((time.time() if now is None else now) + ttl_s)
    body = _body(key_id, expires, customer)
    signature = private_key.sign(DOMAIN + body)
    return PREFIX + base64.b32encode(body + signature).decode("ascii").rstrip("=")


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from 64 hex digits (its 32 raw bytes).

    :raises ValueError: when ``text`` is not such a key.
    """
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raise ValueError("an Ed25519 public key is 64 hex digits") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The 64 hex digits of a key's public half, as the configuration holds it."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def parse_token(text: str) -> tuple[int, int, str, bytes, bytes]:
    """``(key_id, expires, customer, signed_bytes, signature)`` of a token, unverified.

    :raises AppTokenError: ``malformed`` when it is not a well-formed token.
    """
    if not is_app_token(text):
        raise AppTokenError(MALFORMED, "not an app token")
    encoded = text[len(PREFIX):]
    if not encoded or len(encoded) > 200:
        raise AppTokenError(MALFORMED, "bad length")
    try:
        raw = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    except (binascii.Error, ValueError):
        raise AppTokenError(MALFORMED, "not base32") from None
    if len(raw) < _HEADER.size + 8 + SIGNATURE_LENGTH:
        raise AppTokenError(MALFORMED, "too short")
    key_id, expires, digits = _HEADER.unpack_from(raw)
    customer_bytes = (digits + 1) // 2
    if not 16 <= digits <= 64 or len(raw) != _HEADER.size + customer_bytes + SIGNATURE_LENGTH:
        raise AppTokenError(MALFORMED, "bad customer length")
    body = raw[:_HEADER.size + customer_bytes]
    hex_digits = body[_HEADER.size:].hex()
    if len(hex_digits) != digits and hex_digits[0] != "0":
        raise AppTokenError(MALFORMED, "bad customer padding")
    customer = "c-" + hex_digits[len(hex_digits) - digits:]
    return key_id, expires, customer, DOMAIN + body, raw[len(body):]


class AppTokenVerifier:
    """Verifies app tokens against the app backend's public keys.

    Thread-safe. Remembers the tokens it accepted until they expire, to refuse
    a second use.

    :param public_keys: key id (0..255) -> Ed25519 public key; several allow rotation.
    :param max_ttl_s: the longest lifetime a token may claim; a later expiry is refused.
    :param leeway_s: clock difference allowed between the backend and this agent.
    :param now: the clock, Unix seconds; replaceable in tests.
    :raises ValueError: without keys, or with a key id outside 0..255.
    """

    def __init__(self, public_keys: Mapping[int, Ed25519PublicKey], max_ttl_s: float = 300, leeway_s: float = 10,
                 now: Callable[[], float] = time.time):
        if not public_keys:
            raise ValueError("an app token verifier needs at least one public key")
        if any(not 0 <= key_id <= 255 for key_id in public_keys):
            raise ValueError("key ids are 0..255")
        self._keys = dict(public_keys)
        self.max_ttl_s = max_ttl_s
        self.leeway_s = leeway_s
        self._now = now
        self._used: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def verify(self, text: str) -> AppIdentification:
        """The identification in a token, checked.

        :raises AppTokenError: with the reason the token is refused.
        """
        key_id, expires, customer, signed, signature = parse_token(text)
        key = self._keys.get(key_id)
        if key is None:
            raise AppTokenError(UNKNOWN_KEY, f"key id {key_id}")
        try:
            key.verify(signature, signed)
        except InvalidSignature:
            raise AppTokenError(BAD_SIGNATURE) from None
        now = self._now()
        if expires + self.leeway_s < now:
            raise AppTokenError(EXPIRED, f"{now - expires:.0f} s ago")
        if expires - now > self.max_ttl_s + self.leeway_s:
            raise AppTokenError(EXPIRY_TOO_FAR, f"valid for {expires - now:.0f} s")
        digest = hashlib.sha256(signature).digest()[:16]
        with self._lock:
            for used, until in list(self._used.items()):
                if until + self.leeway_s < now:
                    del self._used[used]
            if digest in self._used:
                raise AppTokenError(REPLAYED)
            self._used[digest] = expires
        return AppIdentification(customer=customer, expires=float(expires), key_id=key_id)
