"""What the content-control screens in staff mode show and send, without Kivy: the items of the pack in use as
the agent's ``content-schedule`` gives them, the item and the pickers staff have chosen, and the requests.

The kiosk stays a view: every change goes to the agent as a ``content-control``
request in the staff session, and what shows comes back on the retained
``content-schedule`` topic (:func:`kiosk.content.apply_overlay`). The screens
(:mod:`kiosk.screens.inhoud`, :mod:`kiosk.screens.voorbeeld`) draw this state;
this module only keeps and words it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from edge_agent.contract.payloads_content_control import SECTIONS, ContentSchedulePayload, ItemState, Section

from .content import DAYS, ContentPack, Localized, window_schedule
from .state import N_

#: The requests of the content screens (their answers go to the screens, not to the visit's state).
CONTENT_COMMANDS = ("content-control", "content-preview-packs", "content-preview", "content-approve")
#: The sections' names on screen.
SECTION_NAMES: dict[Section, str] = {"attract": N_("Bereik"), "inspire": N_("Inspiratie"),
                                     "instructions": N_("Instructies")}
#: Weekdays on screen, Monday first (as kiosk.content.DAYS).
DAY_NAMES = (N_("maandag"), N_("dinsdag"), N_("woensdag"), N_("donderdag"), N_("vrijdag"), N_("zaterdag"),
             N_("zondag"))
DAY_SHORT = (N_("ma"), N_("di"), N_("wo"), N_("do"), N_("vr"), N_("za"), N_("zo"))
#: Steps of the hour pickers, in minutes.
HOUR_STEP = 30
PREVIEW_STEP = 15

Translate = Callable[[str], str]


@dataclass
class ScheduleDraft:
    """A manager's schedule being picked: weekdays (0 = Monday), one range of hours (minutes), and optional
    first and end days."""

    days: set[int] = field(default_factory=lambda: set(range(7)))
    start_minute: int = 9 * 60
    end_minute: int = 17 * 60
    first_day: date | None = None
    end_day: date | None = None

    def toggle_day(self, day: int) -> None:
        if day in self.days and len(self.days) > 1:  # at least one day: no days is "off", which has its button
            self.days.discard(day)
        else:
            self.days.add(day)

    def step_hours(self, which: str, minutes: int) -> None:
        """Move the start or the end of the range (``which``: 'start' or 'end'); it stays within the day and
        never ends before it starts."""
        if which == "start":
            self.start_minute = max(0, min(self.end_minute - HOUR_STEP, self.start_minute + minutes))
        else:
            self.end_minute = min(24 * 60, max(self.start_minute + HOUR_STEP, self.end_minute + minutes))

    def window(self) -> dict[str, Any]:
        """The contract's ``Window`` (as data) of this draft."""
        return {"start": self.first_day.isoformat() if self.first_day else None,
                "until": self.end_day.isoformat() if self.end_day else None,
                "days": None if len(self.days) == 7 else [DAYS[day] for day in sorted(self.days)],
                "hours": None if (self.start_minute, self.end_minute) == (0, 24 * 60)
                else [f"{clock(self.start_minute)}-{clock(self.end_minute)}"]}

    @classmethod
    def of(cls, state: ItemState | None) -> ScheduleDraft:
        """A draft starting from the item's manager schedule, or the defaults."""
        draft = cls()
        schedule = state.schedule if state is not None else None
        if schedule is None:
            return draft
        if schedule.days:
            draft.days = {DAYS.index(day) for day in schedule.days}
        if schedule.hours:
            start, _, end = schedule.hours[0].partition("-")
            draft.start_minute, draft.end_minute = _minute(start), _minute(end)
        draft.first_day, draft.end_day = schedule.start, schedule.until
        return draft


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _minute(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def next_moment(now: datetime, weekday: int, minute: int) -> datetime:
    """The next ``weekday`` (0 = Monday) at ``minute`` past midnight from ``now`` on (today when it is that day,
    even if the time has passed: "zaterdag 10:00" on a Saturday afternoon is this Saturday), in ``now``'s zone."""
    days = (weekday - now.weekday()) % 7
    day = now.date() + timedelta(days=days)
    return datetime.combine(day, time(minute // 60, minute % 60), now.tzinfo)


def moment_text(at: datetime, tr: Translate) -> str:
    """``zaterdag 4 april 10:00`` style, in the screen's language (day names translated)."""
    return f"{tr(DAY_NAMES[at.weekday()])} {at.day}-{at.month} {at.strftime('%H:%M')}"


def day_text(day: date, tr: Translate) -> str:
    return f"{tr(DAY_SHORT[day.weekday()])} {day.day}-{day.month}-{day.year}"


def item_title(pack: ContentPack, section: Section, id: str, language: str) -> str:
    """An item's name on screen: its caption or title, else its id."""
    text: Localized | None = None
    if section == "attract":
        text = next((item.caption for item in pack.attract_items if item.id == id), None)
    elif section == "inspire":
        text = next((item.title for item in pack.all_carousels if item.id == id), None)
    else:
        text = next((item.title for item in pack.all_instructions if item.id == id), None)
    return (text.text(language) if text else "") or id


def shows_now(state: ItemState, now: datetime) -> bool:
    """Whether the item shows at ``now`` (the store's wall clock), by the agent's windows."""
    return any(window_schedule(window).active(now) for window in state.windows)


def state_text(state: ItemState, now: datetime, tr: Translate) -> str:
    """What staff changed of an item, in a few words (``aan``, ``uit tot di 7-4-2026``, ``alleen vandaag``…)."""
    today = now.date()
    parts = []
    if state.until is not None:
        only_today = state.until == today + timedelta(days=1)
        if state.enabled:
            parts.append(tr("alleen vandaag aan") if only_today else
                         tr("aan tot {day}").format(day=day_text(state.until, tr)))
        else:
            parts.append(tr("vandaag uit") if only_today else
                         tr("uit tot {day}").format(day=day_text(state.until, tr)))
    else:
        parts.append(tr("aan") if state.enabled else tr("uit"))
    if state.schedule is not None:
        parts.append(tr("eigen schema"))
    if state.moved:
        parts.append(tr("verplaatst"))
    if not state.windows:
        parts.append(tr("toont niet"))
    elif not shows_now(state, now):
        parts.append(tr("nu niet te zien"))
    return ", ".join(parts)


@dataclass
class ContentControlState:
    """The content-control screen's state: which section and item are chosen, which picker is open, and the
    last answer. ``rev`` counts changes (the screens redraw on it)."""

    section: Section = "attract"
    item: str | None = None
    picker: str = ""  # "", "until" (the day picker) or "schedule" (a manager's schedule)
    until_day: date | None = None
    draft: ScheduleDraft = field(default_factory=ScheduleDraft)
    busy: bool = False
    message: str = ""  # the last answer's text: done, or why not
    answers: int = 0  # answers received (the status file says it: tests wait for the answer, not a time)
    rev: int = 0

    def changed(self) -> None:
        self.rev += 1

    def choose_section(self, section: Section) -> None:
        if section in SECTIONS:
            self.section, self.item, self.picker = section, None, ""
            self.changed()

    def choose(self, item: str) -> None:
        self.item, self.picker = item, ""
        self.changed()

    def open_picker(self, picker: str, schedule: ContentSchedulePayload | None, today: date) -> None:
        self.picker = picker
        if picker == "until":
            self.until_day = today + timedelta(days=7)
        elif picker == "schedule":
            self.draft = ScheduleDraft.of(self.selected(schedule))
        self.changed()

    def step_until(self, days: int, today: date) -> None:
        current = self.until_day or today + timedelta(days=1)
        self.until_day = max(today + timedelta(days=1), current + timedelta(days=days))
        self.changed()

    def selected(self, schedule: ContentSchedulePayload | None) -> ItemState | None:
        """The chosen item's state in ``schedule``, or None."""
        if schedule is None or self.item is None:
            return None
        return next((state for state in getattr(schedule, self.section) if state.id == self.item), None)

    def request(self, action: str, **fields: Any) -> dict[str, Any]:
        """The fields of a ``content-control`` request for ``action`` on the chosen item (or the pack)."""
        data: dict[str, Any] = {"action": action}
        if action in ("enable", "disable", "move-up", "move-down", "set-schedule", "clear-schedule"):
            data.update(section=self.section, item=self.item)
        data.update(fields)
        self.busy, self.message = True, ""
        self.changed()
        return data

    def answered(self, ok: bool, text: str) -> None:
        self.busy, self.message = False, text
        self.answers += 1
        if ok:
            self.picker = ""
        self.changed()


@dataclass
class PreviewState:
    """The preview screen's state: one item full screen, or the loop at a chosen moment, stepped through."""

    mode: str = "loop"  # "item" or "loop"
    section: Section = "attract"
    item: str | None = None
    weekday: int = 5  # zaterdag
    minute: int = 10 * 60
    pack: str | None = None  # the pack chosen; None: the one in use
    packs: list[dict[str, str]] = field(default_factory=list)  # the agent's preview-packs answer
    at: datetime | None = None  # the moment of the answer shown
    shown: dict[str, list[str]] = field(default_factory=dict)  # section -> ids, the agent's answer
    index: int = 0
    busy: bool = False
    message: str = ""
    answers: int = 0  # the agent's preview answers received (the status file says it)
    rev: int = 0

    def changed(self) -> None:
        self.rev += 1

    def show_item(self, section: Section, item: str) -> None:
        self.mode, self.section, self.item = "item", section, item
        self.changed()

    def show_loop(self) -> None:
        self.mode, self.item = "loop", None
        self.changed()

    def step_time(self, minutes: int) -> None:
        self.minute = (self.minute + minutes) % (24 * 60)
        self.changed()

    def choose_day(self, weekday: int) -> None:
        self.weekday = weekday % 7
        self.changed()

    def moment(self, now: datetime, tz: tzinfo) -> datetime:
        return next_moment(now.astimezone(tz), self.weekday, self.minute)

    def step(self, by: int) -> None:
        items = self.shown.get("attract", [])
        if items:
            self.index = (self.index + by) % len(items)
        self.changed()

    @property
    def current(self) -> str | None:
        """The id of the attract item shown in the stepped loop, or None."""
        items = self.shown.get("attract", [])
        return items[self.index % len(items)] if items else None
