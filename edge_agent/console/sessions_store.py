"""Console logins kept in the console's SQLite, so a restart of the console keeps staff logged in.

A row per login in ``web_sessions``, keyed by the SHA-256 of its cookie token, never the token: a copy of the
database logs nobody in (the token has 256 random bits, so an unsalted fast hash is enough; nothing to guess).
The row holds what the login shows and checks (staff id, name, role, its CSRF token, its UUID) and when it was
last used, on the wall clock (a monotonic clock starts again at a restart). That time is written at most every
:data:`TOUCH_S` seconds, so a request does not cost a write; a login thus ends up to that much later than its
idle time after a restart. Its own migration set (``store_console_sessions``), beside the console's.
"""

from __future__ import annotations

import hashlib

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from ..contract import StaffRole
from .database import ConsoleDatabase

TOUCH_S = 60.0

migrations = Migrations("store_console_sessions")


@migrations()
def m001_web_sessions(db: Database) -> None:
    db.execute(
        """CREATE TABLE web_sessions (
            token_sha256 TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            staff TEXT NOT NULL,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL,
            csrf TEXT NOT NULL,
            last_seen REAL NOT NULL
        )""")
    db.execute("CREATE INDEX web_sessions_staff ON web_sessions (staff)")


def digest(token: str) -> str:
    """What the table keeps of a cookie token."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """The ``web_sessions`` table of the console's database (migrated on open)."""

    def __init__(self, db: ConsoleDatabase):
        self._db = db
        with db.reading() as conn:
            migrations.apply(Database(conn))

    def add(self, token: str, id: str, staff: str, display_name: str, role: StaffRole, csrf: str,
            last_seen: float) -> None:
        with self._db.transaction(durable=True) as conn:
            conn.execute("INSERT INTO web_sessions (token_sha256, id, staff, display_name, role, csrf, last_seen) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (digest(token), id, staff, display_name, role.value, csrf, last_seen))

    def get(self, token: str) -> tuple[str, str, str, StaffRole, str, float] | None:
        """(id, staff, display name, role, csrf, last seen) of ``token``'s login, or None."""
        with self._db.reading() as conn:
            row = conn.execute("SELECT id, staff, display_name, role, csrf, last_seen FROM web_sessions "
                               "WHERE token_sha256 = ?", (digest(token),)).fetchone()
        if row is None:
            return None
        return row[0], row[1], row[2], StaffRole(row[3]), row[4], row[5]

    def touch(self, token: str, last_seen: float) -> None:
        with self._db.transaction() as conn:
            conn.execute("UPDATE web_sessions SET last_seen = ? WHERE token_sha256 = ?", (last_seen, digest(token)))

    def remove(self, token: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM web_sessions WHERE token_sha256 = ?", (digest(token),))

    def remove_staff(self, staff: str) -> int:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM web_sessions WHERE staff = ?", (staff,)).rowcount

    def remove_idle(self, before: float) -> int:
        """Forget the logins last used before ``before``; how many."""
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM web_sessions WHERE last_seen < ?", (before,)).rowcount
