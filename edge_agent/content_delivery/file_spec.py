"""What a pack's manifest says of one file: its path in the pack, its size, its sha256 and its media type.

The download (:mod:`.download`) fetches a file by its path under the pack's
base URL and stores it by its sha256 (:mod:`.blobs`); the pack folder puts it
back under its path. The path is checked here, once, so a manifest cannot
name a file outside its pack folder (``../``, an absolute path, a backslash
that some servers read as a separator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_sha256(sha256: str) -> str:
    """``sha256`` when it is 64 lowercase hex digits.

    :raises ValueError: otherwise, quoting it.
    """
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ValueError(f"sha256 {sha256!r} is not 64 lowercase hex digits")
    return sha256


def check_relative_path(path: str) -> str:
    """``path`` when it is a relative POSIX path that stays inside its folder.

    :raises ValueError: for an empty or absolute path, a ``..``/``.`` part, a backslash or a NUL, naming it.
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f"file path {path!r} is empty")
    if "\\" in path or "\0" in path:
        raise ValueError(f"file path {path!r} holds a backslash or NUL")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise ValueError(f"file path {path!r} is absolute; it must be relative to the pack folder")
    if any(part in ("..", ".", "") for part in path.split("/")):
        raise ValueError(f"file path {path!r} has an empty, '.' or '..' part; it must stay in the pack folder")
    return path


@dataclass(frozen=True)
class FileSpec:
    """One file of a pack, as its manifest lists it.

    :param path: relative POSIX path in the pack folder, also the file's path under the pack's base URL.
    :param size: size in bytes.
    :param sha256: lowercase hex sha256 of the content: the file's identity in the blob store.
    :param media_type: e.g. ``image/png``, ``video/mp4`` (informative here; the kiosk decides what it plays).
    :raises ValueError: when a field is malformed, naming the field and the path.
    """

    path: str
    size: int
    sha256: str
    media_type: str = "application/octet-stream"

    def __post_init__(self) -> None:
        check_relative_path(self.path)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"file {self.path}: size {self.size!r} is not a whole number of bytes >= 0")
        try:
            check_sha256(self.sha256)
        except ValueError as exc:
            raise ValueError(f"file {self.path}: {exc}") from None
