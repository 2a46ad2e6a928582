"""The store's changes to a content pack, kept in the agent's SQLite database as an overlay.

Keyed by pack id and item id (never by version), so the changes survive a
restart and the pack's next version. Tables (migration
``m006_content_overlay``):

- ``content_overlay``: per (pack, section, item) whether it is on, until which
  day that holds, and a manager's schedule (JSON of a contract ``Window``);
- ``content_order``: per (pack, section) the store's order of item ids;
- ``content_undo``: the overlay of a pack as it was before each change (the
  last :data:`UNDO_DEPTH` kept), for undo;
- ``content_dropped``: changed items a newer version of the pack no longer
  has; their changes are deleted and they are listed for staff until
  dismissed;
- ``content_revision``: per pack the version last seen and the count of
  changes, so the kiosk can tell one schedule from the next.

Every change is one transaction: the snapshot for undo and the change commit
together, or neither does.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date

from ..contract.payloads_content_control import ContentAction, DroppedItem, Section, Window
from ..store import Store

logger = logging.getLogger(__name__)

#: How many changes back undo can go.
UNDO_DEPTH = 50


@dataclass(frozen=True)
class ItemOverlay:
    """The store's change to one item: on or off (until a day, or for good) and a manager's schedule."""

    enabled: bool = True
    until: date | None = None
    schedule: Window | None = None

    @property
    def empty(self) -> bool:
        """Changes nothing (the row can go)."""
        return self.enabled and self.until is None and self.schedule is None


@dataclass
class PackOverlay:
    """Everything the store changed of one pack."""

    items: dict[tuple[Section, str], ItemOverlay] = field(default_factory=dict)
    orders: dict[Section, list[str]] = field(default_factory=dict)
    dropped: list[DroppedItem] = field(default_factory=list)
    undo: ContentAction | None = None  # the change undo would take back
    revision: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.items or self.orders)


class OverlayStore:
    """Reads and changes the overlay of packs in the agent's :class:`~edge_agent.store.Store`."""

    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------------ reading

    def load(self, pack: str) -> PackOverlay:
        """The overlay of ``pack`` (empty when the store changed nothing)."""
        with self.store.reading() as conn:
            items = {(section, item): ItemOverlay(bool(enabled), date.fromisoformat(until) if until else None,
                                                  Window.model_validate_json(schedule) if schedule else None)
                     for section, item, enabled, until, schedule in conn.execute(
                         "SELECT section, item, enabled, until, schedule FROM content_overlay WHERE pack = ?",
                         (pack,))}
            orders = {section: json.loads(items_json) for section, items_json in conn.execute(
                "SELECT section, items FROM content_order WHERE pack = ?", (pack,))}
            dropped = [DroppedItem(section=section, id=item, version=version) for section, item, version in
                       conn.execute("SELECT section, item, version FROM content_dropped WHERE pack = ? "
                                    "ORDER BY at, section, item", (pack,))]
            undo = conn.execute("SELECT action FROM content_undo WHERE pack = ? ORDER BY seq DESC LIMIT 1",
                                (pack,)).fetchone()
            revision = conn.execute("SELECT revision FROM content_revision WHERE pack = ?", (pack,)).fetchone()
        return PackOverlay(items, orders, dropped, undo[0] if undo else None, revision[0] if revision else 0)

    # ------------------------------------------------------------------ changing

    def change(self, pack: str, action: ContentAction, overlay: PackOverlay) -> int:
        """Replace the overlay of ``pack`` with ``overlay`` (made from :meth:`load`'s), keeping the old one for
        undo; returns the pack's new revision."""
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO content_undo (pack, action, snapshot, at) VALUES (?, ?, ?, ?)",
                         (pack, action, json.dumps(self._snapshot(conn, pack)), time.time()))
            conn.execute("DELETE FROM content_undo WHERE pack = ? AND seq NOT IN (SELECT seq FROM content_undo "
                         "WHERE pack = ? ORDER BY seq DESC LIMIT ?)", (pack, pack, UNDO_DEPTH))
            self._write(conn, pack, overlay.items, overlay.orders)
            return self._bump(conn, pack)

    def undo(self, pack: str) -> ContentAction | None:
        """Put back the overlay of ``pack`` as it was before its last change; returns that change's action, or
        None when there is nothing to undo."""
        with self.store.transaction() as conn:
            row = conn.execute("SELECT seq, action, snapshot FROM content_undo WHERE pack = ? ORDER BY seq DESC "
                               "LIMIT 1", (pack,)).fetchone()
            if row is None:
                return None
            seq, action, snapshot = row
            data = json.loads(snapshot)
            items = {(section, item): ItemOverlay(enabled, date.fromisoformat(until) if until else None,
                                                  Window.model_validate(schedule) if schedule else None)
                     for section, item, enabled, until, schedule in data["items"]}
            self._write(conn, pack, items, data["orders"])
            conn.execute("DELETE FROM content_undo WHERE seq = ?", (seq,))
            self._bump(conn, pack)
            return action

    def dismiss_dropped(self, pack: str) -> int:
        """Forget the list of dropped items of ``pack`` (staff have seen it); returns how many there were."""
        with self.store.transaction() as conn:
            count = conn.execute("DELETE FROM content_dropped WHERE pack = ?", (pack,)).rowcount
            if count:
                self._bump(conn, pack)
            return count

    def adopt_version(self, pack: str, version: str, present: dict[Section, set[str]]) -> list[DroppedItem]:
        """Take a version of ``pack`` into use: changes to items it no longer has are deleted and listed as
        dropped (the undo history goes with them: it could bring them back). Nothing happens for the version
        seen last.

        :param present: the ids of each section in this version.
        :returns: the items dropped now.
        """
        with self.store.transaction() as conn:
            seen = conn.execute("SELECT version FROM content_revision WHERE pack = ?", (pack,)).fetchone()
            if seen is not None and seen[0] == version:
                return []
            gone: dict[tuple[Section, str], None] = {}
            for section, item in conn.execute("SELECT section, item FROM content_overlay WHERE pack = ?", (pack,)):
                if item not in present.get(section, set()):
                    gone[(section, item)] = None
            orders = {}
            for section, items_json in conn.execute("SELECT section, items FROM content_order WHERE pack = ?",
                                                    (pack,)).fetchall():
                items = json.loads(items_json)
                for item in items:
                    if item not in present.get(section, set()):
                        gone[(section, item)] = None
                orders[section] = [item for item in items if item in present.get(section, set())]
            for (section, item) in gone:
                conn.execute("DELETE FROM content_overlay WHERE pack = ? AND section = ? AND item = ?",
                             (pack, section, item))
                conn.execute("INSERT OR REPLACE INTO content_dropped (pack, section, item, version, at) "
                             "VALUES (?, ?, ?, ?, ?)", (pack, section, item, version, time.time()))
            for section, items in orders.items():
                conn.execute("UPDATE content_order SET items = ? WHERE pack = ? AND section = ?",
                             (json.dumps(items), pack, section))
            if gone:
                conn.execute("DELETE FROM content_undo WHERE pack = ?", (pack,))
            conn.execute("INSERT INTO content_revision (pack, version, revision) VALUES (?, ?, 0) "
                         "ON CONFLICT (pack) DO UPDATE SET version = excluded.version, revision = revision + 1",
                         (pack, version))
        dropped = [DroppedItem(section=section, id=item, version=version) for section, item in gone]
        if dropped:
            logger.warning("content pack %s %s no longer has %d item(s) the store had changed: %s", pack, version,
                           len(dropped), ", ".join(f"{item.section}/{item.id}" for item in dropped))
        return dropped

    # ------------------------------------------------------------------ inside a transaction

    @staticmethod
    def _snapshot(conn, pack: str) -> dict:
        items = conn.execute("SELECT section, item, enabled, until, schedule FROM content_overlay WHERE pack = ?",
                             (pack,)).fetchall()
        orders = dict(conn.execute("SELECT section, items FROM content_order WHERE pack = ?", (pack,)).fetchall())
        return {"items": [[section, item, bool(enabled), until, json.loads(schedule) if schedule else None]
                          for section, item, enabled, until, schedule in items],
                "orders": {section: json.loads(items_json) for section, items_json in orders.items()}}

    @staticmethod
    def _write(conn, pack: str, items: dict[tuple[Section, str], ItemOverlay], orders: dict[Section, list[str]]):
        conn.execute("DELETE FROM content_overlay WHERE pack = ?", (pack,))
        conn.execute("DELETE FROM content_order WHERE pack = ?", (pack,))
        conn.executemany(
            "INSERT INTO content_overlay (pack, section, item, enabled, until, schedule) VALUES (?, ?, ?, ?, ?, ?)",
            [(pack, section, item, int(change.enabled), change.until.isoformat() if change.until else None,
              change.schedule.model_dump_json() if change.schedule else None)
             for (section, item), change in items.items() if not change.empty])
        conn.executemany("INSERT INTO content_order (pack, section, items) VALUES (?, ?, ?)",
                         [(pack, section, json.dumps(order)) for section, order in orders.items() if order])

    @staticmethod
    def _bump(conn, pack: str) -> int:
        conn.execute("INSERT INTO content_revision (pack, version, revision) VALUES (?, NULL, 1) "
                     "ON CONFLICT (pack) DO UPDATE SET revision = revision + 1", (pack,))
        return conn.execute("SELECT revision FROM content_revision WHERE pack = ?", (pack,)).fetchone()[0]
