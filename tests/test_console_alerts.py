"""The console's alert book (edge_agent/console/alerts.py) on a real SQLite file, fed the contract's messages as
encoded bytes: each kind opens and closes from its own messages, a repeat or an older message changes nothing,
and everything but what a shopper shared survives reopening the database (a console restart)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.console.alerts import AlertBook, AlertKind, AlertState, alert_id
from edge_agent.console.database import ConsoleDatabase
from edge_agent.contract import CLIENTELING, EVENTS, HEALTH, STAFF_CALL, STATE, Message, encode

DEVICE = "kiosk-1"
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _raw(message: Message, data: dict, at: datetime, message_id: str | None = None) -> bytes:
    """``data`` as ``message`` with envelope time ``at`` (the envelope's ``ts`` decides what is newer)."""
    import json

    _, raw = encode(message, data, message_id=message_id)
    envelope = json.loads(raw)
    envelope["ts"] = at.isoformat().replace("+00:00", "Z")
    return json.dumps(envelope).encode()


class Book:
    def __init__(self, path: Path):
        self.path = path
        self.changes: list[str] = []
        self.open()

    def open(self) -> None:
        self.db = ConsoleDatabase(self.path)
        self.book = AlertBook(self.db, lambda alert: self.changes.append(alert.alert))
        self.handlers = {message.name: handler for message, handler in self.book.routes()}

    def feed(self, message: Message, data: dict, at: datetime, device: str = DEVICE, message_id: str | None = None):
        self.handlers[message.name](device, _raw(message, data, at, message_id), False)

    def restart(self) -> None:
        self.db.close()
        self.open()


@pytest.fixture
def book(tmp_path):
    book = Book(tmp_path / "console.db")
    yield book
    book.db.close()


def _call(book: Book, at: datetime = T0, **data) -> str:
    _, raw = encode(EVENTS["staff-assist"], {"session": None, "phase": "inform", "topic": None, **data})
    import json

    call = json.loads(raw)["id"]
    book.feed(EVENTS["staff-assist"], {"session": None, "phase": "inform", "topic": None, **data}, at,
              message_id=call)
    return call


def test_a_call_opens_once_and_a_redelivered_event_never_reopens_it_after_staff_closed_it(book):
    call = _call(book, gtin="08712345000028")
    [alert] = book.book.open_alerts()
    assert (alert.kind, alert.device, alert.subject, alert.state) == (AlertKind.ASSIST, DEVICE, call, AlertState.OPEN)
    assert alert.detail == {"call": call, "phase": "inform", "topic": None, "gtin": "08712345000028"}
    assert alert.opened == T0.timestamp(), "waiting since the call, not since the console heard of it"
    book.book.coming(alert.alert, "s-anna", "Anna")
    assert book.book.get(alert.alert).coming_name == "Anna"
    book.book.close(alert.alert, "s-anna")
    book.feed(EVENTS["staff-assist"], {"session": None, "phase": "inform", "topic": None}, T0, message_id=call)
    assert book.book.open_alerts() == []
    assert book.book.recently_closed()[0].closed_by == "s-anna"


def test_a_call_handled_at_the_kiosk_or_coming_from_another_console_shows_here(book):
    call = _call(book)
    key = alert_id(AlertKind.ASSIST, DEVICE, call)
    book.feed(STAFF_CALL, {"call": call, "state": "coming", "display_name": "Bob"}, T0 + timedelta(seconds=5))
    assert (book.book.get(key).state, book.book.get(key).coming_name) == (AlertState.COMING, "Bob")
    book.feed(STAFF_CALL, {"call": call, "state": "handled"}, T0 + timedelta(seconds=9))
    assert book.book.get(key).state is AlertState.CLOSED and book.book.get(key).closed_by == "kiosk"


def test_an_empty_shelf_opens_restocked_closes_and_an_older_out_of_stock_does_not_reopen_it(book):
    zone = {"zone": "gazonmest-10kg", "gtin": "08712345000028", "out_s": 30.0}
    book.feed(EVENTS["stock"], {**zone, "state": "out-of-stock"}, T0)
    key = alert_id(AlertKind.STOCK, DEVICE, "gazonmest-10kg")
    assert book.book.get(key).state is AlertState.OPEN
    book.feed(EVENTS["stock"], {**zone, "state": "restocked", "out_s": 0.0}, T0 + timedelta(minutes=5))
    assert book.book.get(key).state is AlertState.CLOSED
    book.feed(EVENTS["stock"], {**zone, "state": "out-of-stock"}, T0)  # redelivered after a restart
    assert book.book.get(key).state is AlertState.CLOSED
    book.feed(EVENTS["stock"], {**zone, "state": "out-of-stock"}, T0 + timedelta(hours=1))
    assert book.book.get(key).state is AlertState.OPEN, "empty again later: the same alert reopens"


def test_a_device_offline_by_its_last_will_opens_and_back_online_closes(book):
    book.feed(STATE, {"state": "offline", "reason": "last-will"}, T0)
    key = alert_id(AlertKind.OFFLINE, DEVICE)
    assert book.book.get(key).detail == {"reason": "last-will"}
    book.feed(STATE, {"state": "online", "reason": "connected"}, T0 + timedelta(seconds=30))
    assert book.book.get(key).state is AlertState.CLOSED


def _health(depth: int, age: float | None) -> dict:
    return {"uptime_s": 10, "connected": False, "outbox_depth": depth, "outbox_critical": depth,
            "outbox_oldest_age_s": age, "reconnects": 0, "dropped_telemetry": 0, "rejected_messages": 0}


def test_an_outbox_backing_up_opens_with_its_depth_and_closes_once_drained(book):
    book.feed(HEALTH, _health(3, 20.0), T0)
    assert book.book.open_alerts() == [], "a few events waiting a little: nothing to do"
    book.feed(HEALTH, _health(150, 400.0), T0 + timedelta(seconds=10))
    [alert] = book.book.open_alerts()
    assert alert.kind is AlertKind.OUTBOX and alert.detail["depth"] == 150
    book.feed(HEALTH, _health(0, None), T0 + timedelta(seconds=20))
    assert book.book.open_alerts() == []


def test_an_error_about_content_opens_a_content_alert_and_other_errors_do_not(book):
    book.feed(EVENTS["error"], {"topic": "cs/v1/central/s/order", "message_id": None, "reason": "bad"}, T0)
    assert book.book.open_alerts() == []
    book.feed(EVENTS["error"], {"topic": "cs/v1/central/s/content", "message_id": None,
                                "reason": "sha256 mismatch"}, T0)
    [alert] = book.book.open_alerts()
    assert alert.kind is AlertKind.CONTENT and "sha256" in alert.detail["reason"]


def test_alerts_and_their_state_survive_a_restart_but_what_a_shopper_shared_does_not(book):
    call = _call(book)
    key = alert_id(AlertKind.ASSIST, DEVICE, call)
    book.feed(STATE, {"state": "offline", "reason": "last-will"}, T0)
    book.book.coming(key, "s-anna", "Anna")
    book.feed(CLIENTELING, {"call": call, "state": "shared", "first_name": "Sanne", "tier": "Goud"}, T0)
    assert book.book.get(key).shared["first_name"] == "Sanne"
    before = [(a.alert, a.state, a.coming_name, a.opened) for a in book.book.open_alerts()]
    book.restart()
    assert [(a.alert, a.state, a.coming_name, a.opened) for a in book.book.open_alerts()] == before
    assert book.book.get(key).shared is None, "held in memory only: never written to the console's database"
    assert b"Sanne" not in book.path.read_bytes() and not any(
        b"Sanne" in extra.read_bytes() for extra in book.path.parent.glob("console.db-*"))


def test_a_shared_call_is_forgotten_when_the_sharing_ends_or_the_call_closes(book):
    call = _call(book)
    key = alert_id(AlertKind.ASSIST, DEVICE, call)
    book.feed(CLIENTELING, {"call": call, "state": "shared", "first_name": "Sanne"}, T0)
    book.feed(CLIENTELING, {"call": call, "state": "ended"}, T0)
    assert book.book.get(key).shared is None
    book.feed(CLIENTELING, {"call": call, "state": "shared", "first_name": "Sanne"}, T0)
    book.book.close(key, "s-anna")
    book.feed(CLIENTELING, {"call": call, "state": "shared", "first_name": "Sanne"}, T0)
    assert book.book.get(key).shared is None, "not shown for a closed call"
