"""No log level, logger or handler lets a card UID, a PIN or a personal field out (edge_agent.redaction).

The end-to-end test runs ``edge-agent run`` at DEBUG with a real Mosquitto and
nfcpy's simulated UDP reader, turns nfcpy's own loggers to DEBUG with the
remote ``set-log-level`` command (which made nfcpy print UIDs before), taps
emulated cards of every UID size, and scans the agent's whole log for every
spelling of every UID used (:mod:`tests.support.uid_spellings`) and for the
customer's name.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent import central_push
from edge_agent.agent import Agent
from edge_agent.cli import LOG_FORMAT
from edge_agent.commands import Commands
from edge_agent.config import parse_config
from edge_agent.contract import COMMANDS, PUSHES, Topics, encode
from edge_agent.credentials import Credentials
from edge_agent.identity import card_token
from edge_agent.nfc.emulator import CardEmulator, Type2Card, Type4Card, free_udp_port
from edge_agent.redaction import RedactingFilter, all_handlers, install, redact, setup_logging, unredacted_handlers
from tests.support.agent import ROOT, config_text
from tests.support.cards import PIET_UID, SANNE, SANNE_UID, STAFF_UID
from tests.support.cards import STORE_HMAC_KEY_HEX as HMAC_KEY
from tests.support.kiosk import KioskProcess
from tests.support.mqtt import envelope
from tests.support.uid_spellings import assert_no_uid, found_uids, uid_spellings

FIXTURES = ROOT / "config" / "central-fixtures.example.yaml"
UIDS = [bytes.fromhex("3A2B3C4D"), SANNE_UID, PIET_UID, bytes.fromhex("1A2B3C4D5E6F708192A3"),
        bytes.fromhex("04C1D2E3F40516")]


@pytest.fixture
def clean_handlers():
    """Leave no redaction on pytest's handlers for the next test (they are kept from test to test), and
    Python's own exception hooks as they were."""
    hooks = sys.excepthook, threading.excepthook
    yield
    sys.excepthook, threading.excepthook = hooks
    for handler in all_handlers():
        for installed in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(installed)


@pytest.fixture
def log():
    """A logger writing through a redacting handler into a string, as the agent's set-up does."""
    stream = io.StringIO()
    handler = install(logging.StreamHandler(stream))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    test_logger = logging.getLogger("tests.redaction")
    test_logger.addHandler(handler)
    test_logger.setLevel(logging.DEBUG)
    yield test_logger, stream
    test_logger.removeHandler(handler)


# ---------------------------------------------------------------------- the filter


@pytest.mark.parametrize("uid", UIDS, ids=lambda uid: f"{len(uid)}-bytes")
def test_every_spelling_of_a_uid_in_a_message_its_arguments_or_a_traceback_is_redacted(log, uid):
    test_logger, stream = log
    for spelling in uid_spellings(uid):
        for text in (spelling, spelling.upper()):
            test_logger.debug("found %s on the reader", text)
            test_logger.info(f"inline {text} too")
            test_logger.warning("a %r in a repr", {"card": text})
            try:
                raise ValueError(f"bad card {text}")
            except ValueError:
                test_logger.exception("failed")
            test_logger.debug("with the stack", stack_info=True, extra={"x": text})
    test_logger.debug("the object itself: %s %r", uid, bytearray(uid))
    assert "found [redacted] on the reader" in stream.getvalue()
    assert "Traceback" in stream.getvalue()
    assert_no_uid(stream.getvalue(), [uid], "the log")


@settings(max_examples=300, deadline=None)
@given(uid=st.sampled_from([4, 7, 10]).flatmap(lambda size: st.binary(min_size=size, max_size=size)),
       before=st.text(max_size=20), after=st.text(max_size=20), upper=st.booleans(), data=st.data())
def test_any_uid_in_any_spelling_inside_any_text_is_redacted(uid, before, after, upper, data):
    spelling = data.draw(st.sampled_from(list(uid_spellings(uid))))
    redacted = redact(before + (spelling.upper() if upper else spelling) + after)
    assert spelling not in redacted.lower()


def test_nfcpy_frame_dumps_lose_the_uid_pieces_and_keep_their_shape():
    # What nfcpy logs at DEBUG for a tap of a 7-byte UID card (04A1B2C3D4E5F6), as seen on the UDP reader.
    lines = ["nfc.clf: found 106A sdd_res=04A1B2C3D4E5F6 sel_res=00 sens_res=4400",
             "nfc.clf.udp: send SDD_RES CL1 8804a1b29f", "nfc.clf.udp: rcvd SEL_REQ CL2 9570c3d4e5f604",
             "nfc.tag.tt2: << 04a1b29fc3d4e5f6e2480000e1103e00 (0.004s)"]
    redacted = [redact(line) for line in lines]
    assert redacted[0] == "nfc.clf: found 106A sdd_res=[redacted] sel_res=00 sens_res=4400"
    assert redacted[1] == "nfc.clf.udp: send SDD_RES CL1 [redacted]"
    assert not found_uids("\n".join(redacted), [SANNE_UID])


