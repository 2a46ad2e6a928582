"""Where delivered packs live on disk, and the atomic switch between them.

Under ``[content] packs_dir``::

    blobs/                    every file once, by sha256 (:class:`~.blobs.BlobStore`)
    packs/<pack>-<version>/   a pack folder: hard links to its blobs, made whole and renamed into place
    current -> packs/…        the active pack: the kiosk's ``[content] folder`` (and the agent's)

A switch makes a new symbolic link beside ``current`` and renames it over
``current`` (:func:`os.replace`, atomic on POSIX), then fsyncs the folder: a
reader of ``current`` sees the old pack or the new one, never a mix or
nothing, and after a power cut the link is one or the other (the agent's
database says which is active, and :meth:`PackFolders.point_current` puts the
link right at start-up). A pack folder never changes once it is made: a new
version is a new folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from .blobs import BlobStore

logger = logging.getLogger(__name__)


class PackFolders:
    """The delivered packs' folders under ``root`` and the ``current`` link."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.packs = self.root / "packs"
        self.current = self.root / "current"
        self.packs.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(self.root / "blobs")

    def folder(self, pack: str, version: int) -> Path:
        """The folder of release ``version`` of ``pack``."""
        return self.packs / f"{pack}-{version}"

    def current_target(self) -> Path | None:
        """The folder ``current`` points at, or None."""
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        return (self.root / target).resolve() if not os.path.isabs(target) else Path(target)

    def point_current(self, folder: Path) -> bool:
        """Point ``current`` at ``folder`` atomically; False when it pointed there already."""
        folder = Path(folder).resolve()
        if self.current_target() == folder:
            return False
        # Relative, so the tree can be moved (or seen by the kiosk at another mount point) as a whole.
        relative = os.path.relpath(folder, self.root)
        building = self.root / ".current.new"
        with contextlib.suppress(FileNotFoundError):
            building.unlink()
        os.symlink(relative, building)
        os.replace(building, self.current)
        _fsync_dir(self.root)
        logger.info("content: current -> %s", relative)
        return True

    def clear_current(self) -> None:
        """Remove the ``current`` link (no delivered pack is active)."""
        with contextlib.suppress(FileNotFoundError):
            self.current.unlink()
            _fsync_dir(self.root)

    def remove_except(self, keep: Iterable[Path]) -> list[str]:
        """Remove every pack folder not in ``keep`` (and any half-made one); the names removed."""
        kept = {Path(path).resolve() for path in keep}
        removed = []
        for entry in sorted(self.packs.iterdir()):
            if entry.resolve() in kept:
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        return removed


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
