"""Contactless cards in software, played on nfcpy's simulated reader over UDP.

nfcpy ships a full reader simulation, ``nfc/clf/udp.py``: a reader opened on
``udp:host:port`` sends its frames as datagrams ``b"<bitrate> <hex>"`` to that
port, and whoever listens there with the same driver's ``listen()`` plays the
card. :class:`CardEmulator` is that card side, for tests, the latency
measurements and the demo; the agent's reader (:mod:`edge_agent.nfc.reader`)
runs nfcpy's own code path against it, unchanged.

The cards:

* :class:`Type2Card`: an NFC Forum Type 2 Tag laid out like an NXP NTAG213
  (UID, capability container, NDEF TLV, 45 pages). It answers READ and
  GET_VERSION; any other command, or a READ past the last page, gets a NAK and
  the card goes mute until it is activated again, like a real tag. UIDs of 4,
  7 or 10 bytes; without NDEF (no capability container) or with a lying NDEF
  TLV length (malformed).
* :class:`Type4Card`: an NFC Forum Type 4 Tag shaped like an NTAG 424 DNA:
  ISO-DEP (RATS/ATS, I-blocks with chaining, R(ACK)/R(NAK) presence checks)
  and the ISO 7816-4 commands of the NDEF mapping (SELECT the NDEF application
  D2760000850101, SELECT the CC file E103 and the NDEF file E104, READ
  BINARY). The NDEF file holds one URI record whose URL comes from a callable
  the caller gives, asked again for every read of the NDEF file, so each tap
  can carry a fresh Secure Unique NFC message.

How the emulator departs from nfcpy's listener, and why:

* **Empty polls are answered with RFOFF.** nfcpy's reader waits a fixed
  second for an answer to every poll (``sense_tta``:
  ``self._recv_data(1.0, target.brty)``), where a real reader gives up after a
  few milliseconds. While no card is in the field (or the card does not speak
  the polled technology), the emulator answers each poll at once with the
  driver's ``RFOFF`` datagram, which nfcpy's ``sense()`` takes as "nothing
  here" (a ``BrokenLinkError`` it catches). The reader then polls at its own
  pace, as it would on hardware, and a short tap is not lost inside a
  one-second wait. ``fast_empty_polls=False`` turns this off.
* **One socket for the emulator's life.** nfcpy's ``listen()`` calls
  ``mute()``, which closes the listening socket, and binds a new one; the
  reader's next poll arrives right after its RFOFF (for instance when it
  re-activates a card after a NAK) and would be lost in between.
* **10-byte UIDs.** nfcpy 1.0.4's listener compares the third cascade level
  SEL_REQ against ``b"\\x95\\x70" + sdd_res[10:15]`` instead of ``0x97``; the
  emulator hands it that frame in the form it expects.
* **SEL_REQs for another UID are dropped.** nfcpy's listener takes any frame
  it does not recognise as the first command after activation, so a reader
  looking for another card (``sel_req``) would "find" this one.
* **Nothing is sent once the card left the field**: ``remove()`` returns only
  when no further frame can go out for the card.

Privacy: like the rest of the agent, nothing here logs a UID (nfcpy itself
does, at DEBUG).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import operator
import select
import socket
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Self

import ndef
import nfc
import nfc.clf
import nfc.clf.udp

logger = logging.getLogger(__name__)

NDEF_AID = bytes.fromhex("D2760000850101")
CC_FILE = bytes.fromhex("E103")
NDEF_FILE = bytes.fromhex("E104")

NTAG213_VERSION = bytes.fromhex("0004040201000F03")
NTAG213_DATA_BYTES = 144  # user memory, pages 4..39
NAK = b"\x00"

_Socket = socket.socket  # the class, by a name the driver's `socket` attribute does not shadow
ALL_BITRATES = ("106A", "212A", "424A", "106B", "212B", "424B", "212F", "424F")
LISTEN_TIMEOUT_S = 1.0  # from a poll to the first command; readers take milliseconds
EXCHANGE_WAIT_S = 1.0  # one wait for the next command while the card stays selected

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_SFI_UNSUPPORTED = b"\x69\x81"
SW_SECURITY = b"\x69\x82"
SW_NO_FILE_SELECTED = b"\x69\x86"
SW_NOT_FOUND = b"\x6a\x82"
SW_WRONG_P1P2 = b"\x6a\x86"
SW_WRONG_OFFSET = b"\x6b\x00"
SW_INS_UNSUPPORTED = b"\x6d\x00"
SW_CLA_UNSUPPORTED = b"\x6e\x00"
SW_UNKNOWN = b"\x6f\x00"

FSD_TABLE = (16, 24, 32, 40, 48, 64, 96, 128, 256)


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A free UDP port for nfcpy's simulated reader (``udp:<host>:<port>``) that nfcpy can open.

    nfcpy's ``udp.py`` resolves the port with ``getnameinfo()`` without ``NI_NUMERICSERV`` and then calls
    ``int()`` on it, so a port that has a service name cannot be opened: those are skipped. The check is
    the very call nfcpy makes (``getnameinfo`` looks the name up as a TCP service, so 57000, TCP's
    ``dircproxy``, is skipped although it is no UDP service).
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        if nfcpy_can_open(host, port):
            return port


def nfcpy_can_open(host: str, port: int) -> bool:
    """Whether nfcpy's ``udp.py`` turns ``port`` back into a number (it does not for a named service)."""
    _, service = socket.getnameinfo((host, port), socket.NI_NUMERICHOST)
    return service.isdigit()


