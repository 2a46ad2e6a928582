"""The content-addressed store on disk: every pack file kept once, under its sha256, verified on entry.

Layout under the store's root::

    sha256/ab/abcdef…        a verified blob (read-only), named by its sha256, fanned out by its first two digits
    partial/abcdef….part     a download in progress, kept across cuts and restarts for an HTTP Range resume

A blob enters ``sha256/`` only through :meth:`BlobWriter.commit`: the bytes
written are counted and hashed as they arrive, and once the size and the
sha256 are the manifest's the ``.part`` file is fsynced and renamed into
place (and its folder fsynced), so a power cut leaves either the whole
verified blob or a ``.part`` to resume, never a half file under a real name.
A file shared by several packs is therefore stored (and fetched) once.

A pack folder is made of hard links to the blobs (:meth:`BlobStore.materialize`;
a copy where the file system cannot link), built beside its destination and
renamed into place, so a half-made folder is never seen under its name. The
blobs are read-only so that nothing writing into a pack folder changes the
blob every other pack shares. Which blobs to keep is the caller's decision
(:meth:`BlobStore.keep_only`, given the sha256s of the packs it keeps); a
blob still linked from a pack folder keeps its disk space until that folder
is removed too.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol, Self

from .file_spec import check_relative_path, check_sha256

logger = logging.getLogger(__name__)

_HASH_BLOCK = 1 << 20


class BlobError(Exception):
    """A blob store operation failed (the message says which file and why)."""


class BlobMissing(BlobError, KeyError):
    """A sha256 that is not in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class BlobMismatch(BlobError):
    """The bytes written are not the file announced: a different size or sha256. Nothing entered the store."""

    def __init__(self, expected_sha256: str, actual_sha256: str, expected_size: int, actual_size: int):
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256
        self.expected_size = expected_size
        self.actual_size = actual_size
        if expected_size != actual_size:
            detail = f"size mismatch: expected {expected_size} bytes, got {actual_size}"
        else:
            detail = f"checksum mismatch: expected sha256 {expected_sha256}, got {actual_sha256}"
        super().__init__(detail)


