"""The card reader end to end: nfcpy's simulated UDP reader against the card emulator.

Both sides run in this process on a free UDP port: NfcpyReader opens
``udp:127.0.0.1:<port>`` exactly as it would open a USB reader, and
CardEmulator plays the card with the same driver's ``listen()``. Waits are on
events with generous timeouts, so a busy machine makes the tests slower, not red.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time

import pytest

from edge_agent.cli import _setup_logging
from edge_agent.nfc.emulator import CardEmulator, Type2Card, Type4Card, free_udp_port, nfcpy_can_open, uri_message
from edge_agent.nfc.emulator import main as emulate_main
from edge_agent.nfc.reader import CardRead, NfcpyReader
from edge_agent.redaction import RedactingFilter
from tests.support.cards import PIET_UID
from tests.support.cards import SANNE_UID as NXP_UID  # NTAG21x: nfcpy adds GET_VERSION and a NAK re-activation
from tests.support.uid_spellings import assert_no_uid

WAIT_S = 15.0

PLAIN_UID = bytes.fromhex("1BA1B2C3D4E5F6")  # not NXP: nfcpy reads it as a generic Type 2 Tag
SUN_UID = bytes.fromhex("04C1D2E3F40516")


class Recorder:
    """Collects the reader's callbacks and lets a test wait for them."""

    def __init__(self):
        self.reads: list[CardRead] = []
        self.removed = 0
        self.events: list[str] = []
        self._changed = threading.Condition()

    def on_tap(self, read: CardRead) -> None:
        with self._changed:
            self.reads.append(read)
            self.events.append("tap")
            self._changed.notify_all()

    def on_removed(self) -> None:
        with self._changed:
            self.removed += 1
            self.events.append("removed")
            self._changed.notify_all()

    def wait_reads(self, n: int, timeout: float = WAIT_S) -> CardRead:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.reads) >= n, timeout), f"no tap #{n}: {self.events}"
            return self.reads[n - 1]

    def wait_removed(self, n: int, timeout: float = WAIT_S) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.removed >= n, timeout), f"no removal #{n}: {self.events}"


