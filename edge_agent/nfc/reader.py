"""The card reader: a port (:class:`CardReader`) and its nfcpy adapter (:class:`NfcpyReader`).

A shopper taps a loyalty card; the reader reports it once as a
:class:`CardRead` and reports once more when the card has left.

:class:`NfcpyReader` runs one named thread, ``nfc-reader``, which owns the
nfcpy ``ContactlessFrontend`` from open to close:

1. **Open** the device path (``usb``, ``usb:072f:2200`` for an ACR122U,
   ``tty:AMA0:pn532``, ``udp:host:port`` for nfcpy's simulated reader). When
   that fails (unplugged, wrong path, no permission, no libusb), or the device
   fails later, :meth:`~NfcpyReader.health` says ``failed`` and the thread
   retries with exponential backoff and jitter; it never dies of it.
2. **Poll** with one ``sense()`` for a Type A target every ``poll_interval_s``
   (20 ms), instead of nfcpy's ``connect()``, which waits 0.5 s between polls
   and also polls Type B and F.
3. **Read** a card it found: ``nfc.tag.activate``, the UID from
   anticollision, the NDEF message and its first URI record. A read that went
   wrong while the card stayed is tried again from a fresh activation (up to
   three reads); a card that left mid-read still gives a :class:`CardRead`
   with its UID and ``problem="pulled-away"``. ``on_tap`` is called once.
4. **Watch** the card: ``tag.is_present`` every poll interval. When that fails,
   a fresh ``sense()`` for the same UID confirms it (a slow answer or a card
   at the edge of the field must not become a second tap); then ``on_removed``
   is called. Every ``on_tap`` is followed by exactly one ``on_removed``, also
   when the device fails or the reader stops while a card is present.

nfcpy re-activates a Type 2 tag by itself after a NAK (``Type2Tag.read``
senses it again with ``sel_req`` set to its UID); NXP tags get two NAK-free
re-activations during activation already (``tt2_nxp.activate``).

Both callbacks run on the reader thread: keep them short (hand work to a
queue); an exception in them is logged, not fatal.

Privacy: a UID is personal data. It is never logged (the log says the tag
type, the UID length and a short reason) and a :class:`CardRead` hides it in
its ``repr``. nfcpy itself logs UIDs and frame dumps at DEBUG (for example
``log.debug("found %s", target)`` in ``nfc/clf/__init__.py``), so the
``nfc`` logger must stay at INFO or above in production.

nfcpy (and ndeflib) are imported when the reader starts, not with this
module, so the rest of the agent imports without them.
"""

from __future__ import annotations

import logging
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..backoff import backoff_delay

logger = logging.getLogger(__name__)

VALID_UID_LENGTHS = (4, 7, 10)  # ISO/IEC 14443-3 single, double and triple size
READ_ATTEMPTS = 3
STOP_JOIN_S = 10.0

# CardRead.problem values
PULLED_AWAY = "pulled-away"  # the card left before it was read completely
NO_NDEF = "no-ndef"  # the card has no NDEF data (not formatted, no NDEF application)
MALFORMED_NDEF = "malformed-ndef"  # NDEF management data present, the message unreadable or undecodable
ODD_UID_LENGTH = "odd-uid-length"  # a UID that is not 4, 7 or 10 bytes
RANDOM_UID = "random-uid"  # a 4-byte random ID (first byte 08h), new at every activation
UNREADABLE = "unreadable"  # activated or read repeatedly without success while it stayed

_GONE = "gone"  # internal: the card did not answer

NDEF_AID_V2 = bytes.fromhex("D2760000850101")
NDEF_AID_V1 = bytes.fromhex("D2760000850100")

_HEX_RUN = re.compile(r"[0-9A-Fa-f]{8,}")


