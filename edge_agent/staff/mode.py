"""Staff mode: a staff badge's session from the tap through the PIN to staff mode and its end.

A tapped staff badge starts a session as any card does (:mod:`edge_agent.sessions`, outcome ``staff``);
this module follows it (a listener of the session service) through the states of
:class:`~edge_agent.contract.StaffState`:

* ``pin-required``: the badge names an active staff member and is not locked: the kiosk shows its PIN pad;
* ``refused``: the badge names no active member of this store (never pushed, or removed);
* ``locked``: too many wrong PINs (:mod:`.lockout`); the PIN is not even checked until the lock is over;
* ``active``: the right PIN (:mod:`.pin`): staff mode with the member's display name and role, its own idle
  timeout (``[staff] idle_s``; the kiosk counts down, the agent ends it a little later as a backstop) and
  longest time (``[staff] max_s``). Where ``[staff] manager_requires_sun`` is set, a manager whose badge was
  not SUN-verified (a UID-only badge can be cloned) is granted the staff role only (``role_limited``);
* ``ended``: Klaar, the idle timeout, a customer's card (any tap ends the session at once), another badge.

A staff action that cannot be audited is not carried out: when the database cannot take the badge's audit
entry (disk full, locked: :mod:`edge_agent.transient`), the badge is ``refused`` with the reason ``try-again``
and its entry is owed (:meth:`.audit.AuditLog.owe`), written before the next one. (On a disk already full
the tap itself cannot be recorded, and the session service shows it as ``try-again`` before staff mode sees
it.) A PIN attempt is counted towards the lock before its PIN is checked, so a storage fault never gives a
free guess, and staff mode never opens without its entries written (:meth:`StaffModes.pin`).

Each change is published on ``local/staff`` (never retained, never bridged) and audited (:mod:`.audit`):
the badge's tap, every PIN attempt with its result (never the PIN), the start and end of staff mode.
Everything here runs under the session service's lock, so a tap and a PIN cannot cross.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ..commands import CommandError
from ..config import StaffConfig
from ..contract import (
    STAFF_MODE,
    AuditResult,
    SessionRequest,
    StaffModeView,
    StaffPinRequest,
    StaffRole,
    StaffState,
    encode,
)
from ..identity import Assurance, Outcome
from ..sessions import TRY_AGAIN, ActiveSession, SessionService
from ..store import Store
from ..transient import describe_fault, fault_of
from .audit import AuditLog
from .gate import StaffMember
from .lockout import Lockout, LockState
from .pin import verify_pin
from .records import StaffRecord, find_staff

logger = logging.getLogger(__name__)

# The kiosk ends staff mode at [staff] idle_s after the last touch and tells the agent it is still in use
# at most every STATUS_INTERVAL_S (kiosk.staff_state); the agent's own limit is this much later, a backstop.
IDLE_GRACE_S = 15.0


@dataclass(frozen=True)
class StaffSession:
    """What staff mode knows of one staff badge's session."""

    session: str
    card: str
    staff: str
    assurance: Assurance
    state: StaffState
    display_name: str | None = None
    role: StaffRole | None = None
    role_limited: str | None = None
    reason: str | None = None


