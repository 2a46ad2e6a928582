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

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from .migrations import migrations
from .transient import Fault, describe_fault, fault_of

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


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
        self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.db = Database(self.conn)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        # The last storage fault a write met, and what it said; None once a write commits again.
        self.fault: tuple[Fault, str] | None = None
        with self._lock:
            migrations.apply(self.db)

    @contextmanager
    def transaction(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on success, rolled back on error.

        A storage fault (:mod:`edge_agent.transient`: disk full, locked, I/O error) on the way is
        remembered as :attr:`fault` until a transaction commits again; the exception is raised as it came.

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
                    self.conn.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except Exception as exc:
                self._note(exc)
                raise
            finally:
                callbacks, self._local.after_commit = self._local.after_commit, []
                self._local.durable = None
                if durable:
                    self.conn.execute("PRAGMA synchronous=NORMAL")
            self.fault = None
        for callback in callbacks:  # only reached after a successful commit
            callback()

    def _rollback(self) -> None:
        # SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR and
        # SQLITE_BUSY can, https://sqlite.org/lang_transaction.html), and a failed COMMIT may leave it
        # open: roll back only what is still open, and never let the rollback hide the error that
        # caused it, or leave the connection inside a transaction that makes every later BEGIN fail.
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                logger.error("rollback failed: %s", exc)

    def _note(self, exc: BaseException) -> None:
        fault = fault_of(exc)
        if fault is not None:
            self.fault = (fault, describe_fault(fault, exc))

    def probe(self) -> bool:
        """While :attr:`fault` is set: try a write that changes nothing, without waiting for a lock
        (the caller may be the watchdog's thread); True when the database takes writes again (for a
        full disk: and the file system has room again)."""
        if self.fault is None:
            return True
        if self.fault[0] is Fault.FULL and self.free_bytes() == 0:
            return False  # a write may still fit where a failed one left room, but the disk is full
        if not self._lock.acquire(blocking=False):
            return False  # another thread is writing (and may be waiting for the lock): it will tell
        try:
            self.conn.execute("PRAGMA busy_timeout=0")
            try:
                with self.transaction() as conn:
                    conn.execute("UPDATE sync_state SET seq = seq WHERE name = 'offers'")
            except sqlite3.Error:
                return False
            finally:
                self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            self._lock.release()
        return True

    def free_bytes(self) -> int | None:
        """Bytes free for this process on the database's file system; None for an in-memory database."""
        if self.path == ":memory:":
            return None
        try:
            stat = os.statvfs(Path(self.path).parent)
        except OSError:
            return None
        return stat.f_bavail * stat.f_frsize

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
            reader.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
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
