"""NTAG 424 DNA Secure Unique NFC (SUN) messages, AES-128 mode (NXP AN12196).

A card personalised for SUN answers every read of its NDEF URL with two fresh
values mirrored into the URL:

- ``picc_data`` (or ``e``): ``PICCENCData``, 16 bytes as 32 hex characters:
  ``AES-128-CBC(SDMMetaReadKey, IV=0, PICCDataTag || UID || SDMReadCtr || RandomPadding)``.
  ``PICCDataTag`` bit 7 = UID mirrored, bit 6 = SDMReadCtr mirrored, bits 5..4
  RFU, bits 3..0 = UID length (7). ``SDMReadCtr`` is 3 bytes, least
  significant byte first; the remaining 5 bytes are random.
- ``cmac`` (or ``c``): ``SDMMAC``, 8 bytes as 16 hex characters. The session key
  ``KSesSDMFileReadMAC = CMAC(SDMFileReadKey, SV2)`` with
  ``SV2 = 3CC3 0001 0080 || UID || SDMReadCtr`` (zero padded to a block; with a
  7-byte UID and the counter it is exactly one block), then
  ``SDMMAC = MACt(KSesSDMFileReadMAC, MAC input)``, where ``MACt`` keeps the
  bytes at odd indices (1, 3, ..., 15) of the 16-byte CMAC. The MAC input is
  empty when the card is configured with ``SDMMACInputOffset == SDMMACOffset``.

The ``SDMMetaReadKey`` is shared by all cards (the UID is only known after
decryption); the ``SDMFileReadKey`` is per card, diversified from a master key
with NXP AN10922 AES-128 (see :class:`SunKeys`). Checked against the worked
examples of AN12196 and AN10922 in ``tests/test_sun.py``; ``docs/sun.md``
explains the scheme.

Privacy: a UID is personal data. Nothing here logs, and no exception message,
``repr`` or ``str`` of a result carries a UID or a key.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from ..credentials import Credentials
from ..errors import CredentialError, EdgeAgentError

KEY_LENGTH = 16
UID_LENGTH = 7
COUNTER_LENGTH = 3
COUNTER_MAX = 0xFFFFFF
PICC_DATA_LENGTH = 16
MAC_LENGTH = 8
PADDING_LENGTH = PICC_DATA_LENGTH - 1 - UID_LENGTH - COUNTER_LENGTH  # 5 random bytes

SV2_PREFIX = bytes.fromhex("3CC300010080")

TAG_UID_MIRRORED = 0x80
TAG_COUNTER_MIRRORED = 0x40
TAG_RFU = 0x30
TAG_UID_LENGTH_MASK = 0x0F
PICC_DATA_TAG = TAG_UID_MIRRORED | TAG_COUNTER_MIRRORED | UID_LENGTH  # 0xC7

AN10922_AES128_CONSTANT = 0x01
DEFAULT_SYSTEM_IDENTIFIER = b"ConnectedStore"
# AN10922 diversification input M is 1..31 bytes; M = UID || system identifier.
MAX_SYSTEM_IDENTIFIER_LENGTH = 31 - UID_LENGTH

# naming -> (encrypted PICC data parameter, MAC parameter)
PARAMETER_NAMES = {"picc_data": ("picc_data", "cmac"), "e": ("e", "c")}
# An NTAG 424 DNA NDEF file holds 256 bytes: anything much longer is not a card's URL.
MAX_URL_LENGTH = 2048
_MAX_QUERY_FIELDS = 64

SUN_META_READ_KEY = "sun-meta-read-key"
SUN_FILE_READ_MASTER_KEY = "sun-file-read-master-key"

REASON_BAD_URL = "bad-url"
REASON_MISSING_PARAMETER = "missing-parameter"
REASON_DUPLICATE_PARAMETER = "duplicate-parameter"
REASON_BAD_HEX = "bad-hex"
REASON_BAD_LENGTH = "bad-length"
REASON_BAD_PICC_TAG = "bad-picc-tag"
REASON_BAD_MAC = "bad-mac"
REASON_REPLAYED_COUNTER = "replayed-counter"

_HEX = re.compile(r"[0-9A-Fa-f]*")


class SunError(EdgeAgentError):
    """A SUN message was rejected. ``reason`` is one of the ``REASON_*`` strings."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(f"{reason}: {message}")


class SunFormatError(SunError):
    """The URL or one of its SUN parameters is malformed (``bad-url``,
    ``missing-parameter``, ``duplicate-parameter``, ``bad-hex``, ``bad-length``)."""


