"""Payloads of the store's control over the kiosk's content: the effective schedule the agent publishes, staff's
changes to it, and the preview.

The agent owns the store's changes to the content pack in use
(:mod:`edge_agent.content_control`): for each attract item, carousel and
instruction video, on/off (for good, today only or until a day), its place in
the order, and a manager's schedule in place of the pack's. It publishes the
outcome, retained, on the local ``content-schedule`` topic: every item of the
pack in the order it shows, with the windows in which it shows, so the kiosk
(a view) applies it without knowing the rules. Nothing here is personal: a
staff member's id is not in the schedule, only in the audit.

A window is read on the store's wall clock like a pack's ``when``: ``start``
inclusive, ``until`` exclusive (dates), ``days`` and ``hours`` must all match.
An item shows when any of its windows matches; an item without windows is off.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from .types import Day, Identifier, Payload, SessionId

#: The parts of a pack staff can change: the attract loop, the carousels, the instruction videos.
Section = Literal["attract", "inspire", "instructions"]
SECTIONS: tuple[Section, ...] = ("attract", "inspire", "instructions")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
HoursRange = Annotated[str, StringConstraints(pattern=rf"^{_CLOCK}-(?:{_CLOCK}|24:00)$"),
                       Field(description="HH:MM-HH:MM on the store's clock, the end exclusive; 24:00 ends the day.")]
ContentAction = Literal["enable", "disable", "move-up", "move-down", "set-schedule", "clear-schedule", "reset",
                        "undo", "dismiss-dropped"]
#: The actions on one item (the others are on the whole pack).
ITEM_ACTIONS = ("enable", "disable", "move-up", "move-down", "set-schedule", "clear-schedule")
#: The actions only a manager may take.
MANAGER_ACTIONS = ("set-schedule", "clear-schedule")


class Window(Payload):
    """When an item shows: every part given must match (none given: always)."""

    start: Day | None = Field(None, description="First day (inclusive).")
    until: Day | None = Field(None, description="First day it no longer shows (exclusive).")
    days: list[Weekday] | None = Field(None, min_length=1, max_length=7)
    hours: list[HoursRange] | None = Field(None, min_length=1, max_length=12)

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.start is not None and self.until is not None and self.until <= self.start:
            raise ValueError("'until' must be after 'start' (it is the first day it no longer shows)")
        if self.hours is not None:
            for text in self.hours:
                first, last = text.split("-")
                if last <= first:
                    raise ValueError(f"hours {text}: a range ends after it starts and does not cross midnight")
        return self


class ItemState(Payload):
    """One item of the pack as the store changed it, and when it shows."""

    id: Identifier
    enabled: bool = Field(description="False: switched off by staff (until ``until``, or until switched on).")
    until: Day | None = Field(None, description="Staff's on/off holds until this day (exclusive); then the "
                                                "schedule applies again. None: until changed.")
    schedule: Window | None = Field(None, description="A manager's schedule in place of the pack's; none: the "
                                                      "pack's own.")
    moved: bool = Field(False, description="Its place in the order is the store's, not the pack's.")
    windows: list[Window] = Field(description="When it shows, all told; empty: never.")


class DroppedItem(Payload):
    """An item the store had changed that a newer version of the pack no longer has: its changes were dropped."""

    section: Section
    id: Identifier
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="The pack version that no longer has it.")


class ContentSchedulePayload(Payload):
    """The content as the store changed it: every item of the pack in use, in the order it shows."""

    pack: Identifier
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    revision: int = Field(ge=0, description="Counts the store's changes (and undos) to this pack.")
    attract: list[ItemState]
    inspire: list[ItemState]
    instructions: list[ItemState]
    dropped: list[DroppedItem] = Field(default_factory=list, description="For staff: changed items that are gone.")
    undo: ContentAction | None = Field(None, description="The change undo would take back; none: nothing to undo.")
    changed: bool = Field(False, description="The store changed anything of the pack (reset would take it back).")


class ContentControlRequest(Payload):
    """A staff member's change to the content, in their staff session."""

    session: SessionId = Field(description="The staff session (badge and PIN) the change is made in.")
    action: ContentAction
    section: Section | None = Field(None, description="The item's section (item actions).")
    item: Identifier | None = Field(None, description="The item's id (item actions).")
    today_only: bool = Field(False, description="enable/disable: only today, then as scheduled again.")
    until: Day | None = Field(None, description="enable/disable: until this day (exclusive).")
    schedule: Window | None = Field(None, description="set-schedule: the manager's schedule.")

    @model_validator(mode="after")
    def _fits_action(self) -> ContentControlRequest:
        if self.action in ITEM_ACTIONS and (self.section is None or self.item is None):
            raise ValueError(f"{self.action} needs 'section' and 'item'")
        if self.action == "set-schedule" and self.schedule is None:
            raise ValueError("set-schedule needs 'schedule'")
        if (self.today_only or self.until is not None) and self.action not in ("enable", "disable"):
            raise ValueError("'today_only' and 'until' go with enable or disable only")
        if self.today_only and self.until is not None:
            raise ValueError("give 'today_only' or 'until', not both")
        return self


class ContentControlResult(Payload):
    """What a change did: the schedule's new revision."""

    action: ContentAction
    revision: int = Field(ge=0)
    undo: ContentAction | None = None


class PreviewPack(Payload):
    """A pack staff can preview: the one in use, or one that is ready but not active yet."""

    pack: Identifier
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    state: Literal["in-use", "staged"]
    folder: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="Its folder on this device (the kiosk reads the media from it).")


class PreviewPacksRequest(Payload):
    """Which packs may be previewed, in this staff session."""

    session: SessionId


class PreviewPacksResult(Payload):
    """The packs staff can preview now, the one in use first."""

    packs: list[PreviewPack]


class PreviewRequest(Payload):
    """What the content shows at a chosen time (a staff session's preview)."""

    session: SessionId
    at: AwareDatetime = Field(description="The moment to preview, e.g. Saturday 10:00 on the store's clock.")
    pack: Identifier | None = Field(None, description="The pack to preview; none: the one in use.")


class PreviewResult(Payload):
    """The items that show at ``at``, in the order they show."""

    pack: Identifier
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    at: AwareDatetime
    attract: list[Identifier]
    inspire: list[Identifier]
    instructions: list[Identifier]
