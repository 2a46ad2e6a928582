"""The device checks' pieces alone: the contract refuses what could carry a UID, the clock's samples, the
reader test's assurance, the kiosk's state for the checks screen and its rows (no Kivy, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from edge_agent.contract import SessionPayload, StaffModeView
from edge_agent.contract.payloads_device_checks import (
    DeviceChecksReport,
    ReaderTestResult,
    RestartKioskResult,
)
from edge_agent.device_checks.clock import CentralClock, envelope_ts, kernel_clock
from edge_agent.device_checks.reader_test import assurance_of, product_name
from edge_agent.identity import Assurance
from edge_agent.nfc.reader import CardRead
from edge_agent.sessions import Identified
from kiosk.device_checks_texts import CheckTexts, size_text
from kiosk.i18n import Translator
from kiosk.state import KioskState, Screen
from kiosk.texts import Words
from kiosk.visit import Status

UID = bytes.fromhex("04A1B2C3D4E5F6")
TOKEN = "k-" + "ab" * 32
SUN = "https://tuin.example/k?picc_data=00&cmac=00"
ROOT = "cs/v1/central/store-1/"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# --------------------------------------------------------------------------- the contract


def test_a_product_name_holding_a_run_of_hex_digits_is_refused_so_no_uid_can_ride_in_it():
    base = {"tag_type": "Type2Tag", "assurance": "uid-only", "linked": "unknown", "at": datetime.now(UTC)}
    assert ReaderTestResult(**base, product="NXP NTAG213").product == "NXP NTAG213"
    for smuggled in ("NXP 04A1B2C3D4E5F6", "04a1b2c3", "tag 0x04A1B2C3"):
        with pytest.raises(ValidationError):
            ReaderTestResult(**base, product=smuggled)
    assert product_name("NXP 04A1B2C3D4E5F6") is None and product_name("Mifare Ultralight (MF01CU1)")
    with pytest.raises(ValidationError):
        ReaderTestResult(**{**base, "tag_type": "04A1B2C3D4E5F6"})


def test_no_answer_of_the_checks_has_a_field_for_a_uid_a_token_a_card_or_a_person():
    def names(schema) -> set[str]:
        found: set[str] = set()
        if isinstance(schema, dict):
            found |= set(schema.get("properties", {}))
            for value in schema.values():
                found |= names(value)
        elif isinstance(schema, list):
            for value in schema:
                found |= names(value)
        return found

    for model in (DeviceChecksReport, ReaderTestResult, RestartKioskResult):
        fields = names(model.model_json_schema())
        assert fields and not fields & {"uid", "token", "card", "customer", "first_name", "name", "staff"}, fields


# --------------------------------------------------------------------------- the clock


def test_envelope_ts_is_read_from_the_head_and_nothing_else():
    assert envelope_ts(b'{"id":"x","ts":"2026-04-01T09:30:00.000Z","schema":"a/1","data":{}}') == datetime(
        2026, 4, 1, 9, 30, tzinfo=UTC)
    assert envelope_ts(b'{"id":"x","ts":"yesterday"}') is None
    assert envelope_ts(b'{"ts":"2026-04-01T09:30:00.000"}') is None, "a naive time says nothing"
    assert envelope_ts(b"\xff\xfe not json") is None


def test_the_smallest_live_sample_is_the_estimate_and_retained_or_foreign_messages_are_none():
    wall, mono = Clock(), Clock()
    clock = CentralClock(ROOT, wall=lambda: datetime(2026, 4, 1, 9, 30, tzinfo=UTC).timestamp(), clock=mono)
    sent = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)

    def push(offset_s: float, topic: str = ROOT + "order", retained: bool = False) -> None:
        ts = (sent - timedelta(seconds=offset_s)).isoformat()
        clock.observe(topic, f'{{"id":"x","ts":"{ts}","schema":"order/1","data":{{}}}}'.encode(), retained)

    assert clock.check().ahead_s is None and clock.check().samples == 0
    push(3.0)  # held up for three seconds on its way
    push(0.25)
    push(600, retained=True)  # a retained copy: kept for who knows how long
    push(-50, topic="cs/v1/store-1/kiosk-1/health")  # not central's
    check = clock.check()
    assert check.samples == 2 and check.ahead_s == 0.25
    mono.t += 4000  # an hour and more later the samples say nothing any more
    assert clock.check().samples == 0
    del wall


def test_the_kernel_is_asked_without_changing_the_clock():
    synchronised, max_error_ms = kernel_clock()
    assert synchronised in (True, False, None)
    assert max_error_ms is None or max_error_ms >= 0


# --------------------------------------------------------------------------- the reader test's assurance


@pytest.mark.parametrize(("read", "identified", "expected"), [
    (CardRead(UID, "Type2Tag"), Identified(TOKEN, Assurance.UID), ("uid-only", None)),
    (CardRead(UID, "Type4Tag", SUN), Identified(TOKEN, Assurance.SUN), ("sun-verified", None)),
    (CardRead(UID, "Type4Tag", SUN), Identified(None, Assurance.NONE, "replayed-counter"),
     ("sun-failed", "replayed-counter")),
    (CardRead(UID, "Type4Tag", SUN), Identified(TOKEN, Assurance.UID), ("sun-failed", "no-keys")),
    (CardRead(UID, "Type4Tag", SUN, problem="pulled-away"), Identified(None, Assurance.NONE, "pulled-away"),
     ("unreadable", None)),
    (CardRead(b"\x01\x02", "Type2Tag"), Identified(None, Assurance.NONE, "odd-uid-length"), ("unreadable", None)),
])
def test_a_test_tap_is_worded_as_uid_only_sun_verified_sun_failed_or_unreadable(read, identified, expected):
    assert assurance_of(read, identified) == expected


# --------------------------------------------------------------------------- the kiosk's state


def staff_state(role: str) -> tuple[KioskState, str, Clock]:
    clock = Clock()
    state = KioskState(clock=clock)
    session = "01a20735-b502-769a-a830-637530718552"
    state.on_session(SessionPayload(session=session, state="started", outcome="staff", assurance="uid",
                                    staff="s-anna"))
    state.on_staff_mode(StaffModeView(session=session, state="active", display_name="Anna", role=role, idle_s=60))
    return state, session, clock


def test_the_checks_screen_asks_for_the_figures_once_at_a_time_and_only_while_it_is_shown():
    state, session, clock = staff_state("staff")
    assert state.checks_poll() == [], "not on the checks screen"
    state.open(Screen.STAFF_CHECKS)
    assert state.screen is Screen.STAFF_CHECKS
    first = state.checks_poll()
    assert [(r.command, r.session) for r in first] == [("device-checks", session)]
    clock.t += 1
    assert state.checks_poll() == [], "the last one is unanswered"
    state.on_response("device-checks", session, False, None, "no answer")
    assert [r.command for r in state.checks_poll()] == ["device-checks"]
    clock.t += 11
    assert [r.command for r in state.checks_poll()] == ["device-checks"], "an answer lost for 10 s is asked again"


def test_staff_may_arm_the_reader_test_but_the_managers_actions_are_not_sent_for_them():
    state, session, _ = staff_state("staff")
    state.open(Screen.STAFF_CHECKS)
    assert [r.command for r in state.arm_reader_test()] == ["reader-test"]
    assert state.send_test_event() == [] and state.restart_kiosk() == []
    manager, session, _ = staff_state("manager")
    manager.open(Screen.STAFF_CHECKS)
    assert [r.command for r in manager.send_test_event()] == ["test-event"]
    assert [r.command for r in manager.restart_kiosk()] == ["restart-kiosk"]
    assert manager.restart_exit_code is None, "not before the agent agreed"
    manager.on_response("restart-kiosk", session, True, RestartKioskResult(exit_code=75), None)
    assert manager.visit.kiosk_restart.status is Status.SENT and manager.restart_exit_code == 75


def test_a_refused_restart_leaves_the_kiosk_running():
    manager, session, _ = staff_state("manager")
    manager.open(Screen.STAFF_CHECKS)
    manager.restart_kiosk()
    manager.on_response("restart-kiosk", session, False, None, "needs the manager role")
    assert manager.visit.kiosk_restart.status is Status.FAILED and manager.restart_exit_code is None


# --------------------------------------------------------------------------- the rows


def test_sizes_are_short_figures():
    assert [size_text(n) for n in (None, 900, 143_360, 143_400_000, 12_300_000_000)] == [
        "–", "1 kB", "143 kB", "143.4 MB", "12.3 GB"]


def test_the_rows_word_a_test_tap_without_a_uid_and_every_language_has_them():
    report = DeviceChecksReport.model_validate({
        "connected": True, "broker_rtt_ms": 0.8, "broker_rtt_age_s": 0.4, "outbox_depth": 3,
        "outbox_oldest_age_s": 12.0, "disk_free_bytes": 64_000_000_000, "database_bytes": 900_000,
        "clock": {"ahead_s": -120.0, "samples": 4, "last_sample_age_s": 5.0, "synchronised": False},
        "versions": {"agent": "0.1.0", "contract": "v1", "python": "3.11.7", "sqlite": "3.40.1",
                     "libraries": {"nfcpy": "1.0.4"}},
        "reader_state": "ok",
        "reader_test": {"state": "done", "result": {"tag_type": "Type4Tag", "assurance": "sun-failed",
                                                    "sun_failure": "replayed-counter", "linked": "customer",
                                                    "at": "2026-04-01T09:30:00Z"}},
        "camera": {"state": "ok", "fps": 15.0, "present": True, "privacy_masks": 2,
                   "last_code": {"kind": "app", "age_s": 3.0}},
        "role": "staff"})
    texts = CheckTexts(Words(Translator()))
    for language in ("nl", "en", "fr"):
        rows = dict(texts.rows(report, language, pack=None))
        assert len(rows) >= 20
    rows = dict(texts.rows(report, "nl", pack=None))
    assert rows["Testkaart"] == "Type 4 · SUN mislukt (replayed-counter) · gekoppeld aan een klant"
    assert rows["Laatste code"] == "app-code (3 s geleden)"
    assert rows["Klok"] == "-120.0 s t.o.v. centraal (uit 4 berichten)"
    assert rows["Berichten in de wachtrij"] == "3" and rows["Privacymaskers"] == "2"
    assert dict(texts.rows(report, "en", pack=None))["Last code"] == "app code (3 s ago)"