class SunPiccDataError(SunError):
    """The decrypted PICCData has an unusable ``PICCDataTag`` (``bad-picc-tag``):
    a wrong SDMMetaReadKey, a tampered message, or a card mirroring something
    other than a 7-byte UID and the read counter."""


class SunMacError(SunError):
    """The SDMMAC does not match (``bad-mac``): tampered, forged or wrong file key."""


class SunReplayError(SunError):
    """An authentic message whose counter is not above the last one seen
    (``replayed-counter``). ``uid`` and ``counter`` are authentic; they are
    attributes only, never part of the message."""

    def __init__(self, uid: bytes, counter: int, last_counter: int):
        self.uid = uid
        self.counter = counter
        self.last_counter = last_counter
        super().__init__(
            REASON_REPLAYED_COUNTER,
            f"read counter {counter} is not above the last accepted counter {last_counter}",
        )


@dataclass(frozen=True)
class PiccData:
    """Decrypted PICCData. ``uid`` is left out of ``repr`` (personal data)."""

    uid: bytes = field(repr=False)
    counter: int
    tag: int = PICC_DATA_TAG


@dataclass(frozen=True)
class SunResult:
    """A verified SUN message. ``uid`` is left out of ``repr`` (personal data)."""

    uid: bytes = field(repr=False)
    counter: int


# --- primitives -----------------------------------------------------------


def _aes_cbc(key: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(bytes(16)))
    context = cipher.decryptor() if decrypt else cipher.encryptor()
    return context.update(data) + context.finalize()


def _cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_LENGTH:
        raise ValueError(f"{what} must be {KEY_LENGTH} bytes")


def _check_uid(uid: bytes) -> None:
    if not isinstance(uid, (bytes, bytearray)) or len(uid) != UID_LENGTH:
        raise ValueError(f"a UID must be {UID_LENGTH} bytes")


def _check_counter(counter: int) -> None:
    if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter <= COUNTER_MAX:
        raise ValueError(f"a read counter is an integer from 0 to {COUNTER_MAX}")


def cmac_subkeys(key: bytes) -> tuple[bytes, bytes]:
    """The CMAC subkeys ``(K1, K2)`` of an AES-128 key (NIST SP 800-38B, AN10922 steps 3-4).

    :raises ValueError: when ``key`` is not 16 bytes.
    """
    _check_key(key, "the key")

    def double(block: int) -> int:
        shifted = (block << 1) & ((1 << 128) - 1)
        return shifted ^ 0x87 if block >> 127 else shifted

    k0 = int.from_bytes(_aes_cbc(key, bytes(16)), "big")
    k1 = double(k0)
    k2 = double(k1)
    return k1.to_bytes(16, "big"), k2.to_bytes(16, "big")


def an10922_diversify(master_key: bytes, diversification_input: bytes) -> bytes:
    """AES-128 key diversification per NXP AN10922 section 2.2.

    ``D = 0x01 || M``, padded with ``80 00..`` to 32 bytes when shorter (and then
    the last block XORed with K2, else with K1), CBC-encrypted under the master
    key with a zero IV; the last block is the diversified key. For ``M`` of 16
    bytes or more this equals standard AES-CMAC of ``0x01 || M``; for shorter
    ``M`` it does not (AN10922 pads even a one-block input to two blocks).

    :param master_key: 16-byte AES master key.
    :param diversification_input: ``M``, 1 to 31 bytes (e.g. UID || AID || system identifier).
    :raises ValueError: on a wrong key or input length.
    """
    _check_key(master_key, "the master key")
    if not 1 <= len(diversification_input) <= 31:
        raise ValueError("AN10922 diversification input must be 1 to 31 bytes")
    k1, k2 = cmac_subkeys(master_key)
    data = bytes([AN10922_AES128_CONSTANT]) + bytes(diversification_input)
    if len(data) < 32:
        data = (data + b"\x80").ljust(32, b"\x00")
        last_key = k2
    else:
        last_key = k1
    data = data[:16] + bytes(a ^ b for a, b in zip(data[16:], last_key, strict=True))
    return _aes_cbc(master_key, data)[-16:]


def truncate_mac(full_mac: bytes) -> bytes:
    """``MACt``: the 8 bytes at odd indices (1, 3, ..., 15) of a 16-byte CMAC (AN12196).

    :raises ValueError: when ``full_mac`` is not 16 bytes.
    """
    if len(full_mac) != 16:
        raise ValueError("a full CMAC is 16 bytes")
    return bytes(full_mac[1::2])


