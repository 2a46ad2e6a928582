"""Secrets: read from systemd credentials or the environment, never from the config file.

A secret named ``store-hmac-key`` is read from ``$CREDENTIALS_DIRECTORY/store-hmac-key``
(systemd ``LoadCredential=``) or, failing that, from the environment variable
``CS_STORE_HMAC_KEY``. Values are never logged.

Rotating the store key: put the new key in ``store-hmac-key``, the old one in
``store-hmac-key-previous`` and the end of the rotation window in the config
(``[privacy] key_rotation_until``); :func:`store_keys` puts them together.

Like ssh with a private key, a secret that others could read or replace is
refused (:class:`~edge_agent.errors.CredentialError`, naming the path, its
mode and the ``chmod`` that fixes it) rather than used: a file readable by
others in a folder they can enter, or a file or folder writable by others.
systemd makes its credentials folder 0500 and the files 0400, which pass.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from .errors import CredentialError
from .identity import StoreKeys

logger = logging.getLogger(__name__)

MQTT_USERNAME = "mqtt-username"
MQTT_PASSWORD = "mqtt-password"
STORE_HMAC_KEY = "store-hmac-key"
STORE_HMAC_KEY_PREVIOUS = "store-hmac-key-previous"  # during a key rotation only
STORE_KEY_MIN_LENGTH = 16


def env_name(name: str) -> str:
    """The environment variable that may hold the secret ``name``."""
    return "CS_" + name.upper().replace("-", "_")


class Credentials:
    """Looks up named secrets; see the module docstring for where."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self._environ = os.environ if environ is None else environ

    def get(self, name: str) -> str | None:
        """The secret ``name`` with surrounding whitespace removed, or None when absent."""
        directory = self._environ.get("CREDENTIALS_DIRECTORY")
        if directory:
            path = Path(directory) / name
            if path.is_file():
                check_private(path)
                try:
                    return path.read_text(encoding="utf-8").strip()
                except (OSError, UnicodeDecodeError) as exc:
                    raise CredentialError(f"credential {name!r} cannot be read: {exc}") from None
        value = self._environ.get(env_name(name))
        return value.strip() if value is not None else None

    def require(self, name: str) -> str:
        """Like :meth:`get` but raises :class:`CredentialError` when the secret is absent."""
        value = self.get(name)
        if not value:
            raise CredentialError(
                f"credential {name!r} is missing: put it in $CREDENTIALS_DIRECTORY/{name} "
                f"(systemd LoadCredential=) or in ${env_name(name)}"
            )
        return value

    def require_key(self, name: str, length: int | None = None) -> bytes:
        """A secret holding a hex-encoded key, as bytes.

        :raises CredentialError: when absent, not hex, or not ``length`` bytes long.
        """
        text = self.require(name)
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise CredentialError(f"credential {name!r} is not hex") from None
        if length is not None and len(key) != length:
            raise CredentialError(f"credential {name!r} must be {length} bytes, got {len(key)}")
        return key


def store_keys(credentials: Credentials, rotation_until: datetime | None, now: datetime) -> StoreKeys:
    """The store key and, while a rotation window is open, the previous one.

    :param rotation_until: ``[privacy] key_rotation_until``, the end of the rotation window, or None.
    :param now: the time at start; a window already over is reported and the previous key left unused.
    :raises CredentialError: when a key is missing, not hex or shorter than 16 bytes, when the previous key
        is there without a window end, or when it equals the current key.
    """
    current = credentials.require_key(STORE_HMAC_KEY)
    if len(current) < STORE_KEY_MIN_LENGTH:
        raise CredentialError(f"credential {STORE_HMAC_KEY!r} must be at least {STORE_KEY_MIN_LENGTH} bytes")
    if not credentials.get(STORE_HMAC_KEY_PREVIOUS):
        if rotation_until is not None:
            logger.warning("[privacy] key_rotation_until is set but credential %r is absent: no key rotation",
                           STORE_HMAC_KEY_PREVIOUS)
        return StoreKeys(current)
    previous = credentials.require_key(STORE_HMAC_KEY_PREVIOUS)
    if len(previous) < STORE_KEY_MIN_LENGTH:
        raise CredentialError(f"credential {STORE_HMAC_KEY_PREVIOUS!r} must be at least "
                              f"{STORE_KEY_MIN_LENGTH} bytes")
    if rotation_until is None:
        raise CredentialError(f"credential {STORE_HMAC_KEY_PREVIOUS!r} is set but [privacy] key_rotation_until "
                              f"is not: give the end of the rotation window, or remove the credential")
    if previous == current:
        raise CredentialError(f"credentials {STORE_HMAC_KEY_PREVIOUS!r} and {STORE_HMAC_KEY!r} are the same key")
    if now >= rotation_until:
        logger.warning("the store key rotation ended at %s: credential %r is no longer used; remove it",
                       rotation_until.isoformat(), STORE_HMAC_KEY_PREVIOUS)
        return StoreKeys(current)
    logger.info("store key rotation until %s: cards are also looked up under the previous key",
                rotation_until.isoformat())
    return StoreKeys(current, previous, rotation_until)

def check_private(path: Path) -> None:
    """Refuse the secret file ``path`` when others may read it or replace it (see the module docstring).

    :raises CredentialError: naming the path, what is wrong and the mode it has.
    """
    folder = path.parent
    try:
        file_mode, folder_mode = path.stat().st_mode, folder.stat().st_mode
    except OSError as exc:
        raise CredentialError(f"credential {path.name!r} cannot be read: {exc.strerror}") from None
    problem = None
    if folder_mode & stat.S_IWOTH and not folder_mode & stat.S_ISVTX:
        problem = f"its folder {folder} is writable by others (mode {_mode(folder_mode)}): chmod o-w {folder}"
    elif file_mode & (stat.S_IWOTH | stat.S_IWGRP):
        problem = f"{path} is writable by others (mode {_mode(file_mode)}): chmod go-w {path}"
    elif file_mode & stat.S_IROTH and folder_mode & stat.S_IXOTH:
        problem = (f"{path} is readable by everyone (mode {_mode(file_mode)}, folder {_mode(folder_mode)}): "
                   f"chmod 600 {path}, or chmod 700 {folder}")
    if problem is not None:
        raise CredentialError(f"credential {path.name!r} is not private and was not used: {problem}")


def _mode(mode: int) -> str:
    return f"{stat.S_IMODE(mode):04o}"
