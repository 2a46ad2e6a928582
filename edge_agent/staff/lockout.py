"""Wrong PINs per staff badge, and the badge's lock: five wrong PINs lock it for five minutes, each further
lock twice as long as the one before. Kept in SQLite, so a restart neither forgets a lock nor the wrong
PINs counted towards the next one.

A badge is its card token (never its UID). The locks count on the wall clock (they must survive a reboot,
which the boot clock does not), taken from an injectable ``now`` so tests need not wait five minutes. A wall
clock set back cannot lengthen a lock: what is left of it is never more than the lock's own length. The
right PIN clears the badge's count and its doubling.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

MAX_FAILURES = 5
FIRST_LOCK_S = 300.0


@dataclass(frozen=True)
class LockState:
    """Where a badge stands: wrong PINs left before it locks, and the seconds of its lock still to run
    (0 when it is not locked)."""

    attempts_left: int
    locked_for_s: float
    locks: int

    @property
    def locked(self) -> bool:
        return self.locked_for_s > 0


class Lockout:
    """Counts wrong PINs per badge and locks badges.

    :param now: wall-clock seconds (``time.time``); replaceable in tests.
    :param max_failures: wrong PINs that lock a badge.
    :param first_lock_s: the first lock's length; each later one doubles it.
    """

    def __init__(self, now: Callable[[], float], max_failures: int = MAX_FAILURES,
                 first_lock_s: float = FIRST_LOCK_S):
        self.now = now
        self.max_failures = max_failures
        self.first_lock_s = first_lock_s

    def state(self, conn: sqlite3.Connection, card: str) -> LockState:
        """The badge's state now."""
        row = conn.execute("SELECT failures, locks, locked_at, locked_s FROM staff_lockouts WHERE card = ?",
                           (card,)).fetchone()
        if row is None:
            return LockState(self.max_failures, 0.0, 0)
        failures, locks, locked_at, locked_s = row
        left = 0.0
        if locked_at is not None and locked_s:
            left = min(locked_at + locked_s - self.now(), locked_s)  # a clock set back cannot lengthen it
        if left > 0:
            return LockState(0, left, locks)
        return LockState(max(0, self.max_failures - failures), 0.0, locks)

    def failed(self, conn: sqlite3.Connection, card: str) -> LockState:
        """Count a wrong PIN (inside the caller's transaction); locks the badge at the fifth."""
        state = self.state(conn, card)
        if state.locked:
            return state
        failures = self.max_failures - state.attempts_left + 1
        if failures < self.max_failures:
            conn.execute("INSERT INTO staff_lockouts (card, failures, locks, locked_at, locked_s) "
                         "VALUES (?, ?, ?, NULL, NULL) ON CONFLICT (card) DO UPDATE SET failures = excluded.failures",
                         (card, failures, state.locks))
            return LockState(self.max_failures - failures, 0.0, state.locks)
        locks = state.locks + 1
        length = self.first_lock_s * 2 ** (locks - 1)
        conn.execute("INSERT INTO staff_lockouts (card, failures, locks, locked_at, locked_s) VALUES (?, 0, ?, ?, ?) "
                     "ON CONFLICT (card) DO UPDATE SET failures = 0, locks = excluded.locks, "
                     "locked_at = excluded.locked_at, locked_s = excluded.locked_s",
                     (card, locks, self.now(), length))
        return LockState(0, length, locks)

    def succeeded(self, conn: sqlite3.Connection, card: str) -> None:
        """The right PIN: the badge starts afresh."""
        conn.execute("DELETE FROM staff_lockouts WHERE card = ?", (card,))


def move_lockout(conn: sqlite3.Connection, old: str, new: str) -> bool:
    """Move badge ``old``'s wrong PINs and lock to token ``new`` (a store key rotation re-links the badge,
    :func:`edge_agent.privacy.relink_card`), inside the caller's transaction; True when there was one to move.

    A badge must not start its five guesses afresh because its token changed. When ``new`` has a row of its
    own the stricter of the two is kept: the more wrong PINs, the more locks (the next lock's length), and
    the lock that ends later.
    """
    row = conn.execute("SELECT failures, locks, locked_at, locked_s FROM staff_lockouts WHERE card = ?",
                       (old,)).fetchone()
    if row is None:
        return False
    failures, locks, locked_at, locked_s = row
    mine = conn.execute("SELECT failures, locks, locked_at, locked_s FROM staff_lockouts WHERE card = ?",
                        (new,)).fetchone()
    if mine is not None:
        failures, locks = max(failures, mine[0]), max(locks, mine[1])
        if mine[2] is not None and mine[3] and (locked_at is None or not locked_s
                                                or mine[2] + mine[3] > locked_at + locked_s):
            locked_at, locked_s = mine[2], mine[3]
    conn.execute("INSERT INTO staff_lockouts (card, failures, locks, locked_at, locked_s) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT (card) DO UPDATE SET failures = excluded.failures, locks = excluded.locks, "
                 "locked_at = excluded.locked_at, locked_s = excluded.locked_s",
                 (new, failures, locks, locked_at, locked_s))
    conn.execute("DELETE FROM staff_lockouts WHERE card = ?", (old,))
    return True
