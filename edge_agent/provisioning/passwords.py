"""Broker passwords: new random ones, and Mosquitto's password-file hashes written by Python.

Mosquitto 2 keeps a login as ``user:$7$<iterations>$<base64 salt>$<base64 hash>``: PBKDF2-HMAC-SHA512 of
the password with a 12-byte salt, 64 bytes of output (``mosquitto_passwd``; ``common/password_mosq.h`` in
Mosquitto's source: ``pw_sha512_pbkdf2 = 7``, ``SALT_LEN 12``, ``PW_DEFAULT_ITERATIONS 101``). The broker
reads the iteration count from each line, so it may differ from ``mosquitto_passwd``'s default
(``mosquitto_passwd -I`` writes others); ``tests/test_provisioning_passwords.py`` checks Mosquitto accepts
what this module writes.

Why 1,000 iterations (Mosquitto 2.1's new default) and not OWASP's 210,000: every password made here is 32
random bytes (256 bits), which no number of guesses per second can find, so iterations buy nothing against an
offline attack on the file; they only cost the broker (a Raspberry Pi) time on every connection.
Iterations protect weak, human-chosen passwords, and none is chosen by a human here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

#: Mosquitto's hash type for PBKDF2-HMAC-SHA512.
HASH_TYPE = 7
SALT_BYTES = 12
HASH_BYTES = 64
ITERATIONS = 1000
PASSWORD_BYTES = 32


def new_password() -> str:
    """A fresh random password: 32 bytes, URL-safe base64 (43 characters, no padding, no ``:``)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$…`` hash of ``password`` as Mosquitto's password file holds it.

    :param salt: 12 bytes; random by default (give one only to reproduce a known hash).
    :raises ValueError: for an empty password, fewer than one iteration or a salt of the wrong size.
    """
    if not password:
        raise ValueError("an empty password cannot be hashed")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, not {iterations}")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    if len(salt) != SALT_BYTES:
        raise ValueError(f"the salt must be {SALT_BYTES} bytes, not {len(salt)}")
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return f"${HASH_TYPE}${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (False for any other or malformed hash)."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != str(HASH_TYPE) or not parts[2].isdigit():
        return False
    try:
        salt, digest = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    computed = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(digest) or 1)
    return hmac.compare_digest(computed, digest)


def check_login_name(name: str) -> str:
    """``name`` if it can be a login in a password file and an ACL; otherwise ValueError saying why."""
    if not name or any(c in name for c in ":#+/ \t\r\n") or not name.isprintable():
        raise ValueError(f"{name!r} cannot be a broker login (no ':', '#', '+', '/', spaces or control characters)")
    return name


def password_file(hashes: dict[str, str]) -> str:
    """The text of a Mosquitto password file: one ``login:hash`` line per login, in the order given.

    :raises ValueError: for a login that cannot be one (see :func:`check_login_name`).
    """
    return "".join(f"{check_login_name(login)}:{encoded}\n" for login, encoded in hashes.items())


def read_password_file(text: str) -> dict[str, str]:
    """login -> hash of a password file's text (blank lines and ``#`` comments skipped)."""
    hashes: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and ":" in line:
            login, encoded = line.split(":", 1)
            hashes[login] = encoded
    return hashes
