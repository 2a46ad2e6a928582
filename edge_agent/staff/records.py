"""Staff records from central: the ``staff`` push applied to SQLite, and looking a member up.

A record is versioned like every push (an older version is rejected, the same one is a no-op); ``active:
false`` removes the member: their name and PIN verifier are deleted at once, and only the id and the
version stay, so a late older copy cannot bring them back. A verifier whose argon2 parameters are outside
what this agent accepts (:data:`edge_agent.staff.pin.ACCEPTED`: less than 64 MiB per guess, or too costly
for the device) rejects the push, saying which parameter. Everything works offline from what was pushed.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from ..contract import StaffPush, StaffRole
from ..errors import RejectedMessage
from ..outbox import Outbox
from .pin import PinVerifierError, parameters_of


@dataclass(frozen=True)
class StaffRecord:
    """An active member of staff as stored: id, the name the kiosk shows, role and PIN verifier."""

    staff: str
    display_name: str
    role: StaffRole
    pin_verifier: str


def apply_staff(conn: sqlite3.Connection, push: StaffPush, outbox: Outbox | None = None) -> None:
    """Apply central's ``staff`` push (the inbox's applier; inside its transaction).

    :raises RejectedMessage: for a version older than the stored one, or a verifier this agent does not
        accept (nothing is applied).
    """
    row = conn.execute("SELECT version FROM staff WHERE staff = ?", (push.staff,)).fetchone()
    if row is not None and push.version < row[0]:
        raise RejectedMessage(f"version {push.version} is older than the stored version {row[0]}")
    if row is not None and push.version == row[0]:
        return
    if push.active:
        assert push.pin_verifier is not None and push.role is not None, "StaffPush checks an active record"
        try:
            parameters_of(push.pin_verifier)
        except PinVerifierError as exc:
            raise RejectedMessage(f"pin_verifier: {exc}") from None
    conn.execute(
        "INSERT INTO staff (staff, version, active, display_name, role, pin_verifier, updated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (staff) DO UPDATE SET version = excluded.version, "
        "active = excluded.active, display_name = excluded.display_name, role = excluded.role, "
        "pin_verifier = excluded.pin_verifier, updated = excluded.updated",
        (push.staff, push.version, int(push.active), push.display_name if push.active else None,
         push.role.value if push.active and push.role else None, push.pin_verifier if push.active else None,
         time.time()))


def find_staff(conn: sqlite3.Connection, staff: str) -> StaffRecord | None:
    """The active member ``staff``, or None (never pushed, or removed)."""
    row = conn.execute("SELECT display_name, role, pin_verifier FROM staff WHERE staff = ? AND active = 1",
                       (staff,)).fetchone()
    if row is None:
        return None
    return StaffRecord(staff, row[0], StaffRole(row[1]), row[2])
