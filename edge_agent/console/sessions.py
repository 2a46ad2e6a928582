"""Console logins: the session behind the cookie, its CSRF token, its role, and its end.

A login is a random 256-bit token in the cookie ``__Host-console-session`` (HttpOnly, SameSite=Strict, Secure,
Path=/; the ``__Host-`` prefix makes the browser refuse it over plain HTTP or for another host). The console
keeps the sessions in memory and, given its database, in SQLite too (:mod:`.sessions_store`: keyed by the
token's hash, never the token), so a restart of the console keeps staff logged in. Each session has its own
CSRF token: every form carries it and a POST without it (or with another) is refused (:mod:`.csrf`). A
session ends after ``idle_s`` without a request, at logout, or when central removes the staff member.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ..contract import StaffRole
from .sessions_store import TOUCH_S, SessionStore

COOKIE = "__Host-console-session"


@dataclass
class WebSession:
    """One logged-in staff member on one browser."""

    token: str
    id: str  # a UUID naming this login in the agents' logs and the console's requests (never the token)
    staff: str
    display_name: str
    role: StaffRole
    csrf: str
    last_seen: float = field(default=0.0)

    def may(self, role: StaffRole) -> bool:
        """Whether this login's role covers ``role`` (a manager may do what staff may)."""
        return self.role is StaffRole.MANAGER or role is StaffRole.STAFF


class Sessions:
    """The console's logins.

    :param idle_s: a login ends this long after its last request.
    :param clock: seconds: monotonic in memory only; the wall clock with a ``store`` (it must go on across a
        restart).
    :param store: where logins outlast a restart (the console's SQLite), or None for memory only.
    """

    def __init__(self, idle_s: float, clock: Callable[[], float] = time.monotonic, store: SessionStore | None = None):
        self.idle_s = idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, WebSession] = {}
        self._store = store
        self._stored_seen: dict[str, float] = {}  # token -> the last_seen written to the store
        if store is not None:
            store.remove_idle(clock() - idle_s - TOUCH_S)

    def start(self, staff: str, display_name: str, role: StaffRole) -> WebSession:
        """A new login (its token goes into the cookie)."""
        session = WebSession(secrets.token_urlsafe(32), str(uuid.uuid4()), staff, display_name, role,
                             secrets.token_urlsafe(32), self._clock())
        with self._lock:
            self._sessions[session.token] = session
            if self._store is not None:
                self._store.add(session.token, session.id, staff, display_name, role, session.csrf,
                                session.last_seen)
                self._stored_seen[session.token] = session.last_seen
        return session

    def _load(self, token: str) -> WebSession | None:
        """A login of an earlier run of the console, from the store (under the lock)."""
        if self._store is None:
            return None
        row = self._store.get(token)
        if row is None:
            return None
        id_, staff, display_name, role, csrf, last_seen = row
        session = WebSession(token, id_, staff, display_name, role, csrf, last_seen)
        self._sessions[token] = session
        self._stored_seen[token] = last_seen
        return session

    def find(self, token: str | None) -> WebSession | None:
        """The live session of ``token`` (its idle time starts again), or None."""
        if not token:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(token) or self._load(token)
            if session is None:
                return None
            if now - session.last_seen > self.idle_s:
                self._forget(token)
                return None
            session.last_seen = now
            if self._store is not None and now - self._stored_seen.get(token, 0.0) >= TOUCH_S:
                self._store.touch(token, now)
                self._stored_seen[token] = now
            return session

    def _forget(self, token: str) -> WebSession | None:
        self._stored_seen.pop(token, None)
        if self._store is not None:
            self._store.remove(token)
        return self._sessions.pop(token, None)

    def end(self, token: str) -> WebSession | None:
        """End one login; the session it was, if any."""
        with self._lock:
            if token in self._sessions or self._load(token) is not None:
                return self._forget(token)
            return None

    def end_staff(self, staff: str) -> int:
        """End every login of ``staff`` (removed by central); how many."""
        with self._lock:
            tokens = [token for token, session in self._sessions.items() if session.staff == staff]
            for token in tokens:
                self._forget(token)
            stored = self._store.remove_staff(staff) if self._store is not None else 0
        return max(len(tokens), stored)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
