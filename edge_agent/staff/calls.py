"""This device's open calls: the staff-assist calls made at this kiosk, until a member of staff handles one.

A shopper's "call a member of staff" (``request/staff-assist``) goes upstream as ``event/staff-assist``
(:mod:`edge_agent.shopping`); :meth:`StaffCalls.wrap` records the call here in the same durable commit, by
its event id. In staff mode the kiosk lists the open ones with how long they have waited
(``request/staff-calls``); marking one handled (``request/staff-call-handled``) is audited
(``call-handled``, the call's id as target) and published on ``local/staff-call``, so the kiosk that called
may tell the shopper. Handled calls older than :data:`KEEP_HANDLED_S` are forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from ..commands import CommandError, Handler
from ..contract import (
    STAFF_CALL,
    AuditResult,
    QueuedResult,
    SessionRequest,
    StaffAssistRequest,
    StaffCallRequest,
    StaffCallsResult,
    StaffCallView,
    StaffRole,
    encode,
)
from ..store import Store
from .audit import AuditLog
from .gate import StaffGate

logger = logging.getLogger(__name__)

KEEP_HANDLED_S = 7 * 86400.0
LISTED = 100  # open calls listed at most, oldest first


class StaffCalls:
    """The open staff-assist calls of this device.

    :param store: the agent's database.
    :param gate: staff mode's gate (listing and handling need staff mode).
    :param audit: the audit of staff actions.
    :param publish: ``publish(topic, payload) -> bool`` to the broker.
    :param topic: this device's ``local/staff-call`` topic.
    :param now: the wall clock (aware datetimes).
    """

    def __init__(self, store: Store, gate: StaffGate, audit: AuditLog, publish: Callable[[str, bytes], bool],
                 topic: str, now: Callable[[], datetime]):
        self._store = store
        self._gate = gate
        self._audit = audit
        self._publish = publish
        self._topic = topic
        self._now = now
        self._closed_listeners: list[Callable[[str], None]] = []

    def wrap(self, staff_assist: Handler) -> Callable[[StaffAssistRequest], QueuedResult]:
        """The staff-assist handler that also records the call, in the same durable commit as its event."""
        def handler(request: StaffAssistRequest) -> QueuedResult:
            with self._store.transaction(durable=True) as conn:
                result = staff_assist(request)
                assert isinstance(result, QueuedResult), "staff-assist answers with the queued event"
                conn.execute("INSERT OR IGNORE INTO staff_calls (call, at, phase, topic) VALUES (?, ?, ?, ?)",
                             (result.event, self._now().isoformat(), request.phase.value if request.phase else None,
                              request.topic))
            return result
        return handler

    def list(self, request: SessionRequest) -> StaffCallsResult:
        """``staff-calls``: the open calls, oldest first, with how long each has waited."""
        self._gate.require(request.session, StaffRole.STAFF)
        return self._open()

    def handled(self, request: StaffCallRequest) -> StaffCallsResult:
        """``staff-call-handled``: mark the call handled (audited), tell the kiosk; the open calls left.

        :raises CommandError: for a call this device does not know, or one handled already.
        """
        member = self._gate.require(request.session, StaffRole.STAFF, action="call-handled", target=request.call)
        self.close(request.call, member.staff)
        return self._open()

    def close(self, call: str, staff: str, *, again_ok: bool = False) -> bool:
        """Mark ``call`` handled by ``staff`` (audited ``call-handled``), tell the kiosk and every listener of
        :meth:`on_closed`; False when it was handled already and ``again_ok`` (the store console sends its
        answer again after a restart: nothing changes, nothing is audited twice).

        :raises CommandError: for a call this device does not know, or one handled already (unless ``again_ok``).
        """
        now = self._now()
        with self._store.transaction(durable=True) as conn:
            row = conn.execute("SELECT handled_at FROM staff_calls WHERE call = ?", (call,)).fetchone()
            if row is not None and row[0] is not None and again_ok:
                return False
            if row is None or row[0] is not None:
                self._audit.record(staff, "call-handled", AuditResult.FAILED, target=call)
                why = "no such call at this device" if row is None else "that call was handled already"
            else:
                conn.execute("UPDATE staff_calls SET handled_at = ?, handled_by = ? WHERE call = ?",
                             (now.isoformat(), staff, call))
                conn.execute("DELETE FROM staff_calls WHERE handled_at IS NOT NULL AND handled_at < ?",
                             ((now - timedelta(seconds=KEEP_HANDLED_S)).isoformat(),))
                self._audit.record(staff, "call-handled", AuditResult.OK, target=call)
                why = None
        if why is not None:
            raise CommandError(why)
        self.tell_kiosk(call, "handled")
        for listener in self._closed_listeners:
            listener(call)
        return True

    def is_open(self, call: str) -> bool | None:
        """True for an open call of this device, False for a handled one, None for a call it does not know."""
        with self._store.reading() as conn:
            row = conn.execute("SELECT handled_at FROM staff_calls WHERE call = ?", (call,)).fetchone()
        return None if row is None else row[0] is None

    def tell_kiosk(self, call: str, state: str, display_name: str | None = None) -> None:
        """Publish ``local/staff-call``: the call is ``handled``, or ``coming`` (``display_name`` is on the way)."""
        _, raw = encode(STAFF_CALL, {"call": call, "state": state, "display_name": display_name})
        if not self._publish(self._topic, raw):
            logger.info("call %s, but the kiosk was not told: broker not connected", state)

    def on_closed(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(call)`` after a call is marked handled (at the kiosk or from the store console)."""
        self._closed_listeners.append(listener)

    def _open(self) -> StaffCallsResult:
        now = self._now()
        with self._store.reading() as conn:
            rows = conn.execute("SELECT call, at, phase, topic FROM staff_calls WHERE handled_at IS NULL "
                                "ORDER BY at LIMIT ?", (LISTED,)).fetchall()
        calls = []
        for call, at, phase, topic in rows:
            started = datetime.fromisoformat(at)
            waited = round(max(0.0, (now - started).total_seconds()), 1)
            calls.append(StaffCallView(call=call, at=started, waited_s=waited, phase=phase, topic=topic))
        return StaffCallsResult(calls=calls)