class PackFile(Protocol):
    """What :meth:`BlobStore.materialize` needs of a file: where in the folder, and which blob."""

    @property
    def path(self) -> str: ...

    @property
    def sha256(self) -> str: ...


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class BlobStore:
    """Files stored by their sha256 under ``root`` (created when missing). Safe to share between threads."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._blobs = self.root / "sha256"
        self._partial = self.root / "partial"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._partial.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writing: set[str] = set()

    # ------------------------------------------------------------------ looking

    def _blob_path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self._blobs / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Whether the verified blob ``sha256`` is in the store."""
        return self._blob_path(sha256).is_file()

    def path(self, sha256: str) -> Path:
        """The path of the verified blob ``sha256`` (read-only: never write to it).

        :raises BlobMissing: when it is not in the store.
        """
        found = self._blob_path(sha256)
        if not found.is_file():
            raise BlobMissing(f"blob {sha256} is not in the store {self.root}")
        return found

    def partial_path(self, sha256: str) -> Path:
        """Where the download of ``sha256`` in progress is kept (it may not exist)."""
        check_sha256(sha256)
        return self._partial / f"{sha256}.part"

    def partial_size(self, sha256: str) -> int:
        """How many bytes of ``sha256`` a cut download left to resume from (0 when none)."""
        try:
            return self.partial_path(sha256).stat().st_size
        except FileNotFoundError:
            return 0

    def size_used(self) -> int:
        """Bytes the store holds: its blobs and its partial downloads."""
        total = 0
        for folder in (self._blobs, self._partial):
            for dirpath, _dirs, files in os.walk(folder):
                for name in files:
                    with contextlib.suppress(FileNotFoundError):
                        total += os.stat(os.path.join(dirpath, name)).st_size
        return total

    def disk_free(self) -> int:
        """Bytes free on the file system that holds the store."""
        return shutil.disk_usage(self.root).free

    def shas(self) -> set[str]:
        """The sha256 of every verified blob in the store."""
        return {entry.name for fan in self._blobs.iterdir() if fan.is_dir() for entry in fan.iterdir()
                if entry.is_file()}

    def verify(self, sha256: str) -> bool:
        """Hash the stored blob again; a blob whose bytes changed on disk is removed (False).

        :raises BlobMissing: when it is not in the store.
        """
        found = self.path(sha256)
        actual = sha256_of(found)
        if actual == sha256:
            return True
        logger.error("blob %s changed on disk (its sha256 is now %s): removed", sha256, actual)
        found.unlink(missing_ok=True)
        return False

    # ------------------------------------------------------------------ writing

    def writer(self, sha256: str, size: int) -> BlobWriter:
        """A writer for blob ``sha256`` of ``size`` bytes, resuming its ``.part`` file when there is one.

        :raises BlobError: when another writer for the same blob is open.
        """
        check_sha256(sha256)
        with self._lock:
            if sha256 in self._writing:
                raise BlobError(f"blob {sha256} is already being written")
            self._writing.add(sha256)
        try:
            return BlobWriter(self, sha256, size)
        except BaseException:
            self._release(sha256)
            raise

    def _release(self, sha256: str) -> None:
        with self._lock:
            self._writing.discard(sha256)

    def _enter(self, part: Path, sha256: str) -> Path:
        final = self._blob_path(sha256)
        final.parent.mkdir(exist_ok=True)
        os.chmod(part, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(part, final)
        _fsync_dir(final.parent)
        return final

    # ------------------------------------------------------------------ pack folders

    def materialize(self, files: Iterable[PackFile], dest: Path) -> Path:
        """Make the pack folder ``dest``: each file at its relative path, a hard link to its blob (a copy
        where the file system refuses the link). Built beside ``dest`` and renamed into place.

        :raises FileExistsError: when ``dest`` exists.
        :raises ValueError: for a path that would leave the folder, or one listed twice (nothing is made).
        :raises BlobMissing: when a file's blob is not in the store (nothing is made).
        """
        dest = Path(dest)
        if dest.exists():
            raise FileExistsError(f"pack folder {dest} already exists")
        wanted = list(files)
        seen: set[str] = set()
        for file in wanted:
            check_relative_path(file.path)
            if file.path in seen:
                raise ValueError(f"file path {file.path!r} is listed twice")
            seen.add(file.path)
            self.path(file.sha256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        building = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.building"
        building.mkdir()
        try:
            inside = building.resolve()
            for file in wanted:
                target = building / file.path
                target.parent.mkdir(parents=True, exist_ok=True)
                # Resolved after the folders exist: a symlink planted among them cannot lead outside.
                if not target.parent.resolve().is_relative_to(inside):
                    raise ValueError(f"file path {file.path!r} leaves the pack folder")
                self._link_or_copy(self.path(file.sha256), target)
            os.rename(building, dest)
            _fsync_dir(dest.parent)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return dest

    @staticmethod
    def _link_or_copy(blob: Path, target: Path) -> None:
        try:
            os.link(blob, target)
        except OSError as exc:
            # Another file system, or one without hard links (FAT on a USB stick): a copy does.
            logger.debug("hard link of %s refused (%s): copying", blob.name, exc)
            shutil.copyfile(blob, target)

    # ------------------------------------------------------------------ garbage collection

    def keep_only(self, sha256s: Iterable[str]) -> int:
        """Remove every blob and partial download whose sha256 is not in ``sha256s``; the bytes freed.

        Downloads in progress (an open :class:`BlobWriter`) are kept. Pack folders are not touched: a
        blob still linked from one keeps its disk space until the folder goes.
        """
        keep = {check_sha256(sha) for sha in sha256s}
        with self._lock:
            keep |= self._writing
        freed = 0
        for fan in list(self._blobs.iterdir()):
            if not fan.is_dir():
                continue
            for entry in list(fan.iterdir()):
                if entry.name not in keep:
                    freed += self._remove(entry)
            with contextlib.suppress(OSError):
                fan.rmdir()  # only when empty
        for entry in list(self._partial.iterdir()):
            if entry.name.removesuffix(".part") not in keep:
                freed += self._remove(entry)
        if freed:
            logger.info("blob store %s: %.1f MB freed", self.root, freed / 1e6)
        return freed

    @staticmethod
    def _remove(entry: Path) -> int:
        try:
            size = entry.stat().st_size
            entry.unlink()
        except FileNotFoundError:
            return 0
        return size


class BlobWriter:
    """Appends the bytes of one blob to its ``.part`` file, hashing as it goes; :meth:`commit` verifies them
    and moves the file into the store. Made by :meth:`BlobStore.writer`; use it as a context manager
    (leaving it closes the ``.part`` file and keeps it for a later resume)."""

    def __init__(self, store: BlobStore, sha256: str, size: int):
        self.store = store
        self.sha256 = sha256
        self.size = size
        self._part = store.partial_path(sha256)
        self._released = False
        self._file: BinaryIO = open(self._part, "ab+")  # noqa: SIM115 - held open across writes, closed by close()
        self._digest = hashlib.sha256()
        #: Bytes of the blob already in the ``.part`` file: where a download resumes.
        self.offset = 0
        have = os.fstat(self._file.fileno()).st_size
        if have > size:
            self.restart()
        elif have:
            self._file.seek(0)
            while block := self._file.read(_HASH_BLOCK):
                self._digest.update(block)
            self.offset = have
        self._file.seek(0, os.SEEK_END)

    def restart(self) -> None:
        """Forget what the ``.part`` file holds and start the blob from byte 0."""
        self._file.seek(0)
        self._file.truncate()
        self._digest = hashlib.sha256()
        self.offset = 0

    def write(self, data: bytes) -> None:
        """Append ``data`` (the next bytes of the blob)."""
        self._file.write(data)
        self._digest.update(data)
        self.offset += len(data)

    def verify(self) -> None:
        """Check that the bytes written are the announced size and sha256 (no more writes are expected).

        :raises BlobMismatch: when they are not; the ``.part`` file is removed (nothing of it is used or
            resumed) and the writer closed.
        """
        self._file.flush()
        actual = self._digest.hexdigest()
        if self.offset != self.size or actual != self.sha256:
            error = BlobMismatch(self.sha256, actual, self.size, self.offset)
            self.close()
            self._part.unlink(missing_ok=True)
            raise error

    def commit(self) -> Path:
        """:meth:`verify`, then make the bytes durable (fsync) and move the blob into the store; its path.
        The writer is closed afterwards.

        :raises BlobMismatch: see :meth:`verify`.
        """
        self.verify()
        try:
            os.fsync(self._file.fileno())
            self._file.close()
            # Still held while it moves, so a keep_only() meanwhile does not take the .part away.
            return self.store._enter(self._part, self.sha256)
        finally:
            self.close()

    def close(self) -> None:
        """Close the ``.part`` file (kept for a resume unless committed or refused)."""
        if not self._file.closed:
            self._file.close()
        if not self._released:
            self._released = True
            self.store._release(self.sha256)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