@pytest.mark.parametrize("text", [
    '{"first_name": "Sanne", "tier": "goud"}', "{'first_name': 'Sanne', 'tier': 'goud'}",
    "profile first_name=Sanne tier=goud", "staff pin: 4821", '{"pin": "4821"}',
    ("first_name\n  String should have at most 80 characters [type=string_too_long, input_value='Sanne', "
     "input_type=str]"),
])
def test_personal_fields_are_redacted_by_name(text):
    redacted = redact(text)
    assert "Sanne" not in redacted and "4821" not in redacted
    assert "[redacted]" in redacted


def test_what_is_not_personal_is_left_alone():
    for text in ("2026-12-01 20:20:44,123 INFO MainThread edge_agent.agent: agent 0.1 started (connected)",
                 "session 0190a3b4-1c2d-7e3f-8a9b-0c1d2e3f4a5b ended: idle", "card tap: recognised at assurance sun",
                 "outbox depth 12, reconnects 3"):
        assert redact(text) == text


def test_a_call_whose_arguments_do_not_fit_its_format_is_still_logged_redacted(log):
    test_logger, stream = log
    test_logger.info("two %s %s", "04A1B2C3D4E5F6")
    assert "arguments did not fit" in stream.getvalue()
    assert_no_uid(stream.getvalue(), [SANNE_UID], "the log")


def test_setup_logging_installs_the_filter_on_every_handler_of_every_logger(clean_handlers):
    stray = logging.StreamHandler(io.StringIO())
    library = logging.getLogger("tests.redaction.library")
    library.addHandler(stray)
    try:
        setup_logging("INFO", LOG_FORMAT)
        assert unredacted_handlers() == []
        assert any(isinstance(f, RedactingFilter) for f in stray.filters)
    finally:
        library.removeHandler(stray)


def test_set_log_level_to_debug_for_nfc_is_allowed_and_redacts_a_handler_added_since_start(clean_handlers):
    stream = io.StringIO()
    late = logging.StreamHandler(stream)  # e.g. a library that added its own handler after start-up
    nfc_logger = logging.getLogger("nfc.clf")
    nfc_logger.addHandler(late)
    responses: list[bytes] = []
    config = parse_config(config_text(1883, "/nonexistent/agent.db", "store-1"), "test")
    commands = Commands(config, lambda name, payload: responses.append(payload))
    try:
        _, raw = encode(COMMANDS["set-log-level"], {"level": "DEBUG", "logger": "nfc"}, transaction="t-1")
        assert commands.handle("set-log-level", raw) is None
        assert logging.getLogger("nfc").level == logging.DEBUG
        nfc_logger.debug("found 106A sdd_res=%s sel_res=00", SANNE_UID.hex().upper())
        assert "sdd_res=[redacted]" in stream.getvalue()
        assert_no_uid(stream.getvalue(), [SANNE_UID], "the late handler's output")
    finally:
        nfc_logger.removeHandler(late)
        logging.getLogger("nfc").setLevel(logging.NOTSET)


# ---------------------------------------------------------------------- the agent, end to end


