"""Every staff action at the console as ``event/staff-audit``, at least once.

The console is not a device, but it publishes its audit like one, under its own device level (its broker
login, ``cs/v1/{store}/console/event/staff-audit``; the store broker's ACL lets the console write only that
event topic, and the bridge takes it to central like every device's). An entry is first committed to the
console's ``audit_queue`` (``synchronous=FULL``), then published with QoS 1, and deleted only on the broker's
PUBACK; on every connection the queue is sent again in order (central de-duplicates by the envelope ``id``).
The content changes a staff member makes from the console are audited by the agent that applies them (with
the same staff id), not twice here; the console audits logins, logouts and refusals of its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from ..contract import EVENTS, AuditResult, encode
from .database import ConsoleDatabase

logger = logging.getLogger(__name__)

#: ``publish(topic, payload) -> mid`` (QoS 1), None while not connected.
Publish = Callable[[str, bytes], int | None]


class ConsoleAudit:
    """The console's queue of ``staff-audit`` events.

    :param db: the console's database.
    :param store: the store id.
    :param device: the console's own device level (its broker login).
    """

    def __init__(self, db: ConsoleDatabase, store: str, device: str):
        self._db = db
        self.topic = EVENTS["staff-audit"].topic_for(store, device)
        self._publish: Publish | None = None
        self._lock = threading.Lock()
        self._in_flight: dict[int, int] = {}  # mid -> seq

    def attach(self, publish: Publish) -> None:
        """Publish through ``publish`` from now on (the link, once it exists)."""
        self._publish = publish

    def record(self, staff: str | None, action: str, result: AuditResult, target: str | None = None) -> str:
        """Queue one action and try to send it now; its event id.

        :raises ContractError: for an action that is no identifier or a target too long.
        """
        event_id, payload = encode(EVENTS["staff-audit"], {
            "staff": staff, "action": action, "target": target, "result": result.value,
            "at": datetime.now(UTC).isoformat()})
        with self._db.transaction(durable=True) as conn:
            seq = conn.execute("INSERT INTO audit_queue (id, payload) VALUES (?, ?)", (event_id, payload)).lastrowid
        logger.info("console staff action %s: %s", action, result.value)
        assert seq is not None, "an INSERT has a row id"
        self._send(seq, payload)
        return event_id

    def _send(self, seq: int, payload: bytes) -> None:
        if self._publish is None:
            return
        with self._lock:
            mid = self._publish(self.topic, payload)
            if mid is not None:
                self._in_flight[mid] = seq

    def resend(self) -> int:
        """Send everything still queued, in order (on each connection); how many."""
        with self._db.reading() as conn:
            rows = conn.execute("SELECT seq, payload FROM audit_queue ORDER BY seq").fetchall()
        for seq, payload in rows:
            self._send(seq, payload)
        return len(rows)

    def acknowledged(self, mid: int) -> None:
        """The broker's PUBACK for ``mid``: that entry is delivered."""
        with self._lock:
            seq = self._in_flight.pop(mid, None)
        if seq is not None:
            with self._db.transaction() as conn:
                conn.execute("DELETE FROM audit_queue WHERE seq = ?", (seq,))

    def pending(self) -> int:
        """Entries not acknowledged yet."""
        with self._db.reading() as conn:
            return int(conn.execute("SELECT count(*) FROM audit_queue").fetchone()[0])