@dataclass(frozen=True, repr=False)
class CardRead:
    """One card presence, as read.

    :param uid: the raw UID from anticollision (personal data: never log it).
    :param tag_type: nfcpy's tag type, ``"Type2Tag"``, ``"Type4Tag"`` ... (``"unknown"``
        when the card could not be activated).
    :param ndef_uri: the first URI record of the NDEF message, or None.
    :param problem: None for a complete read, else one of ``pulled-away``,
        ``no-ndef``, ``malformed-ndef``, ``odd-uid-length``, ``random-uid``,
        ``unreadable``.
    :param product: nfcpy's product name of an activated card (``"NXP NTAG213"``), None when nfcpy
        names none (it names Type 4 cards by their type only); the device checks' reader test shows it.
    """

    uid: bytes
    tag_type: str
    ndef_uri: str | None = None
    problem: str | None = None
    product: str | None = None

    def __repr__(self) -> str:
        # The UID, and a URI's path and query (which may mirror the UID), stay out.
        uri = None
        if self.ndef_uri is not None:
            parts = urlsplit(self.ndef_uri)
            uri = f"<{parts.scheme}://{parts.netloc}/…>" if parts.scheme else "<uri>"
        return (f"CardRead(uid=<{len(self.uid)} bytes>, tag_type={self.tag_type!r}, "
                f"ndef_uri={uri}, problem={self.problem!r})")

    __str__ = __repr__


class CardReader(ABC):
    """The port through which the agent learns about card taps."""

    @abstractmethod
    def start(self, on_tap: Callable[[CardRead], object], on_removed: Callable[[], None]) -> None:
        """Start watching for cards.

        :param on_tap: called once per card presence with what was read (what it returns is ignored).
        :param on_removed: called once when that card has left.
        :raises RuntimeError: when already started.
        """

    @abstractmethod
    def stop(self) -> None:
        """Stop watching and release the device; returns when the reader has stopped."""

    @abstractmethod
    def health(self) -> dict:
        """``{"state": "ok" | "opening" | "failed", "errors": int, "last_error": str | None, "taps": int}``.

        ``last_error`` never carries a UID.
        """