def _parse_udp_path(path: str) -> tuple[str, int]:
    parts = path.split(":")
    if len(parts) != 3 or parts[0] != "udp" or not parts[1] or not parts[2].isdigit():
        raise ValueError(f"expected a device path udp:host:port, got {path!r}")
    port = int(parts[2])
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {path!r}")
    return parts[1], port


def _check_uid(uid: bytes) -> bytes:
    if not isinstance(uid, (bytes, bytearray)):
        raise TypeError("uid must be bytes")
    if not 1 <= len(uid) <= 10:
        raise ValueError("uid must be 1 to 10 bytes (4, 7 or 10 for a well-formed card)")
    return bytes(uid)


def _cascade_levels(uid: bytes) -> list[bytes]:
    """The SDD_RES of each cascade level, laid out exactly as nfcpy's ``_listen_tta`` does."""
    sdd = bytearray(uid)
    if len(sdd) > 4:
        sdd.insert(0, 0x88)
    if len(sdd) > 8:
        sdd.insert(4, 0x88)
    sdd.insert(4, reduce(operator.xor, sdd[0:4]))
    if len(sdd) > 5:
        sdd.insert(9, reduce(operator.xor, sdd[5:9]))
    if len(sdd) > 10:
        sdd.insert(14, reduce(operator.xor, sdd[10:14]))
    return [bytes(level) for level in (sdd[0:5], sdd[5:10], sdd[10:15]) if level]


def _sel_requests(uid: bytes) -> dict[bytes, bytes]:
    """Every SEL_REQ that addresses ``uid``, mapped to the frame nfcpy's listener matches."""
    frames = {}
    # A 4-byte UID has one cascade level, a 7-byte two, a 10-byte three: the commands run out last.
    for command, level in zip(b"\x93\x95\x97", _cascade_levels(uid), strict=False):
        frame = bytes([command, 0x70]) + level
        # nfcpy 1.0.4 compares the third level against 0x95 0x70 (udp.py, _listen_tta).
        frames[frame] = (b"\x95\x70" + level) if command == 0x97 else frame
    return frames


def _sens_res(uid: bytes, second: int) -> bytearray:
    size = {4: 0x00, 7: 0x40, 10: 0x80}.get(len(uid), 0x40)  # ATQA bits 7-8: UID size
    return bytearray([0x04 | size, second])


def uri_message(url: str) -> bytes:
    """An NDEF message with one URI record for ``url``."""
    return b"".join(ndef.message_encoder([ndef.UriRecord(url)]))


class Card(ABC):
    """A card the emulator can put in the field."""

    uid: bytes

    @abstractmethod
    def _listen_target(self) -> nfc.clf.LocalTarget:
        """What nfcpy's listener answers during anticollision."""

    @abstractmethod
    def _responder(self) -> _Responder:
        """A fresh command handler for one activation."""


class _Responder(ABC):
    @abstractmethod
    def respond(self, command: bytes) -> tuple[bytes | None, bool]:
        """The answer to ``command`` (None: stay silent) and whether the card stays selected."""


