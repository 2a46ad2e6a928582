"""The console's model of every device of the store: online state, versions, pack in use, last health, reconnects.

Fed by the console's MQTT link (:mod:`.link`) from each device's retained ``state`` and ``birth``, its periodic
``health`` and its kiosk's retained ``content-schedule``, and kept in the console's SQLite (:mod:`.database`),
so a console restart shows the devices at once, before the broker has sent anything. A device is known by its
topic level; the console learns devices from what they publish (no list to keep by hand).

Reconnects: the agent's own count since its start (``health.reconnects``) and the times this console saw the
device go offline (``offline_seen``, counted across the agent's restarts).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .database import ConsoleDatabase

#: What a device message is for the model.
KINDS = ("state", "birth", "health", "schedule")


@dataclass(frozen=True)
class DeviceView:
    """One device as the pages show it."""

    device: str
    online: bool | None  # None: never heard of its state
    state_reason: str | None
    state_at: float | None
    birth: dict[str, Any]
    health: dict[str, Any]
    health_at: float | None
    schedule: dict[str, Any]
    offline_seen: int

    @property
    def kind(self) -> str:
        return str(self.birth.get("device_kind") or "")

    @property
    def agent_version(self) -> str | None:
        return self.birth.get("agent_version")

    @property
    def pack(self) -> str | None:
        """``name version`` of the content pack in use (kiosks), or None."""
        if not self.schedule:
            return None
        return f"{self.schedule.get('pack')} {self.schedule.get('version')}"

    @property
    def reconnects(self) -> int:
        """The agent's reconnects since its start plus the times the console saw it drop off."""
        return int(self.health.get("reconnects") or 0) + self.offline_seen


class DeviceModel:
    """Every device the console has heard of.

    :param db: the console's database.
    :param changed: called with the device id after each change (the live updates, :mod:`.live`).
    :param clock: wall-clock seconds.
    """

    def __init__(self, db: ConsoleDatabase, changed: Callable[[str], None] = lambda device: None,
                 clock: Callable[[], float] = time.time):
        self._db = db
        self._changed = changed
        self._clock = clock

    def apply(self, kind: str, device: str, data: dict[str, Any] | None) -> None:
        """Take one message of ``kind`` (:data:`KINDS`) from ``device``; ``data`` None: the retained message was
        cleared (the device's topic emptied)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        now = self._clock()
        text = json.dumps(data, separators=(",", ":")) if data is not None else None
        with self._db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO devices (device) VALUES (?)", (device,))
            if kind == "state":
                state = data.get("state") if data else None
                before = conn.execute("SELECT state FROM devices WHERE device = ?", (device,)).fetchone()[0]
                dropped = int(before == "online" and state == "offline")
                conn.execute("UPDATE devices SET state = ?, state_reason = ?, state_at = ?, "
                             "offline_seen = offline_seen + ? WHERE device = ?",
                             (state, data.get("reason") if data else None, now, dropped, device))
            else:
                # ``kind`` is one of KINDS (checked above): a column name, not input.
                conn.execute(f"UPDATE devices SET {kind} = ?, {kind}_at = ? WHERE device = ?", (text, now, device))
        self._changed(device)

    def all(self) -> list[DeviceView]:
        """Every device, by id."""
        with self._db.reading() as conn:
            rows = conn.execute("SELECT device, state, state_reason, state_at, birth, health, health_at, schedule, "
                                "offline_seen FROM devices ORDER BY device").fetchall()
        return [_view(row) for row in rows]

    def get(self, device: str) -> DeviceView | None:
        """One device, or None."""
        with self._db.reading() as conn:
            row = conn.execute("SELECT device, state, state_reason, state_at, birth, health, health_at, schedule, "
                               "offline_seen FROM devices WHERE device = ?", (device,)).fetchone()
        return _view(row) if row is not None else None


def _view(row: tuple) -> DeviceView:
    device, state, reason, state_at, birth, health, health_at, schedule, offline_seen = row
    return DeviceView(device, None if state is None else state == "online", reason, state_at,
                      json.loads(birth) if birth else {}, json.loads(health) if health else {}, health_at,
                      json.loads(schedule) if schedule else {}, offline_seen)
