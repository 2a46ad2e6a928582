"""Which failures pass by themselves, and how to speak of any failure without personal data.

A message that could not be applied because the database's disk is full, the
database is locked by another process, or the disk reported an I/O error was
not applied *for now*: the same message applied again once the condition has
passed succeeds. Such a push is not acknowledged to the broker but held and
retried (:mod:`edge_agent.inbox`); a request gets an error answer saying why
(``storage full: database or disk is full``); a tap that cannot be recorded
shows no personal session (:mod:`edge_agent.sessions`). Everything else that
escapes a handler is a bug: it is reported, never retried, and described by
its type and where it was raised only, since an exception's text may quote
the values (a customer id, a name) it choked on.

This module is the one place that tells the two apart.
"""

from __future__ import annotations

import errno
import sqlite3
import traceback
from enum import StrEnum
from pathlib import Path

# SQLite's primary result codes (https://sqlite.org/rescode.html); an extended code keeps its primary
# code in the low byte (SQLITE_IOERR_WRITE is 778 = 3 << 8 | 10).
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_NOMEM = 7
SQLITE_IOERR = 10
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_PROTOCOL = 15


class Fault(StrEnum):
    """A condition of the database's storage that passes without a change to the message."""

    FULL = "full"  # the file system (or the database's size limit) has no room
    BUSY = "busy"  # another connection holds the lock longer than the busy timeout
    IO = "io-error"  # the disk reported an error: a flaky card or USB disk


_SQLITE_FAULTS = {
    SQLITE_FULL: Fault.FULL,
    SQLITE_BUSY: Fault.BUSY,
    SQLITE_LOCKED: Fault.BUSY,
    SQLITE_PROTOCOL: Fault.BUSY,  # a lock race in WAL mode; SQLite says to retry
    SQLITE_IOERR: Fault.IO,
    SQLITE_CANTOPEN: Fault.IO,  # the WAL or a temporary file could not be created (no inodes, I/O)
    SQLITE_NOMEM: Fault.IO,
}

_OS_FAULTS = {
    errno.ENOSPC: Fault.FULL,
    errno.EDQUOT: Fault.FULL,
    errno.EIO: Fault.IO,
}

_WORDS = {Fault.FULL: "storage full", Fault.BUSY: "storage busy", Fault.IO: "storage error"}


def fault_of(exc: BaseException) -> Fault | None:
    """The transient storage condition ``exc`` reports, or None when it is not one (a bug, bad input)."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:
            return None
        return _SQLITE_FAULTS.get(code & 0xFF)
    if isinstance(exc, OSError) and exc.errno is not None:
        return _OS_FAULTS.get(exc.errno)
    return None


def describe_fault(fault: Fault, exc: BaseException) -> str:
    """``storage full: database or disk is full``: what a log line, an error answer or health says.

    SQLite's and the OS's messages name the condition, never a value; an OSError's file name is left out.
    """
    if isinstance(exc, OSError):
        detail = exc.strerror or errno.errorcode.get(exc.errno or 0, "error")
    else:
        detail = str(exc) or type(exc).__name__
    return f"{_WORDS[fault]}: {detail}"


def describe_bug(exc: BaseException) -> str:
    """``internal error: OverflowError at offers.py:88 in _bound``: the type and the innermost frame of
    the agent's own code, never the exception's text (which may quote the values it failed on)."""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [frame for frame in frames if "edge_agent" in Path(frame.filename).parts] or frames
    if own:
        frame = own[-1]
        where = f" at {Path(frame.filename).name}:{frame.lineno} in {frame.name}"
    return f"internal error: {type(exc).__name__}{where}"


def locations(exc: BaseException) -> str:
    """The traceback of ``exc`` as file:line in function, one per line, without the exception's text:
    enough to find the bug in a log that must not hold personal data."""
    lines = [f"  {Path(frame.filename).name}:{frame.lineno} in {frame.name}"
             for frame in traceback.extract_tb(exc.__traceback__)]
    return "\n".join(lines)
