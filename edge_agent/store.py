"""The agent's local state: one SQLite database in WAL mode.

Writes go through one connection, shared by the agent's threads under a lock;
every write is a short transaction. Reads outside a transaction use a
read-only connection of their own thread: in WAL mode they see the last
commit without waiting for a writer that is syncing to disk (the outbox drain
must not queue behind the next event's fsync). Durable transactions (outbox, consent, erasure) commit with
``synchronous=FULL`` so they survive power loss; the rest use NORMAL, which
survives a crashed process but may lose the last commits on power loss.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from .migrations import migrations


class Store:
    """Owns the SQLite connection.

    :param path: database file, created with its folder when missing;
        ``":memory:"`` for tests.
    """

    def __init__(self, path: str | Path):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.db = Database(self.conn)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        with self._lock:
            migrations.apply(self.db)

    @contextmanager
    def transaction(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on success, rolled back on error.

        :param durable: commit with ``synchronous=FULL``. A nested call joins
            the outer transaction; it cannot ask for more durability than it.
        :raises RuntimeError: when a durable transaction is nested in a non-durable one.
        """
        with self._lock:
            outer = getattr(self._local, "durable", None)
            if outer is not None:
                if durable and not outer:
                    raise RuntimeError("durable transaction nested in a non-durable one")
                yield self.conn
                return
            if durable:
                self.conn.execute("PRAGMA synchronous=FULL")
            self._local.durable = durable
            self._local.after_commit = []
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            finally:
                callbacks, self._local.after_commit = self._local.after_commit, []
                self._local.durable = None
                if durable:
                    self.conn.execute("PRAGMA synchronous=NORMAL")
        for callback in callbacks:  # only reached after a successful commit
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this thread's transaction has committed (at once outside one).

        Dropped when the transaction rolls back. Readers on other connections
        see a change only after the commit, so wake them from here.
        """
        if getattr(self._local, "durable", None) is None:
            callback()
        else:
            self._local.after_commit.append(callback)

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads: inside this thread's transaction the writing
        connection (to see its own changes), else this thread's read-only one."""
        if getattr(self._local, "durable", None) is not None or self.path == ":memory:":
            with self._lock:
                yield self.conn
            return
        reader = getattr(self._local, "reader", None)
        if reader is None:
            reader = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                     check_same_thread=False)
            reader.execute("PRAGMA busy_timeout=5000")
            self._local.reader = reader
            with self._lock:
                self._readers.append(reader)
        yield reader

    def close(self) -> None:
        with self._lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
            self.conn.close()
