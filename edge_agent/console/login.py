"""Logging in at the console: staff id and PIN against central's staff records, with the kiosk's verifier and
lockout.

The console keeps its own copy of the store's staff records: it subscribes to central's ``staff`` pushes for
the store with its own broker login (as every agent does; the ACL lets the console read them) and applies
them with the agent's own :func:`edge_agent.staff.records.apply_staff`, into its own SQLite. A PIN is checked
by :func:`edge_agent.staff.pin.verify_pin` (argon2id) and wrong PINs count in
:class:`edge_agent.staff.lockout.Lockout`: five wrong PINs lock the staff id at the console for five minutes,
each further lock twice as long. The lock is per staff id at the console (``console:<id>`` in the lockout
table); the PIN is never stored, logged or audited, and a wrong id costs the same hash as a wrong PIN.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ..contract import StaffPush, StaffRole
from ..staff.lockout import Lockout
from ..staff.pin import hash_pin, verify_pin
from ..staff.records import apply_staff, find_staff
from .database import ConsoleDatabase

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # unknown id or wrong PIN: the same answer, so ids cannot be probed
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginResult:
    """How a login attempt came out; the member when it succeeded."""

    outcome: Outcome
    staff: str | None = None
    display_name: str | None = None
    role: StaffRole | None = None
    attempts_left: int | None = None
    locked_for_s: float | None = None


class StaffLogin:
    """Staff records and PIN checks of the console.

    :param db: the console's database.
    :param clock: wall-clock seconds, for the lockout.
    """

    def __init__(self, db: ConsoleDatabase, clock: Callable[[], float] = time.time):
        self._db = db
        self.lockout = Lockout(clock)
        # Hashed once: a login with an unknown id checks against it, so it takes as long as a wrong PIN.
        self._decoy = hash_pin("00000000")

    def apply_push(self, push: StaffPush) -> None:
        """Apply central's ``staff`` push (older versions are refused like at the agent).

        :raises RejectedMessage: for an older version or a verifier the project does not accept.
        """
        with self._db.transaction() as conn:
            apply_staff(conn, push)
        logger.info("staff record %s version %d applied", push.staff, push.version)

    def attempt(self, staff: str, pin: str) -> LoginResult:
        """Check ``pin`` for ``staff`` (slow on purpose: argon2id; call it off the event loop)."""
        key = f"console:{staff}"
        with self._db.reading() as conn:
            state = self.lockout.state(conn, key)
            record = find_staff(conn, staff)
        if state.locked:
            return LoginResult(Outcome.LOCKED, staff=staff, locked_for_s=state.locked_for_s)
        ok = verify_pin(record.pin_verifier if record else self._decoy, pin) and record is not None
        with self._db.transaction(durable=True) as conn:
            if ok and record is not None:
                self.lockout.succeeded(conn, key)
                return LoginResult(Outcome.OK, record.staff, record.display_name, record.role)
            after = self.lockout.failed(conn, key)
        if after.locked:
            return LoginResult(Outcome.LOCKED, staff=staff, locked_for_s=after.locked_for_s)
        return LoginResult(Outcome.WRONG, staff=staff, attempts_left=after.attempts_left)

    def member(self, staff: str) -> tuple[str, StaffRole] | None:
        """(display name, role) of an active member now, or None: a login ends when its member is removed."""
        with self._db.reading() as conn:
            record = find_staff(conn, staff)
        return (record.display_name, record.role) if record else None