def test_remote_set_log_level_debug_for_nfc_while_cards_are_tapped_logs_no_uid_or_name(
        mosquitto, tmp_path, agent_process, capture, publisher, monkeypatch):
    monkeypatch.setenv("CS_STORE_HMAC_KEY", HMAC_KEY)
    device = f"udp:127.0.0.1:{free_udp_port()}"
    config_path = tmp_path / "agent.toml"
    store = f"store-redaction-{time.monotonic_ns()}"
    config_path.write_text(config_text(mosquitto.port, tmp_path / "agent.db", store, extra=(
        f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n[logging]\nlevel = "DEBUG"\n')))
    topics = Topics(store, "kiosk-1")
    cap = capture(mosquitto, ["cs/#"])
    pub = publisher(mosquitto)
    with CardEmulator(device) as emulator:
        agent = agent_process(config_path)
        cap.wait_for(lambda ms: any(m.topic == topics.birth for m in ms), timeout=30)
        assert emulator.wait_for_reader(30), "the agent's reader never polled"
        until = (datetime.now(UTC) + timedelta(days=365)).isoformat()
        for kind, data in (
                ("customer", {"customer": SANNE, "version": 1, "first_name": "Sanne", "tier": "goud",
                              "consents": [{"purpose": "recognition", "until": until}]}),
                ("card-link", {"card": card_token(bytes.fromhex(HMAC_KEY), SANNE_UID), "version": 1,
                               "kind": "customer", "customer": SANNE}),
                ("card-link", {"card": card_token(bytes.fromhex(HMAC_KEY), STAFF_UID), "version": 1,
                               "kind": "staff", "staff": "s-anna"}),
                # Refused by the contract: the agent logs why, and pydantic's message holds the input.
                ("customer", {"customer": SANNE, "version": 2, "first_name": "Sanne" * 20})):
            pub.publish(PUSHES[kind].topic_for(store), envelope(PUSHES[kind].schema_id, data))
        # The remote command that made nfcpy print UIDs: every nfc logger to DEBUG.
        for name in ("nfc", "nfc.clf", "nfc.clf.udp", "nfc.tag"):
            _, raw = encode(COMMANDS["set-log-level"], {"level": "DEBUG", "logger": name}, transaction=f"l-{name}")
            pub.publish(COMMANDS["set-log-level"].topic_for(store, "kiosk-1"), raw)
        cap.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/response/set-log-level")]) >= 4, 15)
        assert all(m.json()["status"] == "ok" for m in cap.on("/response/set-log-level"))
        cards = [Type2Card.with_uri(uid, "https://shop.example/k") for uid in UIDS[:4]]
        cards += [Type2Card(STAFF_UID),
                  Type4Card(UIDS[4], url_for_tap=lambda: "https://s.example/c?picc_data=AA&cmac=BB")]
        for number, card in enumerate(cards, start=1):
            emulator.hold(card)
            try:
                cap.wait_for(lambda ms, n=number: len([m for m in ms if m.topic.endswith("/local/session")
                                                       and m.json()["data"]["state"] == "started"]) >= n, 30)
            finally:
                emulator.remove()
            time.sleep(1.0)  # a card put back at once is the same presence; shoppers don't tap twice a second
        agent.terminate()
    text = agent.log()
    assert "nfc.clf" in text and "sdd_res=[redacted]" in text, "nfcpy logged its frames at DEBUG"
    assert "card tap: recognised" in text
    # set-log-level found every handler redacting already: the agent's own set-up installed it.
    assert "log redaction installed on" not in text
    assert_no_uid(text, [*UIDS, STAFF_UID], "the agent's log")
    assert "Sanne" not in text, "a customer's name in the agent's log"


def test_kiosk_at_debug_showing_a_recognised_customer_logs_no_name_or_uid(mosquitto, make_config, capture, xvfb,
                                                                          tmp_path):
    device = f"udp:127.0.0.1:{free_udp_port()}"
    _, config = make_config(mosquitto, extra=f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.02\n'
                                            '[sessions]\nend_on_card_removal = true\n')
    key = bytes.fromhex(HMAC_KEY)
    cap = capture(mosquitto, ["cs/#"])
    agent = Agent(config, Credentials({"CS_STORE_HMAC_KEY": HMAC_KEY}))
    agent.start()
    kiosk = None
    try:
        assert agent.link.wait_connected(10)
        outgoing = central_push.messages(central_push.load(FIXTURES, hmac_key=key), config.store.id)
        central_push.publish(outgoing, "127.0.0.1", mosquitto.port)
        cap.wait_for(lambda _: agent.inbox.applied >= len(outgoing), timeout=20)
        kiosk = KioskProcess(xvfb, mosquitto.port, config.store.id, config.device.id, tmp_path / "kiosk",
                             args=("--transition", "none", "--log-level", "DEBUG")).start()
        with CardEmulator(device) as emulator:
            assert emulator.wait_for_reader(10), "the agent's reader never polled"
            emulator.hold(Type2Card(SANNE_UID))
            kiosk.wait_screen("begrijp", "Sanne", timeout=20)
            emulator.remove()
            kiosk.wait_screen("bereik", timeout=20)
    finally:
        if kiosk is not None:
            assert kiosk.stop() == 0
        agent.stop()
    text = kiosk.log()
    assert " DEBUG " in text and "session" in text, "the kiosk logged at DEBUG"
    assert_no_uid(text, [SANNE_UID], "the kiosk's log")
    assert "Sanne" not in text, "a customer's name in the kiosk's log"


def test_uncaught_exception_holding_a_uid_is_logged_redacted_not_printed_raw(tmp_path):
    script = ("import threading\nfrom edge_agent.cli import _setup_logging\n_setup_logging('INFO')\n"
              "def fail():\n    raise RuntimeError('card 04:A1:B2:C3:D4:E5:F6 and first_name=Sanne')\n"
              "thread = threading.Thread(target=fail, name='worker')\nthread.start()\nthread.join()\nfail()\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 1
    assert "uncaught exception in thread worker" in result.stderr and "Traceback" in result.stderr
    assert result.stderr.count("RuntimeError: card [redacted]") == 2, result.stderr
    assert_no_uid(result.stderr, [SANNE_UID], "standard error")
    assert "Sanne" not in result.stderr
