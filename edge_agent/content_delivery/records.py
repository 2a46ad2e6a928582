"""The delivered packs the agent knows, one row per manifest accepted (table ``content_packs``).

A manifest is recorded in the transaction that accepts its push (the inbox's,
:mod:`edge_agent.inbox`), before the broker is acknowledged: a restart finds it
and resumes its download. Its ``state`` then follows the pack's life:

    received -> downloading -> staged -> active -> previous -> retired
                     \\-> failed     \\-> superseded  \\-> failed (the kiosk could not load it) / ended

At most one row is ``active``, one ``previous`` (the last good pack before it,
kept on disk for a fall-back) and one ``staged``; the files of anything older
are removed (:meth:`edge_agent.content_delivery.service.ContentDelivery.collect_garbage`).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Literal

from ..contract.payloads_content_delivery import ContentPackManifest

RecordState = Literal["received", "downloading", "staged", "active", "previous", "retired", "failed", "superseded",
                      "ended"]
#: A download is still to be done (or resumed).
PENDING: tuple[RecordState, ...] = ("received", "downloading")
#: Packs whose files are kept on disk.
KEPT: tuple[RecordState, ...] = ("received", "downloading", "staged", "active", "previous")


@dataclass(frozen=True)
class PackRecord:
    """One delivered manifest and where it is."""

    manifest: ContentPackManifest
    state: RecordState
    reason: str | None
    approved_by: str | None
    activated: float | None

    @property
    def version(self) -> int:
        """Central's release number: the row's key."""
        return self.manifest.version

    @property
    def pack(self) -> str:
        """The pack id."""
        return self.manifest.pack


def load(conn: sqlite3.Connection) -> list[PackRecord]:
    """Every recorded manifest, oldest version first."""
    rows = conn.execute("SELECT manifest, state, reason, approved_by, activated FROM content_packs "
                        "ORDER BY version").fetchall()
    return [PackRecord(ContentPackManifest.model_validate_json(row[0]), row[1], row[2], row[3], row[4])
            for row in rows]


def in_state(records: list[PackRecord], *states: RecordState) -> PackRecord | None:
    """The newest record in one of ``states``, or None."""
    found = [record for record in records if record.state in states]
    return found[-1] if found else None


def insert(conn: sqlite3.Connection, manifest: ContentPackManifest, now: float | None = None) -> None:
    """Record an accepted manifest as ``received`` (a failed one of the same version is replaced: a retry)."""
    now = time.time() if now is None else now
    conn.execute("INSERT OR REPLACE INTO content_packs (version, pack, manifest, state, reason, received, updated) "
                 "VALUES (?, ?, ?, 'received', NULL, ?, ?)",
                 (manifest.version, manifest.pack, manifest.model_dump_json(), now, now))


def set_state(conn: sqlite3.Connection, version: int, state: RecordState, reason: str | None = None, *,
              activated: float | None = None) -> None:
    """Move record ``version`` to ``state`` (with its reason; ``activated`` when it became active)."""
    now = time.time()
    if activated is not None:
        conn.execute("UPDATE content_packs SET state = ?, reason = ?, activated = ?, updated = ? WHERE version = ?",
                     (state, reason, activated, now, version))
    else:
        conn.execute("UPDATE content_packs SET state = ?, reason = ?, updated = ? WHERE version = ?",
                     (state, reason, now, version))


def approve(conn: sqlite3.Connection, version: int, staff: str) -> None:
    """Record a manager's approval of record ``version``."""
    conn.execute("UPDATE content_packs SET approved_by = ?, updated = ? WHERE version = ?",
                 (staff, time.time(), version))
