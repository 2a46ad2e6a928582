"""Central's side of content delivery: a pack folder turned into a signed manifest, and the manifest published.

``edge-agent content build DIR --key FILE`` checks the folder with the kiosk's
own validation (:func:`kiosk.content.load_pack`: what the agent will check
after the download), lists every file of the folder (path, size, sha256 and
media type), fills in pack id and ``pack_version`` from ``content.yaml``, and
signs the manifest (:mod:`.signing`). The folder is served as it is: the agent
fetches each file at ``{base_url}/{path}``. ``edge-agent content publish``
sends the manifest on the store's ``content-pack`` topic, as ``edge-agent
central push`` sends its pushes (QoS 1, every PUBACK awaited), or prints a
``mosquitto_pub`` command line.

Hidden files and folders (a name starting with ``.``) and ``__pycache__``
are left out, and whatever matches an ``exclude`` pattern (``fnmatch`` on the
path in the pack, e.g. ``make_media.py``): editors' leftovers and a pack's own
tools are not part of what the kiosk shows.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import mimetypes
import os
import shlex
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.content import load_pack

from ..contract import PUSHES, encode
from ..contract.payloads_content_delivery import MAX_PACK_FILES, ContentPackManifest
from ..errors import EdgeAgentError
from .signing import load_private_key, sign_manifest

#: Media types of the kinds a pack holds that :mod:`mimetypes` may not know on every system.
_MEDIA_TYPES = {".yaml": "application/yaml", ".yml": "application/yaml", ".webp": "image/webp",
                ".mkv": "video/x-matroska", ".m4v": "video/mp4", ".webm": "video/webm", ".mp4": "video/mp4"}
_BLOCK = 1 << 20


class PackBuildError(EdgeAgentError):
    """A pack folder that cannot be made into a manifest (the message says what and where)."""


def media_type(path: str) -> str:
    """The media type of a pack file by its extension (``application/octet-stream`` when unknown)."""
    suffix = os.path.splitext(path)[1].lower()
    return _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def _files(folder: Path, exclude: Sequence[str] = ()) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(name for name in dirnames if not name.startswith(".") and name != "__pycache__")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            relative = path.relative_to(folder).as_posix()
            if not name.startswith(".") and not any(fnmatch.fnmatch(relative, pattern) for pattern in exclude):
                yield path


def file_entry(folder: Path, path: Path) -> dict[str, Any]:
    """The manifest's entry of one file: path in the pack, size, sha256, media type."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
    relative = path.relative_to(folder).as_posix()
    return {"path": relative, "size": size, "sha256": digest.hexdigest(), "media_type": media_type(relative)}


def build_manifest(folder: Path, *, version: int, base_url: str, activate_at: datetime | None = None,
                   end: datetime | None = None, stores: list[str] | None = None,
                   device_kinds: list[str] | None = None, orientations: list[str] | None = None,
                   exclude: Sequence[str] = ()) -> dict[str, Any]:
    """The unsigned manifest of the pack in ``folder``.

    :param exclude: ``fnmatch`` patterns of paths in the pack to leave out.

    :raises PackBuildError: when the kiosk's validation refuses the pack (its problems listed), or the folder
        has a file the contract cannot name (or too many).
    :raises ContentError: from :func:`kiosk.content.load_pack`, listing every problem with file and line.
    """
    folder = Path(folder)
    pack = load_pack(folder)
    files = []
    for path in _files(folder, exclude):
        if path.is_symlink():
            raise PackBuildError(f"{path}: a symbolic link; a pack holds files only")
        files.append(file_entry(folder, path))
    if len(files) > MAX_PACK_FILES:
        raise PackBuildError(f"{folder}: {len(files)} files, a pack holds at most {MAX_PACK_FILES}")
    manifest = {"pack": pack.name, "version": version, "pack_version": pack.version, "files": files,
                "base_url": base_url.rstrip("/"), "activate_at": _utc(activate_at), "end": _utc(end),
                "targets": {"stores": stores, "device_kinds": device_kinds, "orientations": orientations},
                "key_id": "unsigned", "signature": None}
    try:
        ContentPackManifest.model_validate(manifest)
    except ValueError as exc:
        raise PackBuildError(f"{folder}: the manifest does not fit the contract: {exc}") from None
    return manifest


def _utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise PackBuildError(f"{moment.isoformat()}: give the time with its UTC offset (e.g. 2026-12-05T06:00Z)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_signed(folder: Path, key_file: Path, key_id: str, **options: Any) -> dict[str, Any]:
    """:func:`build_manifest`, signed with the content key in ``key_file`` under ``key_id``.

    :raises ValueError: when ``key_file`` holds no Ed25519 private key.
    """
    return sign_manifest(build_manifest(folder, **options), load_private_key(key_file), key_id)


def write_manifest(manifest: dict[str, Any], path: Path) -> None:
    """Write ``manifest`` as JSON (what ``content publish`` reads)."""
    Path(path).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_manifest(path: Path) -> ContentPackManifest:
    """The manifest in ``path``, checked against the contract.

    :raises PackBuildError: when it is not JSON or does not fit, naming the file.
    """
    try:
        return ContentPackManifest.model_validate_json(Path(path).read_bytes())
    except ValueError as exc:
        raise PackBuildError(f"{path}: not a content pack manifest: {exc}") from None


def outgoing(manifest: ContentPackManifest, store: str) -> tuple[str, bytes]:
    """The topic and the envelope of ``manifest`` for ``store``."""
    message = PUSHES["content-pack"]
    return message.topic_for(store), encode(message, manifest)[1]


def mosquitto_pub_command(topic: str, payload: bytes, host: str, port: int) -> str:
    """A ``mosquitto_pub`` command line that publishes ``payload`` on ``topic`` with QoS 1."""
    return shlex.join(["mosquitto_pub", "-h", host, "-p", str(port), "-q", "1", "-t", topic, "-m",
                       payload.decode("utf-8")])
