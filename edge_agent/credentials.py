"""Secrets: read from systemd credentials or the environment, never from the config file.

A secret named ``store-hmac-key`` is read from ``$CREDENTIALS_DIRECTORY/store-hmac-key``
(systemd ``LoadCredential=``) or, failing that, from the environment variable
``CS_STORE_HMAC_KEY``. Values are never logged.

Like ssh with a private key, a secret that others could read or replace is
refused (:class:`~edge_agent.errors.CredentialError`, naming the path, its
mode and the ``chmod`` that fixes it) rather than used: a file readable by
others in a folder they can enter, or a file or folder writable by others.
systemd makes its credentials folder 0500 and the files 0400, which pass.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from .errors import CredentialError

MQTT_USERNAME = "mqtt-username"
MQTT_PASSWORD = "mqtt-password"
STORE_HMAC_KEY = "store-hmac-key"


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
