"""The agent's local state: one SQLite database in WAL mode.

Writes go through one connection, shared by the agent's threads under a lock;
every write is a short transaction. Reads outside a transaction use a
read-only connection of their own thread: in WAL mode they see the last
commit without waiting for a writer that is syncing to disk (the outbox drain
must not queue behind the next event's fsync). Durable transactions (outbox, consent, erasure) commit with
``synchronous=FULL`` so they survive power loss; the rest use NORMAL, which
survives a crashed process but may lose the last commits on power loss.

Opening checks the file before anything is written to it. A path that
cannot hold a database (a folder, a file the agent may not read or write, a
folder it may not create) raises :class:`StoreError` naming the path and what
is wrong; the command line exits with
:data:`~edge_agent.problems.EXIT_FAILURE` (1). A file that is there but
damaged (not an SQLite database, a garbage header, truncated, or failing
``PRAGMA quick_check``) does not stop the agent: a shop wants its kiosk to go
on working, and everything in the database is either pushed again by central
or kept only for a while (the outbox's events, de-duplication ids). So the
damaged file is moved aside, with its ``-wal`` and ``-shm`` files, to
``<name>.damaged-<UTC time>`` (kept for whoever wants to look at it), an
empty database is started in its place, and :attr:`Store.damaged` says what
happened: the agent logs it as an error and sends it as an ``event/error``
so central knows to push the store's data again. A database that is only
busy or on a failing disk (``SQLITE_BUSY``, ``SQLITE_IOERR``...) is not
damaged and is never moved: that is a :class:`StoreError` too.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from .errors import EdgeAgentError
from .migrations import migrations
from .transient import Fault, describe_fault, fault_of

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default, said here: about 4 MB of WAL between automatic checkpoints
WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024  # the -wal file is truncated to this after a checkpoint
CHECKPOINT_WAIT_MS = 200  # how long the idle checkpoint waits for a reader before it tries another time

logger = logging.getLogger(__name__)

# What SQLite says of a file that is not a sound database (its primary result codes); anything else (busy, locked,
# I/O error, read-only, cannot open) is about the file's surroundings, and the file is left where it is.
_DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
# The first bytes of every SQLite 3 database file (an empty file is an empty database).
_HEADER = b"SQLite format 3\x00"
#: The lines of ``PRAGMA quick_check`` kept in the message about a damaged file.
_CHECK_LINES = 3


class StoreError(EdgeAgentError):
    """The database file cannot be used where it is: the message names the path and what is wrong."""


@dataclass(frozen=True)
class Damaged:
    """A damaged database found at start: what was wrong and where the file was moved."""

    path: Path
    moved_to: Path
    reason: str

    def __str__(self) -> str:
        return (f"database {self.path} was damaged ({self.reason}); moved to {self.moved_to} and started empty: "
                f"central must push this store's data again")


class Store:
    """Owns the SQLite connection.

    :param path: database file, created with its folder when missing;
        ``":memory:"`` for tests.
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        #: Set when the file at ``path`` was damaged and has been moved aside (see the module docstring).
        self.damaged: Damaged | None = None
        if self.path != ":memory:":
            _check_place(Path(path))
            reason = _damage(Path(path))
            if reason is not None:
                self.damaged = _move_aside(Path(path), reason)
                logger.error("%s", self.damaged)
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path}: cannot be opened: {exc}") from None
        self.conn.execute("PRAGMA journal_mode=WAL")
        self._configure_wal()
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

    # ------------------------------------------------------------------ the write-ahead log, kept small

    def _configure_wal(self) -> None:
        # SQLite checkpoints the WAL into the database by itself every WAL_AUTOCHECKPOINT_PAGES pages
        # (PASSIVE: it never waits for a reader), but never shrinks the -wal file: without a size limit
        # a burst (a catalogue push, a long offline backlog) leaves a file that big for months.
        self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        self.conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")

    @property
    def changes(self) -> int:
        """Rows changed through the writing connection since it opened: unchanged means no write since."""
        with self._lock:
            return self.conn.total_changes

    def wal_bytes(self) -> int:
        """Size of the ``-wal`` file (0 when there is none, or in memory)."""
        if self.path == ":memory:":
            return 0
        try:
            return os.stat(self.path + "-wal").st_size
        except OSError:
            return 0

    def checkpoint(self) -> bool:
        """Copy the whole WAL into the database and truncate the ``-wal`` file to nothing
        (``PRAGMA wal_checkpoint(TRUNCATE)``); True when it completed.

        Meant for a quiet moment (the agent's housekeeping runs it when the database had no write for
        ``[retention] checkpoint_idle_s``): it holds the write lock while it copies, and waits at most
        :data:`CHECKPOINT_WAIT_MS` for readers still on an older snapshot, else it leaves the rest for
        the next time (False).
        """
        if self.path == ":memory:":
            return True
        with self._lock:
            self.conn.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            try:
                busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return busy == 0

    def close(self) -> None:
        with self._lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
            self.conn.close()


