"""The audit of staff actions: every one goes upstream as ``event/staff-audit`` and is kept for managers.

:meth:`AuditLog.record` writes the action in one durable transaction twice: as a critical outbox event
(never dropped, however full the outbox; :mod:`edge_agent.outbox`) and into ``staff_audit``, the last
:data:`KEEP` actions a manager reads at the kiosk (the outbox forgets an event once the broker has it).
Called inside a caller's transaction it joins it, so an action and its audit commit together or not at all.
An entry names the staff member by id, the action, its target and result and the time: PIN attempts are
actions, the PIN is never part of one.

An action refused because its own entry could not be written (the disk full, the database locked) is owed
(:meth:`AuditLog.owe`): kept in memory, with its time, and written (:meth:`AuditLog.pay_owed`) before the
next staff badge's or PIN's entry, so once the storage takes writes again nothing staff tried is missing
(a restart meanwhile forgets what is owed, and says how much in the log).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime

from ..contract import AuditResult, StaffAuditEntry
from ..outbox import Outbox
from ..store import Store

logger = logging.getLogger(__name__)

KEEP = 500  # actions kept on the device for managers to read
READABLE = 50  # how many a manager reads at the kiosk


class AuditLog:
    """Records staff actions and reads the last ones.

    :param store: the agent's database.
    :param outbox: where ``staff-audit`` events go upstream.
    :param now: the wall clock (aware datetimes).
    """

    def __init__(self, store: Store, outbox: Outbox, now: Callable[[], datetime]):
        self._store = store
        self._outbox = outbox
        self._now = now
        self._owed: list[tuple[str | None, str, AuditResult, str | None, datetime]] = []

    @property
    def owed(self) -> int:
        """How many entries are owed (their actions refused because they could not be written)."""
        return len(self._owed)

    def owe(self, staff: str | None, action: str, result: AuditResult, target: str | None = None) -> None:
        """Remember an action whose entry could not be written (a storage fault); :meth:`pay_owed` writes it,
        with this time."""
        self._owed.append((staff, action, result, target, self._now()))

    def record(self, staff: str | None, action: str, result: AuditResult, target: str | None = None) -> str:
        """Audit one action: the event upstream and the device's own log, in one durable commit; the event id.

        :param staff: the staff member's id (None: a badge of no known member).
        :param action: what was done, an identifier (``pin-attempt``, ``call-handled``, ``content-toggle``…).
        :param result: how it came out.
        :param target: what it was done to (an item id, a call id), or None.
        :raises ContractError: for an action that is no identifier, or a target over 200 characters.
        """
        at = self._now()
        with self._store.transaction(durable=True) as conn:
            event_id = self._write(conn, staff, action, result, target, at)
        logger.info("staff action %s: %s", action, result.value)
        return event_id

    def pay_owed(self) -> int:
        """Write the owed entries, in their times' order, in one durable commit of their own (call it outside
        any transaction, before the next staff action's entry); how many were written.

        :raises sqlite3.Error: a storage fault: they stay owed.
        """
        owed = list(self._owed)
        if not owed:
            return 0
        with self._store.transaction(durable=True) as conn:
            for entry in owed:
                self._write(conn, *entry)
        del self._owed[:len(owed)]
        logger.info("%d owed staff audit entries written", len(owed))
        return len(owed)

    def _write(self, conn: sqlite3.Connection, staff: str | None, action: str, result: AuditResult,
               target: str | None, at: datetime) -> str:
        # A dict, not the model: the outbox validates it and says what is wrong as a ContractError.
        event_id = self._outbox.enqueue("staff-audit", {"staff": staff, "action": action, "target": target,
                                                        "result": result.value, "at": at.isoformat()})
        conn.execute("INSERT INTO staff_audit (event, staff, action, target, result, at) VALUES (?, ?, ?, ?, ?, ?)",
                     (event_id, staff, action, target, result.value, at.isoformat()))
        conn.execute("DELETE FROM staff_audit WHERE seq <= (SELECT max(seq) FROM staff_audit) - ?", (KEEP,))
        return event_id

    def last(self, limit: int = READABLE) -> list[StaffAuditEntry]:
        """The last ``limit`` audited actions, newest first."""
        with self._store.reading() as conn:
            rows = conn.execute("SELECT event, staff, action, target, result, at FROM staff_audit "
                                "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [_entry(row) for row in rows]


def _entry(row: sqlite3.Row | tuple) -> StaffAuditEntry:
    event, staff, action, target, result, at = row
    return StaffAuditEntry(event=event, staff=staff, action=action, target=target, result=AuditResult(result),
                           at=datetime.fromisoformat(at))