def session_mac_key(file_read_key: bytes, uid: bytes, counter: int) -> bytes:
    """``KSesSDMFileReadMAC = CMAC(SDMFileReadKey, SV2)``, SV2 = 3CC300010080 || UID || ctr (LE).

    SV2 is zero padded to a multiple of 16 bytes (AN12196); with a 7-byte UID and
    the 3-byte counter it is exactly 16 bytes.

    :raises ValueError: on a wrong key or UID length or a counter out of range.
    """
    _check_key(file_read_key, "the SDMFileReadKey")
    _check_uid(uid)
    _check_counter(counter)
    sv2 = SV2_PREFIX + bytes(uid) + counter.to_bytes(COUNTER_LENGTH, "little")
    sv2 = sv2.ljust(-(-len(sv2) // 16) * 16, b"\x00")
    return _cmac(file_read_key, sv2)


def sdm_mac(file_read_key: bytes, uid: bytes, counter: int, mac_input: bytes = b"") -> bytes:
    """The 8-byte SDMMAC a card sends: ``MACt(KSesSDMFileReadMAC, mac_input)``.

    :param mac_input: the bytes the card MACs (``DynamicFileData[SDMMACInputOffset ..
        SDMMACOffset - 1]``); empty when ``SDMMACInputOffset == SDMMACOffset``.
    :raises ValueError: on a wrong key or UID length or a counter out of range.
    """
    return truncate_mac(_cmac(session_mac_key(file_read_key, uid, counter), bytes(mac_input)))


def decrypt_picc_data(meta_read_key: bytes, enc: bytes) -> PiccData:
    """Decrypt ``PICCENCData`` with the SDMMetaReadKey and parse it.

    Only a PICCDataTag mirroring both a 7-byte UID and the read counter (0xC7) is
    accepted: without the counter there is no replay protection.

    :raises ValueError: when ``meta_read_key`` is not 16 bytes.
    :raises SunFormatError: ``bad-length`` when ``enc`` is not 16 bytes.
    :raises SunPiccDataError: ``bad-picc-tag`` when the tag is not as above.
    """
    _check_key(meta_read_key, "the SDMMetaReadKey")
    if len(enc) != PICC_DATA_LENGTH:
        raise SunFormatError(REASON_BAD_LENGTH, f"encrypted PICC data must be {PICC_DATA_LENGTH} bytes")
    plain = _aes_cbc(meta_read_key, bytes(enc), decrypt=True)
    tag = plain[0]
    if not tag & TAG_UID_MIRRORED:
        raise SunPiccDataError(REASON_BAD_PICC_TAG, "PICC data does not mirror the UID")
    if not tag & TAG_COUNTER_MIRRORED:
        raise SunPiccDataError(REASON_BAD_PICC_TAG, "PICC data does not mirror the read counter")
    if tag & TAG_RFU:
        raise SunPiccDataError(REASON_BAD_PICC_TAG, "PICC data tag has reserved bits set")
    if tag & TAG_UID_LENGTH_MASK != UID_LENGTH:
        raise SunPiccDataError(REASON_BAD_PICC_TAG, f"PICC data UID length is not {UID_LENGTH}")
    uid = plain[1 : 1 + UID_LENGTH]
    counter = int.from_bytes(plain[1 + UID_LENGTH : 1 + UID_LENGTH + COUNTER_LENGTH], "little")
    return PiccData(uid=uid, counter=counter, tag=tag)


def encrypt_picc_data(meta_read_key: bytes, uid: bytes, counter: int, padding: bytes | None = None) -> bytes:
    """Card side: ``PICCENCData`` for ``uid`` and ``counter``, as the chip builds it.

    :param padding: the 5 trailing bytes; random (as on the chip) when None.
    :raises ValueError: on a wrong key, UID or padding length or a counter out of range.
    """
    _check_key(meta_read_key, "the SDMMetaReadKey")
    _check_uid(uid)
    _check_counter(counter)
    if padding is None:
        padding = secrets.token_bytes(PADDING_LENGTH)
    elif len(padding) != PADDING_LENGTH:
        raise ValueError(f"PICC data padding must be {PADDING_LENGTH} bytes")
    plain = bytes([PICC_DATA_TAG]) + bytes(uid) + counter.to_bytes(COUNTER_LENGTH, "little") + bytes(padding)
    return _aes_cbc(meta_read_key, plain)


# --- keys -----------------------------------------------------------------


class SunKeys:
    """The keys a verifier needs: the shared SDMMetaReadKey and the per-card SDMFileReadKey.

    ``SunKeys(meta, master)`` derives each card's SDMFileReadKey from ``master``
    with AN10922 AES-128, ``M = UID || system_identifier``;
    ``SunKeys.fixed(meta, file_key)`` uses one file read key for every card.
    Keys never appear in ``repr``.

    :raises ValueError: when a key is not 16 bytes or the system identifier is
        longer than 24 bytes (AN10922 limits M to 31 bytes).
    """

    __slots__ = ("_file_read_key", "_file_read_master_key", "_meta_read_key", "_system_identifier")

    def __init__(
        self,
        meta_read_key: bytes,
        file_read_master_key: bytes | None = None,
        system_identifier: bytes = DEFAULT_SYSTEM_IDENTIFIER,
        *,
        file_read_key: bytes | None = None,
    ):
        _check_key(meta_read_key, "the SDMMetaReadKey")
        if (file_read_master_key is None) == (file_read_key is None):
            raise ValueError("give exactly one of file_read_master_key and file_read_key")
        if file_read_master_key is not None:
            _check_key(file_read_master_key, "the SDMFileReadKey master key")
        if file_read_key is not None:
            _check_key(file_read_key, "the SDMFileReadKey")
        if not isinstance(system_identifier, (bytes, bytearray)):
            raise ValueError("the system identifier must be bytes")
        if len(system_identifier) > MAX_SYSTEM_IDENTIFIER_LENGTH:
            raise ValueError(f"the system identifier must be at most {MAX_SYSTEM_IDENTIFIER_LENGTH} bytes")
        self._meta_read_key = bytes(meta_read_key)
        self._file_read_master_key = None if file_read_master_key is None else bytes(file_read_master_key)
        self._file_read_key = None if file_read_key is None else bytes(file_read_key)
        self._system_identifier = bytes(system_identifier)

    @classmethod
    def fixed(cls, meta_read_key: bytes, file_read_key: bytes) -> SunKeys:
        """Keys for cards personalised with one, non-diversified SDMFileReadKey.

        :raises ValueError: when a key is not 16 bytes.
        """
        return cls(meta_read_key, file_read_key=file_read_key)

    @classmethod
    def from_credentials(
        cls, credentials: Credentials | None = None, system_identifier: bytes = DEFAULT_SYSTEM_IDENTIFIER
    ) -> SunKeys:
        """Diversifying keys from the secrets ``sun-meta-read-key`` and
        ``sun-file-read-master-key`` (hex; ``$CREDENTIALS_DIRECTORY`` or
        ``CS_SUN_META_READ_KEY`` / ``CS_SUN_FILE_READ_MASTER_KEY``).

        :raises CredentialError: when a secret is missing, not hex or not 16 bytes.
        """
        credentials = credentials or Credentials()
        return cls(
            credentials.require_key(SUN_META_READ_KEY, KEY_LENGTH),
            credentials.require_key(SUN_FILE_READ_MASTER_KEY, KEY_LENGTH),
            system_identifier,
        )

    @property
    def meta_read_key(self) -> bytes:
        """The SDMMetaReadKey shared by all cards."""
        return self._meta_read_key

    @property
    def diversified(self) -> bool:
        """True when file read keys are derived per card."""
        return self._file_read_master_key is not None

    @property
    def system_identifier(self) -> bytes:
        """The bytes after the UID in the AN10922 diversification input."""
        return self._system_identifier

    def for_card(self, uid: bytes) -> bytes:
        """The SDMFileReadKey of the card with this 7-byte UID.

        :raises ValueError: when ``uid`` is not 7 bytes.
        """
        _check_uid(uid)
        if self._file_read_master_key is None:
            return self._file_read_key  # type: ignore[return-value]
        return an10922_diversify(self._file_read_master_key, bytes(uid) + self._system_identifier)

    def __repr__(self) -> str:
        if self.diversified:
            return f"SunKeys(diversified, system_identifier={self._system_identifier!r})"
        return "SunKeys(fixed)"


# --- URLs -----------------------------------------------------------------


def _hex_parameter(name: str, value: str, chars: int) -> str:
    if not _HEX.fullmatch(value):
        raise SunFormatError(REASON_BAD_HEX, f"parameter {name!r} is not hex")
    if len(value) != chars:
        raise SunFormatError(REASON_BAD_LENGTH, f"parameter {name!r} must be {chars} hex characters")
    return value


def parse_sun_url(url: str) -> tuple[str, str]:
    """The ``(encrypted PICC data hex, SDMMAC hex)`` of a SUN URL.

    Understands ``picc_data``/``cmac`` and ``e``/``c`` query parameters; other
    parameters are ignored. Hex may be in either case.

    :raises SunFormatError: ``bad-url`` (not a string, too long, unparsable),
        ``missing-parameter``, ``duplicate-parameter`` (a parameter repeated, or
        both ``picc_data`` and ``e`` present), ``bad-hex``, ``bad-length``
        (32 hex characters for the PICC data, 16 for the MAC).
    """
    if not isinstance(url, str):
        raise SunFormatError(REASON_BAD_URL, "the URL must be a string")
    if len(url) > MAX_URL_LENGTH:
        raise SunFormatError(REASON_BAD_URL, f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        query = urlsplit(url).query
        fields = parse_qsl(query, keep_blank_values=True, max_num_fields=_MAX_QUERY_FIELDS)
    except ValueError:
        raise SunFormatError(REASON_BAD_URL, "the URL cannot be parsed") from None
    values: dict[str, list[str]] = {}
    for name, value in fields:
        values.setdefault(name, []).append(value)
    present = [naming for naming, (picc_name, _) in PARAMETER_NAMES.items() if picc_name in values]
    if len(present) > 1:
        raise SunFormatError(REASON_DUPLICATE_PARAMETER, "the URL has both 'picc_data' and 'e'")
    if not present:
        raise SunFormatError(REASON_MISSING_PARAMETER, "the URL has neither 'picc_data' nor 'e'")
    picc_name, mac_name = PARAMETER_NAMES[present[0]]
    for name in (picc_name, mac_name):
        if name not in values:
            raise SunFormatError(REASON_MISSING_PARAMETER, f"the URL has no {name!r} parameter")
        if len(values[name]) > 1:
            raise SunFormatError(REASON_DUPLICATE_PARAMETER, f"the URL repeats the {name!r} parameter")
    return (
        _hex_parameter(picc_name, values[picc_name][0], 2 * PICC_DATA_LENGTH),
        _hex_parameter(mac_name, values[mac_name][0], 2 * MAC_LENGTH),
    )


# --- verification ---------------------------------------------------------


def verify_sun_message(
    enc_picc_data: bytes,
    mac: bytes,
    keys: SunKeys,
    last_counter: int | None,
    mac_input: bytes = b"",
) -> SunResult:
    """Verify a SUN message given as bytes; see :func:`verify_sun`.

    The MAC is checked before the counter, so a forged message is ``bad-mac``
    and ``replayed-counter`` always means an authentic card's old message.

    :raises SunFormatError: ``bad-length`` for a wrong-length PICC data or MAC.
    :raises SunPiccDataError: ``bad-picc-tag``.
    :raises SunMacError: ``bad-mac``.
    :raises SunReplayError: ``replayed-counter`` when ``counter <= last_counter``.
    """
    if len(mac) != MAC_LENGTH:
        raise SunFormatError(REASON_BAD_LENGTH, f"the MAC must be {MAC_LENGTH} bytes")
    picc = decrypt_picc_data(keys.meta_read_key, enc_picc_data)
    expected = sdm_mac(keys.for_card(picc.uid), picc.uid, picc.counter, mac_input)
    if not hmac.compare_digest(expected, bytes(mac)):
        raise SunMacError(REASON_BAD_MAC, "the SUN MAC does not match")
    if last_counter is not None and picc.counter <= last_counter:
        raise SunReplayError(picc.uid, picc.counter, last_counter)
    return SunResult(uid=picc.uid, counter=picc.counter)


def verify_sun(url: str, keys: SunKeys, last_counter: int | None, mac_input: bytes = b"") -> SunResult:
    """Verify the SUN message in a URL read from a card.

    :param keys: the SDMMetaReadKey and how to find the card's SDMFileReadKey.
    :param last_counter: the highest counter already accepted for this card, or
        None for a card never seen. The caller persists counters (this does no I/O).
    :param mac_input: the bytes the card MACs; empty when the card was configured
        with ``SDMMACInputOffset == SDMMACOffset`` (our personalisation).
    :returns: the card's UID and the message's read counter.
    :raises SunFormatError: ``bad-url``, ``missing-parameter``, ``duplicate-parameter``,
        ``bad-hex``, ``bad-length``.
    :raises SunPiccDataError: ``bad-picc-tag``.
    :raises SunMacError: ``bad-mac``.
    :raises SunReplayError: ``replayed-counter``: the counter is not strictly above ``last_counter``.
    """
    picc_hex, mac_hex = parse_sun_url(url)
    return verify_sun_message(bytes.fromhex(picc_hex), bytes.fromhex(mac_hex), keys, last_counter, mac_input)


def _key_from_hex(text: str, what: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except (ValueError, AttributeError):
        raise CredentialError(f"{what} is not hex") from None
    if len(key) != KEY_LENGTH:
        raise CredentialError(f"{what} must be {KEY_LENGTH} bytes, got {len(key)}")
    return key


def verify_sun_command(
    url: str,
    meta_read_key_hex: str,
    file_read_key_hex: str,
    last_counter: int | None = None,
    *,
    file_key_is_master: bool = False,
    system_identifier: bytes = DEFAULT_SYSTEM_IDENTIFIER,
    mac_input: bytes = b"",
) -> dict:
    """The JSON object ``edge-agent card verify-sun`` prints.

    ``{"valid": true, "uid": "04de5f1eacc040", "counter": 61}`` or
    ``{"valid": false, "reason": "...", "uid": ..., "counter": ...}``. On failure
    ``uid`` and ``counter`` are given only when the MAC verified (reason
    ``replayed-counter``), else null: an unauthenticated decryption is attacker
    controlled and not worth showing as a card's identity.

    :param file_read_key_hex: the card's fixed SDMFileReadKey, or with
        ``file_key_is_master`` the master key to diversify per card.
    :raises CredentialError: when a key is not 16 bytes of hex (an operator
        mistake, not a card's; the message never contains the key).
    """
    meta = _key_from_hex(meta_read_key_hex, "the SDMMetaReadKey")
    file_key = _key_from_hex(file_read_key_hex, "the SDMFileReadKey")
    keys = SunKeys(meta, file_key, system_identifier) if file_key_is_master else SunKeys.fixed(meta, file_key)
    try:
        result = verify_sun(url, keys, last_counter, mac_input)
    except SunReplayError as exc:
        return {"valid": False, "reason": exc.reason, "uid": exc.uid.hex(), "counter": exc.counter}
    except SunError as exc:
        return {"valid": False, "reason": exc.reason, "uid": None, "counter": None}
    return {"valid": True, "uid": result.uid.hex(), "counter": result.counter}


# --- card side ------------------------------------------------------------


def make_sun_message(
    uid: bytes,
    counter: int,
    meta_read_key: bytes,
    file_read_key: bytes,
    mac_input: bytes = b"",
    *,
    padding: bytes | None = None,
) -> tuple[str, str]:
    """Card side: the ``(picc_data hex, cmac hex)`` an NTAG 424 DNA would mirror.

    Upper-case hex, as the chip writes it. The PICC data's 5 trailing bytes are
    random unless ``padding`` is given (to reproduce a published example).

    :raises ValueError: on a wrong key, UID or padding length or a counter out of range.
    """
    enc = encrypt_picc_data(meta_read_key, uid, counter, padding)
    mac = sdm_mac(file_read_key, uid, counter, mac_input)
    return enc.hex().upper(), mac.hex().upper()


def sun_url(
    base_url: str,
    uid: bytes,
    counter: int,
    keys: SunKeys,
    naming: str = "picc_data",
    mac_input: bytes = b"",
) -> str:
    """Card side: ``base_url`` with a fresh SUN message appended as query parameters.

    :param naming: ``"picc_data"`` (``picc_data``/``cmac``) or ``"e"`` (``e``/``c``).
    :raises ValueError: on an unknown naming, a wrong UID length or a counter out of range.
    """
    if naming not in PARAMETER_NAMES:
        raise ValueError(f"naming must be one of {sorted(PARAMETER_NAMES)}")
    picc_name, mac_name = PARAMETER_NAMES[naming]
    picc_hex, mac_hex = make_sun_message(uid, counter, keys.meta_read_key, keys.for_card(uid), mac_input)
    parts = urlsplit(base_url)
    query = (parts.query + "&" if parts.query else "") + f"{picc_name}={picc_hex}&{mac_name}={mac_hex}"
    return urlunsplit(parts._replace(query=query))
