"""Which packs staff can preview at the kiosk: the interface, and the one source there is today.

A :class:`PreviewSource` lists packs with their state: ``in-use`` (the pack the
kiosk shows) or ``staged`` (downloaded and checked, ready to be taken into
use later). :class:`InUsePack` lists the pack in use; the content-from-central
work adds a source of the staged packs it keeps and gives the service a
:class:`Sources` of both, nothing else changes: the preview asks its source
for the pack by id and reads it with :func:`kiosk.content.load_pack`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from kiosk.content import ContentPack


@dataclass(frozen=True)
class PreviewablePack:
    """A pack staff can preview, and the pack itself (read and checked)."""

    state: Literal["in-use", "staged"]
    pack: ContentPack

    @property
    def id(self) -> str:
        return self.pack.name

    @property
    def folder(self) -> Path:
        assert self.pack.folder is not None, "a previewable pack is a real pack, not the empty one"
        return self.pack.folder


class PreviewSource(Protocol):
    """Where the packs to preview come from."""

    def packs(self) -> list[PreviewablePack]:
        """The packs that can be previewed now, the one in use first."""
        ...


class InUsePack:
    """The pack in use (what the agent read from the ``[content] folder``), or none while there is none.

    :param current: gives the pack in use now (the agent's library's ``current``).
    """

    def __init__(self, current: Callable[[], ContentPack]):
        self._current = current

    def packs(self) -> list[PreviewablePack]:
        pack = self._current()
        return [PreviewablePack("in-use", pack)] if pack else []


class Sources:
    """Several sources as one, in the order given (the pack in use first)."""

    def __init__(self, sources: Sequence[PreviewSource]):
        self._sources = tuple(sources)

    def packs(self) -> list[PreviewablePack]:
        return [pack for source in self._sources for pack in source.packs()]
