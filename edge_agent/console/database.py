"""The console's own SQLite: what it knows survives a restart of the console (and of the broker).

Tables: ``devices`` (the device model, :mod:`.devices`), ``staff`` and ``staff_lockouts`` (the same shape as the
agent's, so :mod:`edge_agent.staff.records` and :mod:`edge_agent.staff.lockout` work on them unchanged) and
``audit_queue`` (staff actions at the console waiting for the broker's PUBACK, :mod:`.audit`). Schema changes
are numbered sqlite-utils migrations, like the agent's. One connection, shared by the MQTT thread and the web
server's threads under a lock; WAL with ``synchronous=NORMAL`` (the device model is rebuilt from retained
messages anyway), ``FULL`` for the commits of the audit queue.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("store_console")


@migrations()
def m001_console(db: Database) -> None:
    for statement in (
        """CREATE TABLE devices (
            device TEXT PRIMARY KEY,
            state TEXT, state_reason TEXT, state_at REAL,
            birth TEXT, birth_at REAL,
            health TEXT, health_at REAL,
            schedule TEXT, schedule_at REAL,
            offline_seen INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID""",
        """CREATE TABLE staff (
            staff TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            active INTEGER NOT NULL,
            display_name TEXT,
            role TEXT,
            pin_verifier TEXT,
            updated REAL NOT NULL)""",
        """CREATE TABLE staff_lockouts (
            card TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            locks INTEGER NOT NULL,
            locked_at REAL,
            locked_s REAL) WITHOUT ROWID""",
        """CREATE TABLE audit_queue (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL,
            payload BLOB NOT NULL)""",
    ):
        db.execute(statement)


class ConsoleDatabase:
    """The console's database file, migrated on open.

    :param path: the SQLite file (its folder is made).
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()
        with self._lock:
            migrations.apply(Database(self._conn))

    @contextmanager
    def transaction(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction (``durable``: committed with ``synchronous=FULL``); rolled back on an exception."""
        with self._lock:
            if durable:
                self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                if durable:
                    self._conn.execute("PRAGMA synchronous=NORMAL")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads."""
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()
