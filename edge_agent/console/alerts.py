"""The store console's alerts: what needs a member of staff now, kept in the console's SQLite.

Kinds (:class:`AlertKind`), each fed by a message of the contract through the console's link:

- ``assist``: a shopper's call (``event/staff-assist``): which kiosk, which phase or product, waiting since the
  event's time. "Ik kom eraan" and "Afgehandeld" go to the agent of the kiosk that called
  (``console-call-answer``, :mod:`edge_agent.staff.call_answers`); the alert changes only once the agent has
  applied the answer. A call handled at the kiosk (``local/staff-call``) closes it here too.
- ``stock``: a shelf zone out of stock (``event/stock``), closed when it is restocked.
- ``offline``: a device whose retained ``state`` (or last will) says offline, closed when it is back.
- ``outbox``: a device's outbox backing up (``health``: :data:`OUTBOX_DEPTH` events waiting or the oldest older
  than :data:`OUTBOX_AGE_S`), closed when it drains.
- ``content``: a content pack that failed (an event whose name says content with a failed state, or an
  ``event/error`` about a content topic), closed when a content event says it is in use.

One row per alert (its id derived from kind, device and subject, so the same empty shelf is one alert that
reopens), with its state (``open``, ``coming`` with who, ``closed`` with who or why) and the time of the last
message applied to it: a message older than that (at-least-once delivery, redelivered after a restart) changes
nothing. So alerts and their state survive a console restart, and a broker restart: the console's persistent
session gets what it missed, the retained state and birth come again, and repeats are no-ops. Closed alerts are
kept :data:`KEEP_CLOSED_S` for the page's "recently closed", then deleted.

What a shopper shared for a call (clienteling, :mod:`edge_agent.clienteling`) is held beside the alerts in
memory only (never written here): it is gone when the call closes, the session ends or the console restarts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from ..contract import (
    CLIENTELING,
    EVENTS,
    HEALTH,
    STAFF_CALL,
    STATE,
    Message,
    decode,
)
from .database import ConsoleDatabase

logger = logging.getLogger(__name__)

ALERTS_CHANNEL = "alerts"  # the live-update channel of the alerts page
OUTBOX_DEPTH = 100  # events waiting upstream before the outbox counts as backing up
OUTBOX_AGE_S = 300.0  # or the oldest waiting this long
KEEP_CLOSED_S = 7 * 86400.0
SHOWN_CLOSED = 20
# A content event's state (or status) words: the content helper's event is matched by name, loosely.
FAILED_WORDS = frozenset({"failed", "error", "rejected", "invalid"})
IN_USE_WORDS = frozenset({"active", "activated", "in-use", "ok", "ready"})

migrations = Migrations("store_console_alerts")


@migrations()
def m001_alerts(db: Database) -> None:
    db.execute("""CREATE TABLE alerts (
        alert TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        device TEXT NOT NULL,
        subject TEXT NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NOT NULL,
        opened REAL NOT NULL,
        updated REAL NOT NULL,
        source_ts REAL NOT NULL,
        coming_staff TEXT,
        coming_name TEXT,
        closed REAL,
        closed_by TEXT) WITHOUT ROWID""")
    db.execute("CREATE INDEX alerts_state ON alerts (state, opened)")


class AlertKind(StrEnum):
    """What an alert is about (see the module's docstring)."""

    ASSIST = "assist"
    STOCK = "stock"
    OFFLINE = "offline"
    OUTBOX = "outbox"
    CONTENT = "content"


class AlertState(StrEnum):
    OPEN = "open"
    COMING = "coming"  # a member of staff is on the way ("Ik kom eraan")
    CLOSED = "closed"


@dataclass(frozen=True)
class Alert:
    """One alert as the pages show it."""

    alert: str
    kind: AlertKind
    device: str
    subject: str  # the call id, the shelf zone, "" for a device-wide alert
    state: AlertState
    detail: dict[str, Any]
    opened: float
    updated: float
    coming_staff: str | None = None
    coming_name: str | None = None
    closed: float | None = None
    closed_by: str | None = None
    shared: dict[str, Any] | None = field(default=None, compare=False)  # clienteling, in memory only

    @property
    def is_open(self) -> bool:
        return self.state is not AlertState.CLOSED


def alert_id(kind: AlertKind, device: str, subject: str = "") -> str:
    """The id of the alert about ``subject`` of ``device``: short, URL-safe and the same on every run."""
    return hashlib.sha256(f"{kind}\0{device}\0{subject}".encode()).hexdigest()[:20]


def content_events() -> list[Message]:
    """The events of the contract about content (their names say so: ``content-status`` and the like)."""
    return [message for name, message in EVENTS.items() if "content" in name]


class AlertBook:
    """Every alert of the store.

    :param db: the console's database (the alerts' own migrations are applied to it).
    :param changed: called with an alert after every change (the live updates).
    :param clock: wall-clock seconds.
    """

    def __init__(self, db: ConsoleDatabase, changed: Callable[[Alert], None] = lambda alert: None,
                 clock: Callable[[], float] = time.time):
        self._db = db
        self._changed = changed
        self._clock = clock
        self._lock = threading.Lock()
        self._shared: dict[str, dict[str, Any]] = {}  # alert -> what the shopper shared (clienteling)
        with db.transaction() as conn:
            migrations.apply(Database(conn))

    # ------------------------------------------------------------------ from the store's messages

    def routes(self) -> list[tuple[Message, Callable[[str, bytes, bool], None]]]:
        """(message, handler(device, raw, retained)) for the console's link."""
        found: list[tuple[Message, Callable[[str, bytes, bool], None]]] = [
            (EVENTS["staff-assist"], self._on_assist), (EVENTS["stock"], self._on_stock),
            (EVENTS["error"], self._on_error), (STATE, self._on_state), (HEALTH, self._on_health),
            (STAFF_CALL, self._on_staff_call), (CLIENTELING, self._on_clienteling)]
        found += [(message, self._on_content(message)) for message in content_events()]
        return found

    def _on_assist(self, device: str, raw: bytes, retained: bool) -> None:
        decoded = decode(EVENTS["staff-assist"], raw)
        data = decoded.payload.model_dump(mode="json")
        call = decoded.envelope.id
        at = decoded.envelope.ts.timestamp()
        detail = {"call": call, "phase": data.get("phase"), "topic": data.get("topic"), "gtin": data.get("gtin")}
        # A call is one alert for good: a redelivered event never reopens a closed call.
        self._open(AlertKind.ASSIST, device, call, detail, at, reopen=False)

    def _on_stock(self, device: str, raw: bytes, retained: bool) -> None:
        decoded = decode(EVENTS["stock"], raw)
        data = decoded.payload.model_dump(mode="json")
        at = decoded.envelope.ts.timestamp()
        if data["state"] == "out-of-stock":
            self._open(AlertKind.STOCK, device, data["zone"], {"zone": data["zone"], "gtin": data["gtin"]}, at)
        else:
            self._close(alert_id(AlertKind.STOCK, device, data["zone"]), at, "restocked")

    def _on_state(self, device: str, raw: bytes, retained: bool) -> None:
        if not raw:
            return  # a cleared retained state: the device was removed, nothing to say
        decoded = decode(STATE, raw)
        data = decoded.payload.model_dump(mode="json")
        at = decoded.envelope.ts.timestamp()
        if data["state"] == "offline":
            self._open(AlertKind.OFFLINE, device, "", {"reason": data["reason"]}, at)
        else:
            self._close(alert_id(AlertKind.OFFLINE, device), at, "online")

    def _on_health(self, device: str, raw: bytes, retained: bool) -> None:
        decoded = decode(HEALTH, raw)
        data = decoded.payload.model_dump(mode="json")
        at = decoded.envelope.ts.timestamp()
        depth, age = int(data["outbox_depth"]), data.get("outbox_oldest_age_s")
        if depth >= OUTBOX_DEPTH or (age is not None and age >= OUTBOX_AGE_S):
            self._open(AlertKind.OUTBOX, device, "", {"depth": depth, "oldest_age_s": age,
                                                       "connected": data["connected"]}, at, update=True)
        else:
            self._close(alert_id(AlertKind.OUTBOX, device), at, "drained")

    def _on_error(self, device: str, raw: bytes, retained: bool) -> None:
        decoded = decode(EVENTS["error"], raw)
        data = decoded.payload.model_dump(mode="json")
        if "content" not in data["topic"]:
            return  # a rejected push or request: for central's logs, not the floor
        at = decoded.envelope.ts.timestamp()
        self._open(AlertKind.CONTENT, device, "", {"reason": data["reason"][:300]}, at, update=True)

    def _on_content(self, message: Message) -> Callable[[str, bytes, bool], None]:
        """The handler of one content event: its state word decides (failed opens, in use closes)."""
        def handle(device: str, raw: bytes, retained: bool) -> None:
            decoded = decode(message, raw)
            data = decoded.payload.model_dump(mode="json")
            at = decoded.envelope.ts.timestamp()
            state = str(data.get("state") or data.get("status") or "").lower()
            if state in FAILED_WORDS:
                reason = str(data.get("reason") or data.get("error") or state)[:300]
                pack = str(data.get("pack") or data.get("name") or "")
                self._open(AlertKind.CONTENT, device, "", {"pack": pack, "reason": reason}, at, update=True)
            elif state in IN_USE_WORDS:
                self._close(alert_id(AlertKind.CONTENT, device), at, "content in use")
        return handle

    def _on_staff_call(self, device: str, raw: bytes, retained: bool) -> None:
        decoded = decode(STAFF_CALL, raw)
        data = decoded.payload.model_dump(mode="json")
        key = alert_id(AlertKind.ASSIST, device, data["call"])
        at = decoded.envelope.ts.timestamp()
        if data["state"] == "handled":
            self._close(key, at, "kiosk")
        elif data.get("display_name"):
            self._coming(key, None, data["display_name"], at)

    def _on_clienteling(self, device: str, raw: bytes, retained: bool) -> None:
        data = decode(CLIENTELING, raw).payload.model_dump(mode="json")
        key = alert_id(AlertKind.ASSIST, device, data["call"])
        if data["state"] == "ended":
            with self._lock:
                self._shared.pop(key, None)
        else:
            alert = self.get(key)
            if alert is None or not alert.is_open:
                return  # shared for a call that is closed (or the console missed the call): not shown
            with self._lock:
                self._shared[key] = data
        alert = self.get(key)
        if alert is not None:
            self._changed(alert)

    # ------------------------------------------------------------------ staff's answers (after the agent applied)

    def coming(self, key: str, staff: str, display_name: str) -> Alert | None:
        """A member of staff is on the way; the alert, None if unknown or closed."""
        return self._coming(key, staff, display_name, self._clock())

    def close(self, key: str, staff: str) -> Alert | None:
        """A member of staff closed the alert ("Afgehandeld"); the alert, None if unknown."""
        return self._close(key, self._clock(), staff, by_staff=True)

    def forget_shared(self, key: str) -> None:
        """Stop showing what a shopper shared for this alert's call (the agent says the sharing is over)."""
        with self._lock:
            self._shared.pop(key, None)

    # ------------------------------------------------------------------ reading

    def get(self, key: str) -> Alert | None:
        with self._db.reading() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE alert = ?", (key,)).fetchone()
        return self._alert(row) if row is not None else None

    def open_alerts(self) -> list[Alert]:
        """Open alerts, calls first, oldest first within a kind."""
        with self._db.reading() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE state != 'closed' ORDER BY "
                                "CASE kind WHEN 'assist' THEN 0 ELSE 1 END, opened").fetchall()
        return [self._alert(row) for row in rows]

    def recently_closed(self, limit: int = SHOWN_CLOSED) -> list[Alert]:
        with self._db.reading() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE state = 'closed' ORDER BY closed DESC "
                                "LIMIT ?", (limit,)).fetchall()
        return [self._alert(row) for row in rows]

    def _alert(self, row: tuple) -> Alert:
        (key, kind, device, subject, state, detail, opened, updated, coming_staff, coming_name, closed,
         closed_by) = row
        with self._lock:
            shared = self._shared.get(key) if state != AlertState.CLOSED else None
        return Alert(key, AlertKind(kind), device, subject, AlertState(state), json.loads(detail), opened, updated,
                     coming_staff, coming_name, closed, closed_by, shared)

    # ------------------------------------------------------------------ changes

    def _open(self, kind: AlertKind, device: str, subject: str, detail: dict[str, Any], at: float, *,
              reopen: bool = True, update: bool = False) -> None:
        key = alert_id(kind, device, subject)
        now = self._clock()
        text = json.dumps(detail, separators=(",", ":"))
        with self._db.transaction() as conn:
            row = conn.execute("SELECT state, source_ts FROM alerts WHERE alert = ?", (key,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO alerts (alert, kind, device, subject, state, detail, opened, updated, "
                             "source_ts) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?)",
                             (key, kind.value, device, subject, text, at, now, at))
            elif at <= row[1] or (row[0] == AlertState.CLOSED and not reopen):
                return  # older than what the alert already says, or a call that was closed: a repeat
            elif row[0] == AlertState.CLOSED:
                conn.execute("UPDATE alerts SET state = 'open', detail = ?, opened = ?, updated = ?, source_ts = ?, "
                             "coming_staff = NULL, coming_name = NULL, closed = NULL, closed_by = NULL "
                             "WHERE alert = ?", (text, at, now, at, key))
            elif update:
                conn.execute("UPDATE alerts SET detail = ?, updated = ?, source_ts = ? WHERE alert = ?",
                             (text, now, at, key))
            else:
                conn.execute("UPDATE alerts SET source_ts = ? WHERE alert = ?", (at, key))
                return
            conn.execute("DELETE FROM alerts WHERE state = 'closed' AND closed < ?", (now - KEEP_CLOSED_S,))
        logger.info("alert %s of %s open", kind.value, device)
        self._notify(key)

    def _close(self, key: str, at: float, by: str, by_staff: bool = False) -> Alert | None:
        now = self._clock()
        with self._db.transaction() as conn:
            row = conn.execute("SELECT state, source_ts FROM alerts WHERE alert = ?", (key,)).fetchone()
            if row is None:
                return None
            if row[0] == AlertState.CLOSED:
                if by_staff:  # the agent's own "handled" came first: the console's answer says who it was
                    conn.execute("UPDATE alerts SET closed_by = ? WHERE alert = ?", (by, key))
                return self.get(key)
            if not by_staff and at < row[1]:
                return None  # an older message than the one that opened it
            conn.execute("UPDATE alerts SET state = 'closed', closed = ?, closed_by = ?, updated = ?, "
                         "source_ts = max(source_ts, ?) WHERE alert = ?", (now, by, now, at, key))
        with self._lock:
            self._shared.pop(key, None)
        return self._notify(key)

    def _coming(self, key: str, staff: str | None, display_name: str, at: float) -> Alert | None:
        now = self._clock()
        with self._db.transaction() as conn:
            changed = conn.execute("UPDATE alerts SET state = 'coming', coming_staff = coalesce(?, coming_staff), "
                                   "coming_name = ?, updated = ? WHERE alert = ? AND state != 'closed'",
                                   (staff, display_name, now, key)).rowcount
        if not changed:
            return None
        return self._notify(key)

    def _notify(self, key: str) -> Alert | None:
        alert = self.get(key)
        if alert is not None:
            self._changed(alert)
        return alert


class SharedViews:
    """Which console logins were shown which shared call (after the agent logged the view for the customer):
    a login's page redraws show it again without logging it again; another login is another view."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str]] = set()

    def seen(self, login: str, call: str) -> bool:
        with self._lock:
            return (login, call) in self._seen

    def add(self, login: str, call: str) -> None:
        with self._lock:
            self._seen.add((login, call))

    def forget(self, call: str) -> None:
        """The call closed or its sharing ended: a new sharing is a new view."""
        with self._lock:
            self._seen = {entry for entry in self._seen if entry[1] != call}


_COLUMNS = ("alert, kind, device, subject, state, detail, opened, updated, coming_staff, coming_name, closed, "
            "closed_by")
