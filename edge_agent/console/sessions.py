"""Console logins: the session behind the cookie, its CSRF token, its role, and its end.

A login is a random 256-bit token in the cookie ``__Host-console-session`` (HttpOnly, SameSite=Strict, Secure,
Path=/; the ``__Host-`` prefix makes the browser refuse it over plain HTTP or for another host); the console
keeps the sessions in memory, so a restart of the console logs everyone out (staff log in again; nothing else
is lost). Each session has its own CSRF token: every form carries it and a POST without it (or with another)
is refused (:mod:`.csrf`). A session ends after ``idle_s`` without a request, at logout, or when central
removes the staff member.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ..contract import StaffRole

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
    :param clock: monotonic seconds.
    """

    def __init__(self, idle_s: float, clock: Callable[[], float] = time.monotonic):
        self.idle_s = idle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, WebSession] = {}

    def start(self, staff: str, display_name: str, role: StaffRole) -> WebSession:
        """A new login (its token goes into the cookie)."""
        session = WebSession(secrets.token_urlsafe(32), str(uuid.uuid4()), staff, display_name, role,
                             secrets.token_urlsafe(32), self._clock())
        with self._lock:
            self._sessions[session.token] = session
        return session

    def find(self, token: str | None) -> WebSession | None:
        """The live session of ``token`` (its idle time starts again), or None."""
        if not token:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_seen > self.idle_s:
                del self._sessions[token]
                return None
            session.last_seen = now
            return session

    def end(self, token: str) -> WebSession | None:
        """End one login; the session it was, if any."""
        with self._lock:
            return self._sessions.pop(token, None)

    def end_staff(self, staff: str) -> int:
        """End every login of ``staff`` (removed by central); how many."""
        with self._lock:
            tokens = [token for token, session in self._sessions.items() if session.staff == staff]
            for token in tokens:
                del self._sessions[token]
        return len(tokens)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
