"""CSRF: every form carries a token, and a POST without the right one is refused (403) before any handler.

A logged-in form carries its session's token (:attr:`.sessions.WebSession.csrf`). The login form, before any
session, uses a double-submit token: a random value in the cookie ``__Host-console-csrf`` (HttpOnly,
SameSite=Strict, Secure) and the same value in the form. Comparisons are constant-time. SameSite=Strict
already keeps other sites' forms from sending the session cookie; the token is the second lock.
"""

from __future__ import annotations

import hmac
import secrets

LOGIN_COOKIE = "__Host-console-csrf"
FIELD = "csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def matches(expected: str | None, given: str | None) -> bool:
    """Whether the form's token is the expected one (both present)."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
