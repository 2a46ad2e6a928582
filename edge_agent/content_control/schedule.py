"""The effective schedule: a pack's items with the store's changes (:mod:`.overlay`) laid over them.

Two forms of the same rules, kept apart on purpose:

- :func:`effective` turns the pack and the overlay into the retained
  ``content-schedule`` payload: each item in the order it shows with its
  *windows* (dates, days, hours), so the kiosk applies it with the pack
  format's own :class:`kiosk.content.Schedule` and knows no rules.
- :func:`shows_at` decides directly whether an item shows at a moment, from
  the same overlay; the preview uses it, and the tests compare it with what the
  kiosk makes of the windows for hundreds of generated moments.

The rules: an item staff switched **off** shows never, or, with an end day
(``until``, "today only" is until tomorrow), not before that day and as
scheduled from then on. An item switched **on** with an end day shows at any
time before it (even where its schedule would not: "show it today"), and as
scheduled after; switched on for good, it shows as scheduled. A manager's
schedule replaces the pack's. The order is the pack's unless staff moved
items: then the stored order, with items it does not name (new in a later
version of the pack) after the item that precedes them in the pack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from kiosk.content import DAYS, ContentPack, Schedule, window_schedule

from ..contract.payloads_content_control import SECTIONS, ContentSchedulePayload, ItemState, Section, Window
from .overlay import ItemOverlay, PackOverlay


@dataclass(frozen=True)
class PackItem:
    """An item of a pack as far as the schedule goes: its id and the pack's own schedule."""

    id: str
    schedule: Schedule


def pack_items(pack: ContentPack) -> dict[Section, list[PackItem]]:
    """The items of ``pack`` per section, in the pack's order, with the pack's schedules (instructions have none).

    A pack read by :func:`kiosk.content.load_pack` has only its own schedules (:class:`Schedule`).
    """
    def own(schedule) -> Schedule:
        return schedule if isinstance(schedule, Schedule) else Schedule()

    return {"attract": [PackItem(item.id, own(item.schedule)) for item in pack.attract_items],
            "inspire": [PackItem(item.id, own(item.schedule)) for item in pack.all_carousels],
            "instructions": [PackItem(item.id, Schedule()) for item in pack.all_instructions]}


# --------------------------------------------------------------------------- Schedule <-> Window


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def window_of(schedule: Schedule) -> Window:
    """The contract's form of a pack-format schedule."""
    return Window(start=schedule.start, until=schedule.until,
                  days=None if schedule.days is None else [DAYS[day] for day in sorted(schedule.days)],
                  hours=None if schedule.hours is None else [f"{_clock(a)}-{_clock(b)}" for a, b in schedule.hours])


def schedule_of(window: Window) -> Schedule:
    """The pack-format schedule of a contract window (the kiosk's own reading of it)."""
    return window_schedule(window)


def _from(schedule: Schedule, first: date) -> Schedule | None:
    """``schedule`` from the day ``first`` on, or None when it has ended by then."""
    start = first if schedule.start is None else max(schedule.start, first)
    if schedule.until is not None and schedule.until <= start:
        return None
    return Schedule(start, schedule.until, schedule.days, schedule.hours)


# --------------------------------------------------------------------------- the rules


def base_schedule(item: PackItem, overlay: ItemOverlay | None) -> Schedule:
    """The item's schedule before on/off: a manager's in place of the pack's."""
    if overlay is not None and overlay.schedule is not None:
        return schedule_of(overlay.schedule)
    return item.schedule


def windows(item: PackItem, overlay: ItemOverlay | None) -> list[Schedule]:
    """When ``item`` shows with ``overlay`` laid over it, as windows (any one active: it shows)."""
    base = base_schedule(item, overlay)
    if overlay is None or (overlay.enabled and overlay.until is None):
        return [base]
    if overlay.until is None:  # off for good
        return []
    later = _from(base, overlay.until)
    result = [Schedule(until=overlay.until)] if overlay.enabled else []
    return result + ([later] if later is not None else [])


def shows_at(item: PackItem, overlay: ItemOverlay | None, at: datetime) -> bool:
    """Whether ``item`` shows at the wall-clock moment ``at`` (the store's time), decided from the rules."""
    if overlay is not None:
        if overlay.until is not None and at.date() < overlay.until:
            return overlay.enabled
        if not overlay.enabled and overlay.until is None:
            return False
    return base_schedule(item, overlay).active(at)


def ordered(items: Sequence[PackItem], order: Sequence[str] | None) -> list[PackItem]:
    """``items`` in the store's ``order`` (ids); ids it does not name keep their place after their pack
    predecessor; ids it names that the pack lacks are left out."""
    if not order:
        return list(items)
    by_id = {item.id: item for item in items}
    result = [by_id[id] for id in dict.fromkeys(order) if id in by_id]
    placed = {item.id for item in result}
    for index, item in enumerate(items):
        if item.id in placed:
            continue
        before = next((items[back].id for back in range(index - 1, -1, -1) if items[back].id in placed), None)
        position = 0 if before is None else next(i for i, other in enumerate(result) if other.id == before) + 1
        result.insert(position, item)
        placed.add(item.id)
    return result


def showing(items: Iterable[PackItem], overlay: PackOverlay, section: Section, at: datetime) -> list[str]:
    """The ids of ``section`` that show at ``at``, in the order they show (the preview's answer)."""
    listed = ordered(list(items), overlay.orders.get(section))
    return [item.id for item in listed if shows_at(item, overlay.items.get((section, item.id)), at)]


def effective(pack: ContentPack, overlay: PackOverlay, revision: int) -> ContentSchedulePayload:
    """The retained ``content-schedule`` of ``pack`` with ``overlay`` laid over it."""
    return PackSchedule(pack).effective(overlay, revision)


class PackSchedule:
    """:func:`effective` for one pack, with what the pack itself gives made once: its items and, for each
    item the store did not change, its state (the pack's own windows). After a change only the changed
    items' states are made again (the agent publishes a schedule after every change)."""

    def __init__(self, pack: ContentPack):
        self.pack = pack
        self.items = pack_items(pack)
        self._own = {(section, item.id): ItemState(id=item.id, enabled=True, until=None, schedule=None,
                                                   moved=False, windows=[window_of(item.schedule)])
                     for section, items in self.items.items() for item in items}

    def effective(self, overlay: PackOverlay, revision: int) -> ContentSchedulePayload:
        """The retained ``content-schedule`` of the pack with ``overlay`` laid over it."""
        sections: dict[str, list[ItemState]] = {}
        for section, items in self.items.items():
            order = overlay.orders.get(section)
            listed = ordered(items, order)
            states = []
            for position, item in enumerate(listed):
                change = overlay.items.get((section, item.id))
                moved = bool(order) and items.index(item) != position
                if change is None:
                    own = self._own[(section, item.id)]
                    states.append(own.model_copy(update={"moved": True}) if moved else own)
                    continue
                states.append(ItemState(
                    id=item.id, enabled=change.enabled, until=change.until, schedule=change.schedule, moved=moved,
                    windows=[window_of(window) for window in windows(item, change)]))
            sections[section] = states
        assert set(sections) == set(SECTIONS), "pack_items gives every section"
        return ContentSchedulePayload(pack=self.pack.name, version=self.pack.version, revision=revision,
                                      attract=sections["attract"], inspire=sections["inspire"],
                                      instructions=sections["instructions"], dropped=list(overlay.dropped),
                                      undo=overlay.undo, changed=overlay.changed)