def describe_error(error: BaseException) -> str:
    """``"OSError: [Errno 19] No such device"``, shortened, with long hex runs (UIDs, frames) masked."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    text = _HEX_RUN.sub("<hex>", text)
    return text if len(text) <= 200 else text[:199] + "…"


def uid_problem(uid: bytes) -> str | None:
    """What is odd about a UID by itself, or None."""
    if len(uid) not in VALID_UID_LENGTHS:
        return ODD_UID_LENGTH
    if len(uid) == 4 and uid[0] == 0x08:
        return RANDOM_UID
    return None


def _tag_type_of(target) -> str:
    # Mirrors the dispatch of nfc.tag.activate, for cards that could not be activated.
    if target.brty.endswith("A") and target.sens_res and target.sel_res:
        if target.sens_res[1] & 0x0F == 0x0C:
            return "Type1Tag"
        if target.sel_res[0] >> 5 & 3 == 0:
            return "Type2Tag"
        if target.sel_res[0] >> 5 & 1 == 1:
            return "Type4Tag"
    return "unknown"


def _first_uri(records) -> str | None:
    import ndef

    for record in records:
        if isinstance(record, ndef.UriRecord):
            return record.iri  # .uri would percent-encode the query's '=' and '&'
        if isinstance(record, ndef.SmartposterRecord) and record.resource is not None:
            return record.resource.iri
    return None


class NfcpyReader(CardReader):
    """A card reader through nfcpy (see the module docstring for how it works).

    :param path: nfcpy device path: ``usb``, ``usb:072f:2200``, ``tty:AMA0:pn532``, ``udp:host:port``.
    :param poll_interval_s: gap between polls for a card, and between presence checks.
    :param retry_min_s: first delay before reopening a failed device.
    :param retry_max_s: the longest delay between reopen attempts.
    :raises ValueError: for an empty path or non-positive intervals.
    """

    def __init__(self, path: str, poll_interval_s: float = 0.02, retry_min_s: float = 0.5,
                 retry_max_s: float = 30):
        if not isinstance(path, str) or not path:
            raise ValueError("path must be an nfcpy device path such as 'usb' or 'udp:localhost:54321'")
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be > 0")
        if not 0 < retry_min_s <= retry_max_s:
            raise ValueError("need 0 < retry_min_s <= retry_max_s")
        self._path = path
        self._poll_interval_s = poll_interval_s
        self._retry_min_s = retry_min_s
        self._retry_max_s = retry_max_s
        self._lock = threading.Lock()
        self._state = "opening"
        self._errors = 0
        self._last_error: str | None = None
        self._taps = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attempt = 0
        self._on_tap: Callable[[CardRead], object] = lambda read: None
        self._on_removed: Callable[[], None] = lambda: None

    # ------------------------------------------------------------------ the port

    def start(self, on_tap: Callable[[CardRead], object], on_removed: Callable[[], None]) -> None:
        """Start the ``nfc-reader`` thread.

        :raises RuntimeError: when already started.
        :raises ImportError: when nfcpy is not installed (fail at start, not in the thread).
        """
        import ndef  # noqa: F401  (ndeflib, nfcpy's NDEF codec)
        import nfc  # noqa: F401

        # nfcpy logs every target it finds, UID included, at DEBUG
        # (log.debug("found %s", target)): keep its loggers above that.
        nfc_logger = logging.getLogger("nfc")
        if nfc_logger.level < logging.INFO:
            nfc_logger.setLevel(logging.INFO)

        if self._thread is not None:
            raise RuntimeError("the reader was started already")
        self._on_tap, self._on_removed = on_tap, on_removed
        self._thread = threading.Thread(target=self._run, name="nfc-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and close the device; waits up to 10 s for the thread."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(STOP_JOIN_S)
        if thread.is_alive():
            logger.warning("the nfc-reader thread did not stop within %.0f s", STOP_JOIN_S)

    def health(self) -> dict:
        with self._lock:
            return {"state": self._state, "errors": self._errors, "last_error": self._last_error,
                    "taps": self._taps}

    # ------------------------------------------------------------------ device lifecycle

    def _run(self) -> None:
        while not self._stop.is_set():
            clf = self._open()
            if clf is not None:
                try:
                    self._poll(clf)
                except Exception as error:  # noqa: BLE001 - the device failed: unplugged, I/O error, nfcpy gave up
                    self._failed("failed", error)
                finally:
                    try:
                        clf.close()
                    except Exception as error:  # noqa: BLE001 - closing must never raise; the reader reopens
                        logger.debug("closing the reader failed: %s", describe_error(error))
            if self._stop.is_set():
                break
            delay = backoff_delay(self._attempt, self._retry_min_s, self._retry_max_s)
            self._attempt += 1
            logger.info("reopening card reader %s in %.1f s", self._path, delay)
            self._stop.wait(delay)
        logger.debug("nfc-reader stopped")

    def _open(self):
        import nfc

        try:
            clf = nfc.ContactlessFrontend(self._path)
        except Exception as error:  # noqa: BLE001 - OSError (ENODEV, EACCES, no libusb), ValueError (bad path)
            self._failed("could not be opened", error)
            return None
        with self._lock:
            self._state = "ok"
        logger.info("card reader open: %s", clf)
        return clf

    def _failed(self, what: str, error: BaseException) -> None:
        description = describe_error(error)
        with self._lock:
            repeated = self._state == "failed" and self._last_error == description
            self._state = "failed"
            self._errors += 1
            self._last_error = description
        logger.log(logging.DEBUG if repeated else logging.WARNING, "card reader %s %s: %s",
                   self._path, what, description)

    # ------------------------------------------------------------------ polling

    def _poll(self, clf) -> None:
        from nfc.clf import RemoteTarget

        while not self._stop.is_set():
            target = clf.sense(RemoteTarget("106A"), iterations=1)
            self._attempt = 0  # the device works: the next failure starts the backoff afresh
            if target is None:
                self._stop.wait(self._poll_interval_s)
                continue
            self._card_present(clf, target)

    def _card_present(self, clf, target) -> None:
        read, tag = self._read_card(clf, target)
        with self._lock:
            self._taps += 1
        logger.info("card tapped: %s, %d-byte UID, %s, %s", read.tag_type, len(read.uid),
                    "URI" if read.ndef_uri else "no URI", read.problem or "read complete")
        self._call("on_tap", self._on_tap, read)
        try:
            self._watch(clf, tag, read.uid)
        finally:
            logger.info("card removed")
            self._call("on_removed", self._on_removed)

    def _call(self, name: str, callback: Callable, *args) -> None:
        try:
            callback(*args)
        except Exception:
            logger.exception("%s callback failed", name)

    # ------------------------------------------------------------------ reading a card

    def _read_card(self, clf, target) -> tuple[CardRead, object | None]:
        """Read the card found as ``target``; returns the read and a tag object for presence checks."""
        uid = bytes(target.sdd_res or b"")
        tag_type = _tag_type_of(target)
        odd = uid_problem(uid)
        tag = None
        product = None
        outcome: str | None = UNREADABLE  # None once a read succeeds
        for attempt in range(READ_ATTEMPTS):
            if attempt:
                # Start again from a fresh activation of the same card, or learn that it left.
                target = self._resense(clf, uid)
                if target is None:
                    return CardRead(uid, tag_type, None, odd or PULLED_AWAY), None
                logger.debug("reading the %s again (%s)", tag_type, outcome)
            tag = self._activate(clf, target)
            if tag is None:
                outcome = _GONE
                continue
            tag_type = tag.type
            product = tag.product if tag.product != tag.type else None
            outcome, uri = self._read_ndef(tag)
            if outcome in (None, NO_NDEF):
                return CardRead(uid, tag_type, uri, odd or outcome, product), tag
        if outcome == _GONE:
            target = self._resense(clf, uid)
            if target is None:
                return CardRead(uid, tag_type, None, odd or PULLED_AWAY), None
            outcome = UNREADABLE
            tag = None
        return CardRead(uid, tag_type, None, odd or outcome, product), tag

    def _activate(self, clf, target):
        import nfc.tag

        try:
            return nfc.tag.activate(clf, target)  # None when the card did not answer
        except OSError:
            raise
        except Exception as error:  # noqa: BLE001 - nfcpy tripping over a strange card
            logger.warning("card activation failed: %s", type(error).__name__)
            return None

    def _read_ndef(self, tag) -> tuple[str | None, str | None]:
        """``(None, uri)`` for a readable NDEF message, else ``(problem, None)``."""
        import ndef

        try:
            data = tag.ndef
        except OSError:
            raise
        except Exception as error:  # noqa: BLE001 - nfcpy tripping over a strange card; asked below
            logger.debug("reading NDEF from a %s failed: %s", tag.type, type(error).__name__)
            data = None
        if data is None:
            return self._why_no_ndef(tag), None
        try:
            records = list(ndef.message_decoder(data.octets, errors="relax"))
        except ndef.DecodeError:
            return MALFORMED_NDEF, None
        return None, _first_uri(records)

    def _why_no_ndef(self, tag) -> str:
        # nfcpy's tag.ndef is None both for a card without NDEF and for a read
        # that failed half-way (it catches the command errors): ask the card.
        try:
            if tag.type == "Type2Tag":
                pages = tag.transceive(b"\x30\x00")  # READ 0: presence and the capability container
                if len(pages) != 16:
                    return _GONE
                return MALFORMED_NDEF if pages[12] == 0xE1 else NO_NDEF
            if tag.type == "Type4Tag":
                for aid in (NDEF_AID_V2, NDEF_AID_V1):
                    response = tag.send_apdu(0x00, 0xA4, 0x04, 0x00, aid, check_status=False)
                    if response[-2:] == b"\x90\x00":
                        return MALFORMED_NDEF
                return NO_NDEF
            return NO_NDEF if tag.is_present else _GONE
        except OSError:
            raise
        except Exception:  # noqa: BLE001 - any other nfcpy error while asking: the card did not answer
            return _GONE

    # ------------------------------------------------------------------ presence

    def _watch(self, clf, tag, uid: bytes) -> None:
        """Return when the card with ``uid`` has left the field (or the reader stops)."""
        while not self._stop.wait(self._poll_interval_s):
            if self._present(clf, tag, uid):
                continue
            target = self._resense(clf, uid)
            if target is None:
                return
            tag = self._activate(clf, target)

    def _present(self, clf, tag, uid: bytes) -> bool:
        if tag is None:
            return self._resense(clf, uid) is not None
        try:
            return bool(tag.is_present)
        except OSError:
            raise
        except Exception:  # noqa: BLE001 - any other nfcpy error in the presence check: the card did not answer
            return False

    def _resense(self, clf, uid: bytes):
        """Sense the card with ``uid`` again (nfcpy's ``sel_req``); None when it is not there."""
        from nfc.clf import RemoteTarget

        if len(uid) in VALID_UID_LENGTHS:
            return clf.sense(RemoteTarget("106A", sel_req=bytearray(uid)), iterations=1)
        found = clf.sense(RemoteTarget("106A"), iterations=1)  # nfcpy takes sel_req of 4, 7 or 10 bytes only
        if found is not None and bytes(found.sdd_res or b"") != uid:
            return None
        return found