@dataclass(frozen=True, repr=False)
class Type2Card(Card):
    """An NFC Forum Type 2 Tag laid out like an NXP NTAG213.

    :param uid: 4, 7 or 10 bytes; other lengths (1..10) make a card whose
        anticollision nfcpy cannot put together well (for fault tests).
    :param ndef_message: the encoded NDEF message; ``b""`` is an empty, formatted
        tag; None is a tag without capability container (not NDEF formatted).
    :param tlv_length: a false length for the NDEF TLV (malformed TLV); a length
        beyond the 144 data bytes makes the reader run off the end of memory and
        get a NAK.
    :param version: the GET_VERSION answer (NTAG213's by default); None answers NAK.
        nfcpy asks only cards whose UID starts with 04h (NXP).
    :raises ValueError: for a UID of the wrong size or a message that does not fit.
    """

    uid: bytes
    ndef_message: bytes | None = b""
    tlv_length: int | None = None
    version: bytes | None = NTAG213_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "uid", _check_uid(self.uid))
        if self.tlv_length is not None and not 0 <= self.tlv_length <= 0xFFFE:
            raise ValueError("tlv_length must be 0..65534")
        self.memory()  # raises when the message does not fit

    @classmethod
    def with_uri(cls, uid: bytes, url: str, **kwargs) -> Type2Card:
        """A Type 2 card whose NDEF message is one URI record."""
        return cls(uid, ndef_message=uri_message(url), **kwargs)

    def __repr__(self) -> str:
        ndef_state = "none" if self.ndef_message is None else f"{len(self.ndef_message)} bytes"
        return f"Type2Card(<{len(self.uid)}-byte uid>, ndef={ndef_state})"

    def memory(self) -> bytes:
        """The 45 pages (180 bytes) a READ sees."""
        uid = self.uid
        header = bytearray(16)
        if len(uid) == 7:
            header[0:3] = uid[0:3]
            header[3] = 0x88 ^ uid[0] ^ uid[1] ^ uid[2]  # BCC0
            header[4:8] = uid[3:7]
            header[8] = uid[3] ^ uid[4] ^ uid[5] ^ uid[6]  # BCC1
        else:
            header[0:9] = (uid + bytes(9))[:9]
        header[9] = 0x48  # internal
        data = bytearray(NTAG213_DATA_BYTES)
        if self.ndef_message is not None:
            header[12:16] = bytes([0xE1, 0x10, NTAG213_DATA_BYTES // 8, 0x00])  # CC: NDEF 1.0, read/write
            length = len(self.ndef_message) if self.tlv_length is None else self.tlv_length
            length_field = bytes([length]) if length < 0xFF else b"\xff" + length.to_bytes(2, "big")
            tlv = b"\x03" + length_field + self.ndef_message + b"\xfe"
            if len(tlv) > len(data):
                raise ValueError(f"the NDEF message does not fit in {NTAG213_DATA_BYTES} bytes")
            data[: len(tlv)] = tlv
        trailer = bytes.fromhex("000000BD 040000FF 00050000 00000000 00000000")  # NTAG213 pages 40-44
        return bytes(header + data + trailer)

    def _listen_target(self) -> nfc.clf.LocalTarget:
        return nfc.clf.LocalTarget("106A", sens_res=_sens_res(self.uid, 0x00),
                                   sdd_res=bytearray(self.uid), sel_res=bytearray([0x00]))

    def _responder(self) -> _Responder:
        return _Type2Responder(self.memory(), self.version)


class _Type2Responder(_Responder):
    def __init__(self, memory: bytes, version: bytes | None):
        self._memory = memory
        self._pages = len(memory) // 4
        self._version = version

    def respond(self, command: bytes) -> tuple[bytes | None, bool]:
        if len(command) == 2 and command[0] == 0x30 and command[1] < self._pages:
            start = command[1] * 4
            return (self._memory + self._memory)[start:start + 16], True  # rolls over past the last page
        if command == b"\x60" and self._version is not None:
            return self._version, True
        # An unknown command, or a READ past the end: NAK, and the tag goes mute
        # until it is activated again (nfcpy re-senses after a NAK).
        return NAK, False


@dataclass(frozen=True, repr=False)
class Type4Card(Card):
    """An NFC Forum Type 4 Tag (ISO-DEP) shaped like an NTAG 424 DNA.

    :param uid: 7 bytes for an NTAG 424 DNA (4 or 10 work too).
    :param url_for_tap: called on every SELECT of the NDEF file (once per read
        of the card) for the URL of its one URI record, e.g. a fresh SUN URL
        ``https://…?picc_data=…&cmac=…``.
    :param ndef_message: a fixed NDEF message instead (for malformed content).
        Without either, the card has no NDEF application.
    :param fwi: frame waiting time integer in the ATS (NTAG 424 DNA: 7, 39 ms);
        8 (77 ms) leaves room for a busy test machine.
    :raises ValueError: for a bad UID or both ``url_for_tap`` and ``ndef_message``.
    """

    uid: bytes
    url_for_tap: Callable[[], str] | None = None
    ndef_message: bytes | None = None
    fwi: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "uid", _check_uid(self.uid))
        if self.url_for_tap is not None and self.ndef_message is not None:
            raise ValueError("give url_for_tap or ndef_message, not both")
        if not 0 <= self.fwi <= 14:
            raise ValueError("fwi must be 0..14")

    def __repr__(self) -> str:
        content = "url_for_tap" if self.url_for_tap else "fixed" if self.ndef_message is not None else "none"
        return f"Type4Card(<{len(self.uid)}-byte uid>, ndef={content})"

    @property
    def has_ndef_application(self) -> bool:
        return self.url_for_tap is not None or self.ndef_message is not None

    def ndef_file(self) -> bytes:
        """The NDEF file as one read sees it: NLEN, then the message."""
        message = uri_message(self.url_for_tap()) if self.url_for_tap is not None else self.ndef_message or b""
        return len(message).to_bytes(2, "big") + message

    def _listen_target(self) -> nfc.clf.LocalTarget:
        return nfc.clf.LocalTarget("106A", sens_res=_sens_res(self.uid, 0x03),
                                   sdd_res=bytearray(self.uid), sel_res=bytearray([0x20]))

    def _responder(self) -> _Responder:
        return _Type4Responder(self)


class _Type4Responder(_Responder):
    """ISO 14443-4 (PICC side) and the Type 4 Tag NDEF commands, for one activation."""

    def __init__(self, card: Type4Card):
        self._card = card
        self._activated = False
        self._fsd = 256
        self._block_number = 1  # ISO 14443-4: the PICC starts at 1
        self._last_block = b""
        self._received = bytearray()  # a command chained by the reader
        self._pending = b""  # the rest of a chained response
        self._application = False
        self._file: bytes | None = None
        self._ndef_file = b""

    def respond(self, command: bytes) -> tuple[bytes | None, bool]:
        if not self._activated:
            if command[:1] != b"\xe0" or len(command) < 2:
                return None, False
            self._activated = True
            self._fsd = FSD_TABLE[min(command[1] >> 4, 8)]
            # TL, T0 (TA, TB, TC present; FSCI 7 = 128 bytes), TA, TB (FWI, SFGI 1), TC, one historical byte
            return bytes([0x06, 0x77, 0x77, (self._card.fwi << 4) | 0x01, 0x02, 0x80]), True
        pcb = command[0]
        number = pcb & 0x01
        if pcb & 0xE2 == 0x02 and not pcb & 0x0C:  # I-block without CID or NAD
            self._block_number = number
            self._received += command[1:]
            if pcb & 0x10:  # the reader chains: acknowledge and wait for the rest
                return self._remember(bytes([0xA2 | number])), True
            apdu, self._received = bytes(self._received), bytearray()
            return self._send(self._apdu(apdu)), True
        if pcb & 0xE6 == 0xA2:  # R-block
            if number == self._block_number:
                return self._last_block or None, True  # retransmit
            if pcb & 0x10:  # R(NAK) for another block: a presence check
                return bytes([0xA2 | self._block_number]), True
            if self._pending:  # R(ACK): the next part of a chained response
                self._block_number = number
                return self._send(self._pending), True
            return None, True
        if pcb & 0xF7 == 0xC2:  # S(DESELECT)
            return bytes([0xC2]), False
        return None, True

    def _remember(self, block: bytes) -> bytes:
        self._last_block = block
        return block

    def _send(self, response: bytes) -> bytes:
        room = self._fsd - 3  # PCB and CRC
        chunk, self._pending = response[:room], response[room:]
        pcb = (0x12 if self._pending else 0x02) | self._block_number
        return self._remember(bytes([pcb]) + chunk)

    def _apdu(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        data, le = b"", None
        if len(body) == 1:
            le = body[0] or 256
        elif len(body) > 1:
            data = body[1:1 + body[0]]
            if len(data) != body[0]:
                return SW_WRONG_LENGTH
            rest = body[1 + body[0]:]
            le = (rest[0] or 256) if rest else None
        if cla != 0x00:
            return SW_CLA_UNSUPPORTED
        if ins == 0xA4:
            return self._select(p1, p2, data)
        if ins == 0xB0:
            return self._read_binary(p1, p2, le or 256)
        if ins == 0xD6:
            return SW_SECURITY  # read-only card
        return SW_INS_UNSUPPORTED

    def _select(self, p1: int, p2: int, data: bytes) -> bytes:
        if p1 == 0x04:
            self._application = data == NDEF_AID and self._card.has_ndef_application
            self._file = None
            return SW_OK if self._application else SW_NOT_FOUND
        if p1 != 0x00:
            return SW_WRONG_P1P2
        if not self._application:
            return SW_NOT_FOUND
        if data == CC_FILE:
            self._file = CC_FILE
            return SW_OK
        if data == NDEF_FILE:
            try:
                self._ndef_file = self._card.ndef_file()
            except Exception:
                logger.exception("url_for_tap failed; the card answers 6F00")
                return SW_UNKNOWN
            self._file = NDEF_FILE
            return SW_OK
        return SW_NOT_FOUND

    def _read_binary(self, p1: int, p2: int, le: int) -> bytes:
        if p1 & 0x80:
            return SW_SFI_UNSUPPORTED
        if self._file is None:
            return SW_NO_FILE_SELECTED
        content = self._capability_container() if self._file == CC_FILE else self._ndef_file
        offset = (p1 << 8) | p2
        if offset > len(content):
            return SW_WRONG_OFFSET
        return content[offset:offset + le] + SW_OK

    def _capability_container(self) -> bytes:
        size = max(256, len(self._ndef_file))
        # CCLEN 15, mapping 2.0, MLe 256, MLc 255, NDEF file control TLV: E104, size, read free, no write
        return (bytes.fromhex("000F20010000FF0406") + NDEF_FILE + size.to_bytes(2, "big") + b"\x00\xff")


class _CardSideDevice(nfc.clf.udp.Device):
    """nfcpy's UDP driver, seen from a card that stays on one port (see the module docstring)."""

    socket: _Socket | None  # opened by nfcpy's Device.__init__; None once closed

    def __init__(self, host: str, port: int, gate: threading.Lock):
        super().__init__(host, port)
        self._gate = gate
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._injected: tuple | None = None
        self.last_frame: tuple | None = None
        self.serving: Callable[[], bool] = lambda: False
        self.sel_requests: dict[bytes, bytes] = {}

    def bind(self) -> None:
        if not self._bind_socket(time.time() + 1.0):
            raise OSError(errno.EADDRINUSE, f"UDP port {self.addr[1]} is in use")

    def mute(self) -> None:
        # A card has no field to switch off; keeping the socket keeps the frames queued in it.
        pass

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        self._wake_r.close()
        self._wake_w.close()

    def _bind_socket(self, time_to_return):
        assert self.socket is not None, "bind after close"
        if self.socket.getsockname()[1] == self.addr[1]:
            return True
        return super()._bind_socket(time_to_return)

    def wake(self) -> None:
        """Make a waiting :meth:`receive` look at its stop condition again."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def inject(self, frame: tuple) -> None:
        """Hand ``frame`` to the next receive (a poll that arrived before the listener ran)."""
        self._injected = frame

    def send_rfoff(self, addr) -> None:
        """Tell a polling reader at once that nothing answers (see the module docstring)."""
        super()._send_data("RFOFF", b"", addr)

    def receive(self, timeout: float | None, bitrates: Sequence[str],
                stop: Callable[[], bool] | None = None) -> tuple:
        """The next frame ``(bitrate, data, addr)``.

        :raises nfc.clf.TimeoutError: after ``timeout`` seconds, or as soon as ``stop()`` is true.
        :raises nfc.clf.BrokenLinkError: for the reader's RFOFF.
        """
        if self._injected is not None:
            frame, self._injected = self._injected, None
            return frame
        assert self.socket is not None, "receive after close"
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if stop is not None and stop():
                raise nfc.clf.TimeoutError("the card left the field")
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                raise nfc.clf.TimeoutError("no data received")
            readable = select.select([self.socket, self._wake_r], [], [], wait)[0]
            if self._wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(64)
                continue
            if self.socket not in readable:
                continue
            try:
                # nfcpy's own framing; a frame of another bit rate is dropped and times out
                brty, data, addr = super()._recv_data(0.001, *bitrates)
            except nfc.clf.TimeoutError:
                continue
            except ValueError:
                # nfcpy checks its deadline, then selects with (deadline - now): preempted in between,
                # the timeout is negative and select() raises. The frame is still in the socket.
                continue
            if len(data) >= 2 and data[0] in (0x93, 0x95, 0x97) and data[1] == 0x70:
                wanted = self.sel_requests.get(bytes(data))
                if wanted is None:
                    continue  # a SEL_REQ for another UID: a real card stays silent
                data = bytearray(wanted)
            self.last_frame = (brty, data, addr)
            return self.last_frame

    def _recv_data(self, timeout, *brty_list):
        # nfcpy's listen() and exchange() wait here: end the wait when the card leaves.
        return self.receive(timeout, brty_list, stop=lambda: not self.serving())

    def _send_data(self, brty, data, addr):
        with self._gate:
            if self.serving():
                super()._send_data(brty, data, addr)


def _is_poll(brty: str, data: bytes) -> bool:
    if brty.endswith("A"):
        return data == b"\x26"
    if brty.endswith("B"):
        return len(data) == 3 and data[0] == 0x05
    if brty.endswith("F"):
        return len(data) >= 2 and data[0] == len(data) and data[1] == 0x00
    return False


class CardEmulator:
    """Plays cards on nfcpy's UDP reader; one card in the field at a time.

    A background thread (``nfc-card-emulator:<port>``) answers the reader. The
    methods may be called from any thread.

    :param path: ``udp:host:port``, the path the reader opens.
    :param fast_empty_polls: answer polls at once with RFOFF when no card (of
        that technology) is in the field, instead of nfcpy's one-second silence.
    :raises ValueError: for a path that is not ``udp:host:port``.
    :raises OSError: when the port is taken (another emulator plays there).
    """

    def __init__(self, path: str = "udp:127.0.0.1:54321", *, fast_empty_polls: bool = True):
        host, port = _parse_udp_path(path)
        self._lock = threading.Lock()
        self._device = _CardSideDevice(host, port, self._lock)
        try:
            self._device.bind()
        except BaseException:
            self._device.close()
            raise
        self._clf = nfc.ContactlessFrontend()
        self._clf.device = self._device  # what ContactlessFrontend.open() would set
        self._fast_empty_polls = fast_empty_polls
        self._card: Card | None = None
        self._generation = 0
        self._closed = False
        self._pull_after: int | None = None
        self._pulled: threading.Event | None = None
        self._activations = 0
        self._commands = 0
        self._polled = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"nfc-card-emulator:{port}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ scripting

    def hold(self, card: Card) -> None:
        """Put ``card`` in the field (taking out any other) and leave it there."""
        self._place(card, None)

    def remove(self) -> None:
        """Take the card out of the field; once this returns, nothing more is sent for it."""
        with self._lock:
            self._take_out()
        self._device.wake()

    def tap(self, card: Card, hold_s: float = 0.2) -> None:
        """Present ``card`` for ``hold_s`` seconds, then take it away (blocks meanwhile)."""
        self.hold(card)
        time.sleep(hold_s)
        self.remove()

    def pull_away_after(self, card: Card, n_commands: int) -> threading.Event:
        """Present ``card``; it answers ``n_commands`` commands after activation, then leaves.

        Anticollision frames do not count. Returns an event that is set when the card left.
        """
        if n_commands < 0:
            raise ValueError("n_commands must be >= 0")
        return self._place(card, n_commands)

    def wait_for_reader(self, timeout: float) -> bool:
        """Wait until a reader polls this port; False after ``timeout`` seconds without a poll.

        A reader that polled while nobody listened on the port waits a second for
        an answer that never comes (nfcpy's UDP driver); a tap shorter than that
        right after the emulator started could pass unseen.
        """
        self._polled.clear()
        return self._polled.wait(timeout)

    @property
    def activations(self) -> int:
        """How often a reader activated a card (anticollision completed)."""
        return self._activations

    @property
    def commands(self) -> int:
        """Commands received after activation."""
        return self._commands

    def close(self) -> None:
        """Take the card away and stop the thread; the port is free afterwards."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._take_out()
        self._device.wake()
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            logger.warning("card emulator thread did not stop")
        self._device.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _place(self, card: Card, pull_after: int | None) -> threading.Event:
        if not isinstance(card, Card):
            raise TypeError("card must be a Type2Card or Type4Card")
        pulled = threading.Event()
        with self._lock:
            if self._closed:
                raise RuntimeError("the emulator is closed")
            self._take_out()
            self._card = card
            self._pull_after = pull_after
            self._pulled = pulled
        self._device.wake()
        return pulled

    def _take_out(self) -> None:
        # with self._lock held
        if self._card is not None and self._pulled is not None:
            self._pulled.set()
        self._card = None
        self._pull_after = None
        self._generation += 1

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        frame = None
        while True:
            with self._lock:
                if self._closed:
                    return
                card, generation = self._card, self._generation
            if frame is None:

                def card_changed(generation: int = generation) -> bool:  # bound to this turn's generation
                    return self._generation != generation or self._closed

                try:
                    frame = self._device.receive(None, ALL_BITRATES, stop=card_changed)
                except nfc.clf.CommunicationError:
                    continue  # the state changed, an RFOFF from the reader, or a garbled datagram
            brty, data, addr = frame
            frame = None
            if not _is_poll(brty, data):
                continue  # an idle card answers nothing but a poll
            self._polled.set()
            if card is None or brty != "106A":
                if self._fast_empty_polls:
                    self._device.send_rfoff(addr)
                continue
            try:
                frame = self._serve(card, generation, (brty, data, addr))
            except Exception:
                logger.exception("card emulation failed; the card goes idle")

    def _serve(self, card: Card, generation: int, poll: tuple) -> tuple | None:
        """One activation of ``card``: anticollision by nfcpy's listener, then commands.

        Returns a poll that ended the session (the reader re-activates), else None.
        """
        device = self._device
        device.sel_requests = _sel_requests(card.uid)
        device.serving = lambda: self._generation == generation and not self._closed
        try:
            device.inject(poll)
            target = self._clf.listen(card._listen_target(), LISTEN_TIMEOUT_S)
            if target is None:
                return None
            with self._lock:
                self._activations += 1
            responder = card._responder()
            command = target.tt2_cmd or target.tt4_cmd
            while command is not None:
                if command == b"\x26":
                    return device.last_frame  # the reader polls again: a new activation
                if not self._count_command(generation):
                    return None
                response, selected = responder.respond(bytes(command))
                if not selected:
                    if response is not None:
                        self._clf.exchange(response, 0)  # send, then wait for a poll like a mute card
                    return None
                command = self._next_command(response, device)
            return None
        finally:
            device.serving = lambda: False
            device.sel_requests = {}

    def _next_command(self, response: bytes | None, device: _CardSideDevice) -> bytes | None:
        while True:
            try:
                return self._clf.exchange(response, EXCHANGE_WAIT_S)
            except nfc.clf.BrokenLinkError:
                return None  # the reader switched its field off: the card is reset
            except nfc.clf.TimeoutError:
                if not device.serving():
                    return None
                response = None  # the reader is busy elsewhere; the card stays selected
            except nfc.clf.CommunicationError:
                response = None

    def _count_command(self, generation: int) -> bool:
        with self._lock:
            if self._generation != generation:
                return False
            if self._pull_after is not None:
                if self._pull_after == 0:
                    self._take_out()
                    return False
                self._pull_after -= 1
            self._commands += 1
            return True


# ---------------------------------------------------------------------- CLI

def main(argv: Sequence[str] | None = None) -> int:
    """``edge-agent card emulate`` with ``argv`` (the options after ``emulate``): its options and the tapping
    are in :mod:`edge_agent.cli`, the one command-line tree."""
    from ..cli import run_command

    return run_command(["card", "emulate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