# --------------------------------------------------------------------------- opening: the file and its health


def _check_place(path: Path) -> None:
    """Raise :class:`StoreError` unless ``path`` can hold the database: a regular file the agent may read and
    write, or nothing yet in a folder it may create files in (made when missing)."""
    if path.parent.exists() and not path.parent.is_dir():
        raise StoreError(f"database {path}: {path.parent} is not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"database {path}: its folder {path.parent} cannot be created: {exc.strerror}") from None
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise StoreError(f"database {path}: cannot be created: the folder {path.parent} is not writable") \
                from None
        return
    except OSError as exc:
        raise StoreError(f"database {path}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise StoreError(f"database {path}: is a folder, not a database file")
    if not stat.S_ISREG(mode):
        raise StoreError(f"database {path}: is not a regular file")
    try:
        with open(path, "r+b"):
            pass
    except OSError as exc:
        raise StoreError(f"database {path}: cannot be opened for reading and writing: {exc.strerror}") from None


def _damage(path: Path) -> str | None:
    """What is wrong with the database file at ``path`` (SQLite's words), or None when it is sound or absent.

    :raises StoreError: when SQLite cannot tell because of something else (busy, an I/O error).
    """
    try:
        with open(path, "rb") as file:
            header = file.read(len(_HEADER))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"database {path}: cannot be read: {exc.strerror}") from None
    if header and header != _HEADER:  # looked at before SQLite opens it: SQLite may reset a WAL beside it
        return "file is not a database (it does not start with 'SQLite format 3')"
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"database {path}: cannot be opened: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        rows = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", None) in _DAMAGED:
            return str(exc)
        raise StoreError(f"database {path}: cannot be checked: {exc}") from None
    finally:
        conn.close()
    if rows == ["ok"]:
        return None
    # One row may hold many lines, under a "*** in database main ***" heading.
    lines = [line for row in rows for line in str(row).splitlines() if line.strip() and not line.startswith("***")]
    more = f"; and {len(lines) - _CHECK_LINES} more" if len(lines) > _CHECK_LINES else ""
    return "quick_check: " + "; ".join(lines[:_CHECK_LINES]) + more


def _move_aside(path: Path, reason: str) -> Damaged:
    """Rename the damaged database at ``path`` (and its -wal, -shm) to ``<name>.damaged-<UTC time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    counter = 1
    while target.exists():  # two starts within a second
        target = path.with_name(f"{path.name}.damaged-{stamp}-{counter}")
        counter += 1
    try:
        for suffix in ("-wal", "-shm", ""):  # the main file last: a crash in between leaves it to be found again
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                os.replace(companion, target.with_name(target.name + suffix))
    except OSError as exc:
        raise StoreError(f"database {path}: damaged ({reason}) and cannot be moved aside: {exc.strerror}") \
            from None
    return Damaged(path, target, reason)