class StaffModes:
    """Follows staff badges' sessions; answers ``staff-pin`` and ``staff-status``.

    :param store: the agent's database (staff records, lockouts).
    :param sessions: the session service it listens to.
    :param audit: the audit of staff actions.
    :param lockout: wrong PINs and locks.
    :param publish: ``publish(topic, payload) -> bool`` to the broker (QoS 1, not retained).
    :param topic: this device's ``local/staff`` topic.
    :param config: ``[staff]``.
    """

    def __init__(self, store: Store, sessions: SessionService, audit: AuditLog, lockout: Lockout,
                 publish: Callable[[str, bytes], bool], topic: str, config: StaffConfig):
        self._store = store
        self._sessions = sessions
        self._audit = audit
        self._lockout = lockout
        self._publish = publish
        self._topic = topic
        self._config = config
        self._current: StaffSession | None = None
        sessions.add_listener(started=self._on_started, ended=self._on_ended)

    # ------------------------------------------------------------------ the session service's listeners

    def _on_started(self, session: ActiveSession) -> None:
        decision = session.decision
        if decision.outcome is not Outcome.STAFF or decision.staff is None or session.token is None:
            return
        with self._store.reading() as conn:
            record = find_staff(conn, decision.staff)
            lock = self._lockout.state(conn, session.token)
        state, reason, result = StaffState.PIN_REQUIRED, None, AuditResult.OK
        if record is None:
            state, reason, result = StaffState.REFUSED, "unknown-staff", AuditResult.REFUSED
        elif lock.locked:
            state, reason, result = StaffState.LOCKED, "locked", AuditResult.LOCKED
        current = StaffSession(session.id, session.token, decision.staff, decision.assurance, state, reason=reason)
        try:
            self._audit.pay_owed()
            self._audit.record(decision.staff, "staff-badge", result)
        except sqlite3.Error as exc:
            fault = fault_of(exc)
            if fault is None:
                raise
            # Staff actions that cannot be audited are not allowed: no PIN pad until the disk takes writes.
            # The refused tap is owed to the audit, written before the next badge's or PIN's entry.
            logger.error("staff badge not audited (%s): refused", describe_fault(fault, exc))
            self._audit.owe(decision.staff, "staff-badge", AuditResult.REFUSED, target=TRY_AGAIN)
            current = replace(current, state=StaffState.REFUSED, reason=TRY_AGAIN)
        self._current = current
        self._announce(self._view(current))

    def _on_ended(self, session: ActiveSession, reason: str) -> None:
        current = self._current
        if current is None or current.session != session.id:
            return
        self._current = None
        if current.state is StaffState.ACTIVE:
            try:
                self._audit.record(current.staff, "staff-mode-end", AuditResult.OK, target=reason)
            except sqlite3.Error as exc:
                fault = fault_of(exc)
                if fault is None:
                    raise
                logger.error("the end of staff mode was not audited (%s)", describe_fault(fault, exc))
            logger.info("staff mode ended (%s)", reason)
        self._announce(self._view(replace(current, state=StaffState.ENDED, reason=reason)))

    # ------------------------------------------------------------------ the kiosk's requests

    def pin(self, request: StaffPinRequest) -> StaffModeView:
        """Check the PIN typed for the session's badge: staff mode, a wrong PIN (and how many are left) or
        the badge locked. The PIN is not kept, logged or audited; the attempt and its result are.

        An attempt is charged before its PIN is checked: the first durable commit counts it as a wrong PIN
        (:meth:`.lockout.Lockout.failed`, locking the badge at the fifth); only then is the PIN verified, and
        the second commit settles it: the right PIN clears the count and writes its audit entry with staff
        mode's start, a wrong one writes its audit entry (the count stands). So a storage fault (disk full,
        database locked) never gives a free guess: before the charge commits, the PIN is not checked at all
        and the request fails saying why (``storage full: …``); after it, the attempt has counted, whatever
        its PIN. And staff mode never opens without its audit entries written: when the settling commit
        fails, the request fails as well (the right PIN then costs one of the five attempts, and is asked
        for again), and the attempt's entry is owed (:meth:`.audit.AuditLog.owe`: written, result ``failed``
        or ``wrong-pin`` with the target ``try-again``, before the next badge's or PIN's entry).

        :raises CommandError: when the session is not a staff badge's PIN pad (gone, refused, already active).
        :raises sqlite3.Error: a storage fault (:mod:`edge_agent.transient`): the request's error answer.
        """
        with self._sessions.lock:
            current = self._staff_session(request.session)
            if current.state is StaffState.ACTIVE:
                raise CommandError("already in staff mode")
            if current.state is StaffState.REFUSED:
                raise CommandError("this badge names no staff member of this store")
            self._audit.pay_owed()  # a fault here: the PIN is not checked, the request fails saying why
            charged: LockState | None = None
            with self._store.transaction(durable=True) as conn:
                lock = self._lockout.state(conn, current.card)
                record = find_staff(conn, current.staff)
                if record is None:  # removed by central since the tap
                    current = replace(current, state=StaffState.REFUSED, reason="unknown-staff")
                    self._audit.record(current.staff, "pin-attempt", AuditResult.REFUSED)
                elif lock.locked:
                    current = replace(current, state=StaffState.LOCKED, reason="locked")
                    self._audit.record(current.staff, "pin-attempt", AuditResult.LOCKED)
                else:
                    charged = self._lockout.failed(conn, current.card)  # counted before the PIN is checked
            if record is not None and charged is not None:
                current = self._settle(current, record, request.pin, charged)
            self._current = current
            if current.state is StaffState.ACTIVE:
                logger.info("staff mode started (role %s)", current.role.value if current.role else "-")
            else:
                logger.info("staff PIN attempt: %s", current.reason)
            view = self._view(current)
            self._announce(view)
            return view

    def _settle(self, current: StaffSession, record: StaffRecord, pin: str, charged: LockState) -> StaffSession:
        """Verify ``pin`` of an attempt already counted as wrong (``charged``) and commit its result with its
        audit: staff mode (the count cleared) or the wrong PIN (the count stands)."""
        if verify_pin(record.pin_verifier, pin):
            role, limited = record.role, None
            if (role is StaffRole.MANAGER and self._config.manager_requires_sun
                    and current.assurance is not Assurance.SUN):
                role, limited = StaffRole.STAFF, "sun-required"
            settled = replace(current, state=StaffState.ACTIVE, display_name=record.display_name, role=role,
                              role_limited=limited, reason=None)
            entries = [("pin-attempt", AuditResult.OK, None), ("staff-mode-start", AuditResult.OK, role.value)]
            if limited:
                entries.append(("manager-role", AuditResult.REFUSED, limited))
        else:
            settled = replace(current, state=StaffState.LOCKED if charged.locked else StaffState.PIN_REQUIRED,
                              reason="locked" if charged.locked else "wrong-pin")
            entries = [("pin-attempt", AuditResult.WRONG_PIN, None)]
        try:
            with self._store.transaction(durable=True) as conn:
                if settled.state is StaffState.ACTIVE:
                    self._lockout.succeeded(conn, current.card)
                for action, result, target in entries:
                    self._audit.record(current.staff, action, result, target=target)
        except sqlite3.Error as exc:
            fault = fault_of(exc)
            if fault is None:
                raise
            # The attempt has counted; its entry is owed: a right PIN that could not open staff mode "failed".
            self._audit.owe(current.staff, "pin-attempt", AuditResult.FAILED
                            if settled.state is StaffState.ACTIVE else AuditResult.WRONG_PIN, target=TRY_AGAIN)
            logger.error("staff PIN attempt counted but its result not recorded (%s): asked again",
                         describe_fault(fault, exc))
            raise
        if settled.state is StaffState.ACTIVE:
            self._sessions.set_limits(current.session, self._config.idle_s + IDLE_GRACE_S, self._config.max_s)
        return settled

    def status(self, request: SessionRequest) -> StaffModeView:
        """The staff mode of the session now; asking keeps it alive (the kiosk asks while staff touch it).

        :raises CommandError: when the session is not a staff badge's.
        """
        with self._sessions.lock:
            return self._view(self._staff_session(request.session))

    def member(self, session: str) -> StaffMember | StaffState | None:
        """The member acting in ``session`` when it is in active staff mode (marked active), else its staff
        state, or None when it is no current staff session (the gate's look-up)."""
        with self._sessions.lock:
            try:
                current = self._staff_session(session)
            except CommandError:
                return None
            if current.state is not StaffState.ACTIVE or current.display_name is None or current.role is None:
                return current.state
            return StaffMember(current.staff, current.display_name, current.role, current.session)

    # ------------------------------------------------------------------ helpers

    def _staff_session(self, session: str) -> StaffSession:
        """The staff session ``session``, marked active at the session service.

        :raises CommandError: when it is not the current session or no staff badge's.
        """
        if self._sessions.current(session) is None:
            raise CommandError("no such session (it ended or was replaced)")
        current = self._current
        if current is None or current.session != session:
            raise CommandError("this session is no staff badge's")
        return current

    def _view(self, current: StaffSession) -> StaffModeView:
        active = current.state is StaffState.ACTIVE
        locked_until = attempts_left = None
        if current.state in (StaffState.PIN_REQUIRED, StaffState.LOCKED):
            with self._store.reading() as conn:
                lock = self._lockout.state(conn, current.card)
            attempts_left = lock.attempts_left
            if lock.locked:
                locked_until = datetime.fromtimestamp(self._lockout.now() + lock.locked_for_s, UTC)
        return StaffModeView(session=current.session, state=current.state,
                             display_name=current.display_name if active else None,
                             role=current.role if active else None,
                             role_limited=current.role_limited if active else None,
                             attempts_left=attempts_left, locked_until=locked_until,
                             idle_s=self._config.idle_s if active else None, reason=current.reason)

    def _announce(self, view: StaffModeView) -> None:
        _, raw = encode(STAFF_MODE, view)
        if not self._publish(self._topic, raw):
            logger.warning("staff mode %s not published: broker not connected", view.state.value)