def wait_until(condition, timeout: float = WAIT_S, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.fixture
def udp_path() -> str:
    return f"udp:127.0.0.1:{free_udp_port()}"


@pytest.fixture
def emulator(udp_path):
    with CardEmulator(udp_path) as card_emulator:
        yield card_emulator


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def reader(udp_path, emulator, recorder):
    nfc_reader = NfcpyReader(udp_path, poll_interval_s=0.02)
    nfc_reader.start(recorder.on_tap, recorder.on_removed)
    yield nfc_reader
    nfc_reader.stop()


def tap_and_wait(emulator: CardEmulator, recorder: Recorder, card, n: int) -> CardRead:
    """Present ``card`` until the reader reported tap ``n``, take it away, wait for the removal."""
    emulator.hold(card)
    read = recorder.wait_reads(n)
    emulator.remove()
    recorder.wait_removed(n)
    return read


# ---------------------------------------------------------------------- taps

def test_type2_tap_reports_the_uid_once_then_the_removal(reader, emulator, recorder):
    card = Type2Card.with_uri(NXP_UID, "https://shop.example/loyalty")
    emulator.tap(card, hold_s=0.3)

    read = recorder.wait_reads(1)
    recorder.wait_removed(1)
    assert read.uid == NXP_UID
    assert read.tag_type == "Type2Tag"
    assert read.ndef_uri == "https://shop.example/loyalty"
    assert read.problem is None
    # An NXP tag NAKs nfcpy's AUTHENTICATE probe and must answer the re-activation that follows.
    assert emulator.activations >= 2
    time.sleep(0.3)
    assert recorder.events == ["tap", "removed"]
    assert reader.health()["taps"] == 1
    assert reader.health()["state"] == "ok"


def test_holding_a_card_does_not_repeat_the_tap(reader, emulator, recorder):
    emulator.hold(Type2Card(PLAIN_UID))
    recorder.wait_reads(1)
    time.sleep(1.5)  # some 75 presence checks
    assert recorder.events == ["tap"]

    emulator.remove()
    recorder.wait_removed(1)
    time.sleep(0.3)
    assert recorder.events == ["tap", "removed"]


def test_type4_tap_carries_a_fresh_url_from_the_callable_per_tap(reader, emulator, recorder):
    counter = itertools.count(1)
    urls: list[str] = []

    def url_for_tap() -> str:
        n = next(counter)
        urls.append(f"https://shop.example/c?picc_data={n:032X}&cmac={n:016X}")
        return urls[-1]

    card = Type4Card(SUN_UID, url_for_tap=url_for_tap)
    first = tap_and_wait(emulator, recorder, card, 1)
    second = tap_and_wait(emulator, recorder, card, 2)

    assert first.tag_type == second.tag_type == "Type4Tag"
    assert first.uid == second.uid == SUN_UID
    assert first.problem is None and second.problem is None
    assert first.ndef_uri in urls and second.ndef_uri in urls
    assert first.ndef_uri != second.ndef_uri
    assert second.ndef_uri == urls[-1]


@pytest.mark.parametrize("card", [
    Type2Card(PLAIN_UID, ndef_message=None),  # never formatted: no capability container
    Type2Card(NXP_UID, ndef_message=None),
    Type4Card(SUN_UID),  # no NDEF application
], ids=["type2-plain", "type2-nxp", "type4"])
def test_card_without_ndef_is_reported_with_its_uid(reader, emulator, recorder, card):
    read = tap_and_wait(emulator, recorder, card, 1)
    assert read.uid == card.uid
    assert read.ndef_uri is None
    assert read.problem == "no-ndef"


@pytest.mark.parametrize("card", [
    Type2Card(NXP_UID, tlv_length=200),  # the TLV runs past the end of memory: NAK, re-activation
    Type2Card(PLAIN_UID, tlv_length=200),
    Type2Card(PLAIN_UID, ndef_message=b"\xff\xff\xff"),  # the TLV is fine, the message is not
    Type4Card(SUN_UID, ndef_message=b"\xd1\x01\x10U\x04ab"),
], ids=["type2-nxp-tlv-past-memory", "type2-tlv-past-memory", "type2-bad-message", "type4-bad-message"])
def test_malformed_ndef_is_reported_and_the_reader_keeps_working(reader, emulator, recorder, card):
    read = tap_and_wait(emulator, recorder, card, 1)
    assert read.uid == card.uid
    assert read.ndef_uri is None
    assert read.problem == "malformed-ndef"

    good = tap_and_wait(emulator, recorder, Type2Card.with_uri(NXP_UID, "https://shop.example/ok"), 2)
    assert (good.ndef_uri, good.problem) == ("https://shop.example/ok", None)


def test_type2_card_answers_the_reactivation_after_a_nak(reader, emulator, recorder):
    # A READ past the last page gets a NAK; nfcpy then senses the card again by its UID.
    read = tap_and_wait(emulator, recorder, Type2Card(PLAIN_UID, tlv_length=200), 1)
    assert read.problem == "malformed-ndef"
    assert emulator.activations >= 2 * 3  # three reads, each re-activated after its NAK


@pytest.mark.parametrize("uid", [
    bytes.fromhex("1A2B3C4D"),  # single size
    bytes.fromhex("1A2B3C4D5E6F708192A3"),  # triple size (nfcpy's listener needs the emulator's CL3 fix)
    bytes.fromhex("04A1B2C3D4E5F6A7B8C9"),
], ids=["4-byte", "10-byte", "10-byte-nxp"])
def test_4_and_10_byte_uids_are_read_whole(reader, emulator, recorder, uid):
    read = tap_and_wait(emulator, recorder, Type2Card.with_uri(uid, "https://shop.example/x"), 1)
    assert read.uid == uid
    assert read.ndef_uri == "https://shop.example/x"
    assert read.problem is None


def test_random_4_byte_uid_is_flagged(reader, emulator, recorder):
    uid = bytes.fromhex("08A1B2C3")  # ISO 14443-3: a new random ID at every activation
    read = tap_and_wait(emulator, recorder, Type4Card(uid), 1)
    assert read.uid == uid
    assert read.problem == "random-uid"


def test_broken_anticollision_gives_odd_uid_length(reader, emulator, recorder):
    # A 5-byte UID is no ISO size: nfcpy assembles what the card's cascade says.
    read = tap_and_wait(emulator, recorder, Type2Card(bytes.fromhex("1122334455")), 1)
    assert len(read.uid) not in (4, 7, 10)
    assert read.uid.startswith(bytes.fromhex("112233"))
    assert read.problem == "odd-uid-length"


LONG_URL = "https://shop.example/" + "x" * 60  # spans several READs


@pytest.mark.parametrize("card, n_commands", [
    (Type2Card.with_uri(PLAIN_UID, LONG_URL), 0),  # gone before the first READ
    (Type2Card.with_uri(PLAIN_UID, LONG_URL), 2),  # gone after the first data page
    (Type2Card.with_uri(NXP_UID, LONG_URL), 3),  # after the AUTHENTICATE probe, GET_VERSION, READ 0
    (Type4Card(SUN_UID, url_for_tap=lambda: LONG_URL + "?picc_data=00&cmac=00"), 4),  # RATS and 3 APDUs
], ids=["type2-before-read", "type2-mid-read", "type2-nxp-mid-read", "type4-mid-read"])
def test_card_pulled_away_mid_read_gives_pulled_away_and_the_next_tap_works(
        reader, emulator, recorder, card, n_commands):
    pulled = emulator.pull_away_after(card, n_commands)
    read = recorder.wait_reads(1)
    recorder.wait_removed(1)
    assert pulled.is_set()
    assert read.uid == card.uid
    assert read.ndef_uri is None
    assert read.problem == "pulled-away"
    assert recorder.events == ["tap", "removed"]

    good = tap_and_wait(emulator, recorder, Type2Card.with_uri(NXP_UID, "https://shop.example/ok"), 2)
    assert (good.uid, good.problem) == (NXP_UID, None)


def test_a_failing_callback_does_not_stop_the_reader(udp_path, emulator, recorder):
    calls = []

    def on_tap(read):
        calls.append(read)
        if len(calls) == 1:
            raise RuntimeError("a bug in the caller")
        recorder.on_tap(read)

    nfc_reader = NfcpyReader(udp_path)
    nfc_reader.start(on_tap, recorder.on_removed)
    try:
        emulator.hold(Type2Card(PLAIN_UID))
        assert wait_until(lambda: len(calls) == 1)
        emulator.remove()
        recorder.wait_removed(1)
        emulator.hold(Type2Card(NXP_UID))
        read = recorder.wait_reads(1)
        assert read.uid == NXP_UID
        assert len(calls) == 2
    finally:
        nfc_reader.stop()


def test_stopping_with_a_card_present_reports_the_removal(udp_path, emulator, recorder):
    nfc_reader = NfcpyReader(udp_path)
    nfc_reader.start(recorder.on_tap, recorder.on_removed)
    emulator.hold(Type2Card(PLAIN_UID))
    recorder.wait_reads(1)
    nfc_reader.stop()
    assert recorder.events == ["tap", "removed"]


# ---------------------------------------------------------------------- the device

def test_missing_usb_reader_is_reported_failed_and_retried():
    # usb:ffff:ffff matches no reader (or, without libusb, nfcpy cannot even look).
    recorder = Recorder()
    nfc_reader = NfcpyReader("usb:ffff:ffff", retry_min_s=0.05, retry_max_s=0.2)
    nfc_reader.start(recorder.on_tap, recorder.on_removed)
    try:
        assert wait_until(lambda: nfc_reader.health()["errors"] >= 3)
        health = nfc_reader.health()
        assert health["state"] == "failed"
        assert health["last_error"]
        assert health["taps"] == 0
    finally:
        nfc_reader.stop()
    assert recorder.events == []


def test_udp_reader_whose_sends_fail_after_open_is_reported_failed_and_retried():
    # Opening a udp: path only creates a socket; sending to the broadcast address
    # without SO_BROADCAST then fails on every poll, like a device that dies after open.
    nfc_reader = NfcpyReader(f"udp:255.255.255.255:{free_udp_port()}", retry_min_s=0.05, retry_max_s=0.2)
    nfc_reader.start(lambda read: None, lambda: None)
    try:
        assert wait_until(lambda: nfc_reader.health()["errors"] >= 3)
        health = nfc_reader.health()
        assert health["state"] == "failed"
        assert "PermissionError" in health["last_error"]
    finally:
        nfc_reader.stop()


def test_udp_port_where_no_card_plays_is_an_empty_field_not_a_failure(recorder):
    # UDP gives no sign that nobody listens (an unconnected socket gets no ICMP
    # errors): for nfcpy's simulated reader that is an empty field, so health is ok.
    nfc_reader = NfcpyReader(f"udp:127.0.0.1:{free_udp_port()}")
    nfc_reader.start(recorder.on_tap, recorder.on_removed)
    try:
        assert wait_until(lambda: nfc_reader.health()["state"] == "ok")
        time.sleep(1.2)  # at least one full one-second poll of nfcpy's UDP driver
        assert nfc_reader.health() == {"state": "ok", "errors": 0, "last_error": None, "taps": 0}
    finally:
        nfc_reader.stop()
    assert recorder.events == []


def test_reader_can_not_be_started_twice(udp_path):
    nfc_reader = NfcpyReader(udp_path)
    nfc_reader.start(lambda read: None, lambda: None)
    try:
        with pytest.raises(RuntimeError):
            nfc_reader.start(lambda read: None, lambda: None)
    finally:
        nfc_reader.stop()


# ---------------------------------------------------------------------- privacy

def every_logger_at_debug() -> None:
    """Root and every logger there is (``nfc`` and ``nfc.*`` included) at DEBUG: nothing held back by a level."""
    logging.getLogger().setLevel(logging.DEBUG)
    for name in list(logging.Logger.manager.loggerDict):
        logging.getLogger(name).setLevel(logging.DEBUG)


def _without_redaction() -> None:
    """Take the redaction off every root handler (pytest keeps its handlers from test to test)."""
    for handler in logging.getLogger().handlers:
        for installed in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(installed)


@pytest.fixture
def agent_logging():
    """The agent's logging set-up (edge-agent run calls it) on the handlers there are: pytest's here."""
    _without_redaction()
    hooks = sys.excepthook, threading.excepthook
    _setup_logging("DEBUG")
    yield
    sys.excepthook, threading.excepthook = hooks
    _without_redaction()
    logging.getLogger().setLevel(logging.WARNING)
    for name in list(logging.Logger.manager.loggerDict):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_nfc_logger_at_debug_while_cards_are_tapped_logs_no_uid_in_any_spelling(agent_logging, caplog, udp_path,
                                                                                 emulator, recorder):
    nfc_reader = NfcpyReader(udp_path)
    nfc_reader.start(recorder.on_tap, recorder.on_removed)
    # After start: the reader's own guard raised the nfc logger to INFO; lower it as set-log-level
    # would, so only the redaction stands between nfcpy's frame dumps and the log.
    every_logger_at_debug()
    assert logging.getLogger("nfc.clf").getEffectiveLevel() == logging.DEBUG
    cards = [
        Type2Card.with_uri(NXP_UID, "https://shop.example/loyalty"),
        Type2Card(PLAIN_UID, tlv_length=200),
        Type4Card(SUN_UID, url_for_tap=lambda: "https://shop.example/c?picc_data=AA&cmac=BB"),
        Type2Card.with_uri(bytes.fromhex("3A2B3C4D"), "https://shop.example/four"),  # single size
        Type2Card.with_uri(bytes.fromhex("1A2B3C4D5E6F708192A3"), "https://shop.example/ten"),  # triple size
        Type2Card(PIET_UID),  # digits only
    ]
    try:
        for n, card in enumerate(cards, start=1):
            tap_and_wait(emulator, recorder, card, n)
        pulled = Type2Card.with_uri(bytes.fromhex("1C2D3E4F5A6B7C"), "https://shop.example/p")
        emulator.pull_away_after(pulled, 1)
        recorder.wait_removed(len(cards) + 1)
        cards.append(pulled)
    finally:
        nfc_reader.stop()

    assert "card tapped" in caplog.text
    nfcpy_debug = [record for record in caplog.records
                   if record.name.startswith("nfc.") and record.levelno == logging.DEBUG]
    assert any("sdd_res=" in record.getMessage() for record in nfcpy_debug), "nfcpy's frame dumps were logged"
    uids = [card.uid for card in cards]
    assert_no_uid(caplog.text, uids, "the log")
    for read in recorder.reads:
        assert_no_uid(repr(read) + str(read), uids, "a CardRead's repr")


def test_card_read_repr_hides_the_uid_and_the_uri_path():
    read = CardRead(NXP_UID, "Type2Tag", f"https://shop.example/card?uid={NXP_UID.hex()}", None)
    assert_no_uid(repr(read), [NXP_UID], "a CardRead's repr")
    assert "shop.example" in repr(read)
    assert "7 bytes" in repr(read)


# ---------------------------------------------------------------------- the emulator's CLI

def test_emulator_cli_taps_a_uid_card_and_a_url_card(reader, udp_path, recorder, emulator, capsys):
    emulator.close()  # the CLI plays on the port itself

    # Held long enough for a whole read on a busy machine (a Type 4 read is several exchanges over UDP).
    assert emulate_main(["--device", udp_path, "--uid", PLAIN_UID.hex(), "--hold", "1.5"]) == 0
    read = recorder.wait_reads(1)
    recorder.wait_removed(1)
    assert (read.uid, read.tag_type) == (PLAIN_UID, "Type2Tag")

    assert emulate_main(["--device", udp_path, "--url", "https://shop.example/c?picc_data=AA&cmac=BB",
                         "--hold", "1.5"]) == 0
    read = recorder.wait_reads(2)
    assert (read.tag_type, read.ndef_uri) == ("Type4Tag", "https://shop.example/c?picc_data=AA&cmac=BB")
    out = capsys.readouterr().out
    assert "read by a reader" in out
    assert_no_uid(out, [PLAIN_UID], "the emulator's output")


def test_emulator_cli_rejects_a_bad_uid(capsys):
    with pytest.raises(SystemExit) as exit_info:
        emulate_main(["--device", "udp:127.0.0.1:54321", "--uid", "0102"])
    assert exit_info.value.code == 2


def test_uri_message_round_trips_through_ndeflib():
    import ndef

    records = list(ndef.message_decoder(uri_message("https://shop.example/c?picc_data=AA&cmac=BB")))
    assert records[0].iri == "https://shop.example/c?picc_data=AA&cmac=BB"


def test_a_port_named_as_a_tcp_service_is_never_handed_to_nfcpy(monkeypatch):
    """CI once drew 57000 (TCP's ``dircproxy`` in /etc/services): nfcpy's udp.py then failed with
    ``int('dircproxy')``. getnameinfo names ports by their TCP service, so the UDP table is no guide."""
    import socket

    named = [p for p in (57000, 80, 22) if not socket.getnameinfo(("127.0.0.1", p), socket.NI_NUMERICHOST)[1].isdigit()]
    assert all(not nfcpy_can_open("127.0.0.1", p) for p in named)
    drawn = iter([*named, *named, free_udp_port()])
    real_socket = socket.socket

    class Probe(real_socket):  # type: ignore[misc,valid-type]
        def getsockname(self):
            return ("127.0.0.1", next(drawn))

    monkeypatch.setattr("edge_agent.nfc.emulator.socket.socket", Probe)
    port = free_udp_port()
    assert port not in named and nfcpy_can_open("127.0.0.1", port)
