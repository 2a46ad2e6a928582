"""Inhoud (staff mode): the content pack in use as the store changed it, and staff's changes to it.

For each attract item, carousel and instruction video: on/off, "vandaag" (today only) or until a day picked
with a day picker, up and down, and for managers a schedule (weekdays, hours, first and end day) with touch
pickers; "Terug naar het pack" (reset), "Ongedaan maken" (undo the last change), the items a newer version of
the pack no longer has, and the previews (:mod:`.voorbeeld`). Every button is at least one touch target
(``app.target``, >= 9 mm) high.

The screen is a view of :attr:`kiosk.content.ContentLibrary.schedule` (the agent's retained
``content-schedule``) and of :class:`kiosk.content_control.ContentControlState`; each change is a
``content-control`` request to the agent in the staff session, and shows once the agent's new schedule is back.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from kivy.app import App
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout

from edge_agent.contract import StaffRole

from ..content_control import (
    DAY_SHORT,
    HOUR_STEP,
    SECTION_NAMES,
    ContentControlState,
    clock,
    day_text,
    item_title,
    shows_now,
    state_text,
)
from ..state import Screen
from ..widgets import KioskButton, Panel, TextBlock
from . import KioskScreen

logger = logging.getLogger(__name__)


def button_row(*buttons: KioskButton) -> BoxLayout:
    """Buttons side by side, as high as the highest."""
    app = App.get_running_app()
    row = BoxLayout(orientation="horizontal", size_hint_y=None, spacing=app.unit * 0.4)
    row.bind(minimum_height=row.setter("height"))
    for button in buttons:
        row.add_widget(button)
    return row


def button(target: str, text: str, on_release, kind: str = "primary", disabled: bool = False) -> KioskButton:
    """A :class:`KioskButton` named ``target`` calling ``on_release()``."""
    widget = KioskButton(target=target, text=text, kind=kind, disabled=disabled)
    widget.bind(on_release=lambda _button: on_release())
    return widget


class InhoudScreen(KioskScreen):
    """The content-control screen (``inhoud.kv`` holds its frame; the list is built here)."""

    rev = NumericProperty(0)  # bumped when the schedule, the state or the language change: rebuilt

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.control = ContentControlState()
        self._layout: tuple | None = None  # what the widgets were built for (see _rebuild)
        self._refs: dict[str, Any] = {}  # the widgets whose text or state follows the schedule
        self._shown: dict[str, tuple] = {}  # per item row: the state and the day its text was made for
        self.fbind("rev", self._rebuild)

    # ------------------------------------------------------------------ from the app

    def changed(self) -> None:
        """Something it shows changed (the schedule, an answer, the language): rebuilt, or its texts set when
        the same widgets still fit (a change to an item's state: the frame that shows it is not held up by
        building the list again). Nothing is built while the screen is not shown."""
        if self.manager is not None and self.manager.current_screen is self:
            self.rev += 1
        else:
            self._layout = None

    def on_pre_enter(self, *args) -> None:
        self._layout = None
        self.rev += 1

    def answered(self, ok: bool, error: str | None) -> None:
        """The agent's answer to this screen's last request."""
        app = App.get_running_app()
        self.control.answered(ok, app.tr("Gedaan.", app.lang) if ok else
                              app.tr("Niet gelukt: {reason}", app.lang).format(reason=error or ""))
        self.changed()

    def report(self) -> dict:
        """What the screen has, for the status file: the section and item chosen, the picker, the answers."""
        control = self.control
        return {"section": control.section, "item": control.item, "picker": control.picker, "busy": control.busy,
                "answers": control.answers, "message": control.message,
                "draft": control.draft.window() if control.picker == "schedule" else None}

    # ------------------------------------------------------------------ requests

    def send(self, action: str, **fields: Any) -> None:
        app = App.get_running_app()
        session = app.state.visit.session
        if session is None:
            return
        app.bridge.request("content-control", session.id, **self.control.request(action, **fields))
        self.changed()

    def _now(self) -> datetime:
        return datetime.now(App.get_running_app().tz)

    def _today(self) -> date:
        return self._now().date()

    # ------------------------------------------------------------------ building

    def _layout_of(self, app, schedule) -> tuple:
        """What decides which widgets the screen has (not their texts)."""
        control, draft = self.control, self.control.draft
        states = getattr(schedule, control.section) if schedule is not None else []
        return (app.lang, app.content.pack.name, app.content.pack.version, schedule is None, control.section,
                tuple(state.id for state in states), control.item, control.picker, control.until_day,
                tuple(sorted(draft.days)), draft.start_minute, draft.end_minute, draft.first_day, draft.end_day,
                tuple(schedule.dropped) if schedule is not None else (), self._awaiting())

    def _rebuild(self, *_args) -> None:
        body = self.ids.get("body")
        app = App.get_running_app()
        if body is None or app is None:
            return
        tr = lambda text: app.tr(text, app.lang)  # noqa: E731  (the screen's language, for every line below)
        schedule = app.content.schedule
        pack = app.content.pack
        control = self.control
        layout = self._layout_of(app, schedule)
        if layout == self._layout and schedule is not None:
            self._refresh(schedule, tr)
            return
        self._layout, self._refs, self._shown = layout, {}, {}
        body.clear_widgets()
        if schedule is None or not pack or schedule.pack != pack.name:
            body.add_widget(TextBlock(role="title", text=tr("Inhoud")))
            body.add_widget(TextBlock(text=tr("Nog geen inhoud van de agent.")))
            return
        today = self._today()
        body.add_widget(TextBlock(role="title", text=tr("Inhoud")))
        body.add_widget(TextBlock(role="small", text=f"{pack.name} {pack.version}"))
        self._refs["message"] = TextBlock(role="heading", text=control.message)
        body.add_widget(self._refs["message"])
        awaiting = self._awaiting()
        if awaiting is not None:
            body.add_widget(self._approval_panel(awaiting, tr))
        if schedule.dropped:
            panel = Panel()
            panel.add_widget(TextBlock(role="heading", text=tr("Niet meer in het pack")))
            for dropped in schedule.dropped:
                panel.add_widget(TextBlock(text=tr("{section}: {item} (weg in versie {version})").format(
                    section=tr(SECTION_NAMES[dropped.section]), item=dropped.id, version=dropped.version)))
            panel.add_widget(button("inhoud-dropped-seen", tr("Gezien"), lambda: self.send("dismiss-dropped"),
                                    "secondary"))
            body.add_widget(panel)
        body.add_widget(button_row(*(
            button(f"inhoud-section-{section}", tr(name), lambda section=section: self._section(section),
                   "primary" if section == control.section else "secondary")
            for section, name in SECTION_NAMES.items())))
        states = getattr(schedule, control.section)
        if not states:
            body.add_widget(TextBlock(text=tr("Dit pack heeft hier niets.")))
        for position, state in enumerate(states, 1):
            title = item_title(pack, control.section, state.id, app.lang)
            chosen = state.id == control.item
            self._shown[state.id] = (state, today)
            self._refs[f"item-{state.id}"] = row = button(
                f"inhoud-item-{state.id}", f"{position}. {title} · {state_text(state, self._now(), tr)}",
                lambda id=state.id: self._choose(id), "primary" if chosen else "secondary")
            body.add_widget(row)
            if chosen:
                body.add_widget(self._actions(state, position, len(states), today, tr))
        self._refs["undo"] = button("inhoud-undo", tr("Ongedaan maken"), lambda: self.send("undo"), "secondary",
                                    disabled=schedule.undo is None or control.busy)
        self._refs["reset"] = button("inhoud-reset", tr("Terug naar het pack"), lambda: self.send("reset"), "danger",
                                     disabled=not schedule.changed or control.busy)
        body.add_widget(button_row(self._refs["undo"], self._refs["reset"],
                                   button("inhoud-preview", tr("Voorbeeld"), self._show_loop, "secondary")))

    # ------------------------------------------------------------------ a delivered pack waiting for a manager
    # [content] approval (edge_agent.content_delivery): the agent's content-active names a staged pack that
    # waits for a manager; a manager in staff mode approves it here (request/content-approve, audited).

    def _awaiting(self):
        """The staged pack a manager may approve now (the last ``content-active``), or None."""
        app = App.get_running_app()
        latest = getattr(getattr(app, "pack_switch", None), "latest", None)
        staged = latest.staged if latest is not None else None
        staff_mode = app.state.visit.staff_mode
        if staged is None or not staged.awaiting_approval or staff_mode is None \
                or staff_mode.role is not StaffRole.MANAGER:
            return None
        return staged

    def _approval_panel(self, staged, tr) -> Panel:
        panel = Panel()
        panel.add_widget(TextBlock(role="heading", text=tr("Nieuw pack wacht op goedkeuring")))
        panel.add_widget(TextBlock(text=f"{staged.pack} {staged.pack_version}"))
        panel.add_widget(button("inhoud-approve", tr("Goedkeuren en tonen"), lambda: self._approve(staged),
                                disabled=self.control.busy))
        return panel

    def _approve(self, staged) -> None:
        app = App.get_running_app()
        session = app.state.visit.session
        if session is None:
            return
        app.bridge.request("content-approve", session.id, pack=staged.pack, version=staged.version)
        self.changed()

    def _refresh(self, schedule, tr) -> None:
        """Set the texts and states of the widgets built for this layout from ``schedule``."""
        app = App.get_running_app()
        control, refs = self.control, self._refs
        refs["message"].text = control.message
        states = getattr(schedule, control.section)
        now = self._now()
        for position, state in enumerate(states, 1):
            # Only a row whose item changed (or a new day, which words "today" differently) gets its text made.
            shown = (state, now.date())
            if self._shown.get(state.id) != shown:
                self._shown[state.id] = shown
                title = item_title(app.content.pack, control.section, state.id, app.lang)
                refs[f"item-{state.id}"].text = f"{position}. {title} · {state_text(state, now, tr)}"
            if state.id == control.item and "switch" in refs:
                self._set_switches(state, tr)
        refs["undo"].disabled = schedule.undo is None or control.busy
        refs["reset"].disabled = not schedule.changed or control.busy

    def _set_switches(self, state, tr) -> None:
        """The chosen item's on/off and "today" buttons, which say what they would do to it now."""
        refs, busy = self._refs, self.control.busy
        switch, today = refs["switch"], refs["today"]
        switch.target, switch.text = ("inhoud-off", tr("Uit")) if state.enabled else ("inhoud-on", tr("Aan"))
        today.target, today.text = (("inhoud-today-off", tr("Vandaag uit")) if shows_now(state, self._now())
                                    else ("inhoud-today-on", tr("Vandaag aan")))
        for name in ("switch", "today", "until", "up", "down", "schedule"):
            refs[name].disabled = busy or refs[name].at_edge

    def _switch(self, today_only: bool = False) -> None:
        state = self.control.selected(App.get_running_app().content.schedule)
        if state is None:
            return
        on = not (shows_now(state, self._now()) if today_only else state.enabled)
        fields = {"today_only": True} if today_only else {}
        self.send("enable" if on else "disable", **fields)

    def _actions(self, state, position: int, count: int, today: date, tr) -> Panel:
        refs = self._refs
        panel = Panel()
        refs["switch"] = button("inhoud-off", "", self._switch)
        refs["today"] = button("inhoud-today-off", "", lambda: self._switch(today_only=True), "secondary")
        refs["until"] = button("inhoud-until", tr("Tot dag…"), lambda: self._picker("until"), "secondary")
        refs["up"] = button("inhoud-up", tr("Omhoog"), lambda: self.send("move-up"), "secondary")
        refs["down"] = button("inhoud-down", tr("Omlaag"), lambda: self.send("move-down"), "secondary")
        refs["schedule"] = button("inhoud-schedule", tr("Schema…"), lambda: self._picker("schedule"), "secondary")
        # A manager's: the agent refuses it to anyone else, so staff are not offered it.
        staff_mode = App.get_running_app().state.visit.staff_mode
        refs["schedule"].shown = staff_mode is not None and staff_mode.role is StaffRole.MANAGER
        for name in ("switch", "today", "until", "up", "down", "schedule"):
            refs[name].at_edge = (name == "up" and position == 1) or (name == "down" and position == count)
        self._set_switches(state, tr)
        panel.add_widget(button_row(refs["switch"], refs["today"], refs["until"]))
        panel.add_widget(button_row(
            refs["up"], refs["down"], refs["schedule"],
            button("inhoud-show", tr("Bekijk"), lambda: self._show_item(state.id), "secondary")))
        if self.control.picker == "until":
            panel.add_widget(self._until_picker(today, tr))
        elif self.control.picker == "schedule":
            panel.add_widget(self._schedule_picker(state, tr))
        return panel

    def _until_picker(self, today: date, tr) -> BoxLayout:
        control = self.control
        day = control.until_day or today
        box = BoxLayout(orientation="vertical", size_hint_y=None, spacing=App.get_running_app().unit * 0.4)
        box.bind(minimum_height=box.setter("height"))
        box.add_widget(TextBlock(role="heading", text=tr("Tot {day} (die dag niet meer)").format(
            day=day_text(day, tr))))
        box.add_widget(button_row(
            button("until-minus-day", tr("−1 dag"), lambda: self._until(-1), "bar"),
            button("until-plus-day", tr("+1 dag"), lambda: self._until(1), "bar"),
            button("until-plus-week", tr("+1 week"), lambda: self._until(7), "bar")))
        box.add_widget(button_row(
            button("until-off", tr("Uit tot dan"), lambda: self.send("disable", until=day.isoformat())),
            button("until-on", tr("Aan tot dan"), lambda: self.send("enable", until=day.isoformat())),
            button("until-cancel", tr("Annuleren"), lambda: self._picker(""), "secondary")))
        return box

    def _schedule_picker(self, state, tr) -> BoxLayout:
        draft = self.control.draft
        box = BoxLayout(orientation="vertical", size_hint_y=None, spacing=App.get_running_app().unit * 0.4)
        box.bind(minimum_height=box.setter("height"))
        box.add_widget(TextBlock(role="heading", text=tr("Schema (alleen voor managers)")))
        box.add_widget(button_row(*(
            button(f"schedule-day-{index}", tr(name), lambda index=index: self._draft("day", index),
                   "primary" if index in draft.days else "secondary")
            for index, name in enumerate(DAY_SHORT))))
        box.add_widget(button_row(
            button("schedule-start-minus", "−", lambda: self._draft("start", -HOUR_STEP), "bar"),
            TextBlock(text=tr("van {time}").format(time=clock(draft.start_minute)), halign="center"),
            button("schedule-start-plus", "+", lambda: self._draft("start", HOUR_STEP), "bar"),
            button("schedule-end-minus", "−", lambda: self._draft("end", -HOUR_STEP), "bar"),
            TextBlock(text=tr("tot {time}").format(time=clock(draft.end_minute)), halign="center"),
            button("schedule-end-plus", "+", lambda: self._draft("end", HOUR_STEP), "bar")))
        for which, label, value in (("first-day", tr("vanaf"), draft.first_day),
                                    ("end-day", tr("tot"), draft.end_day)):
            box.add_widget(button_row(
                TextBlock(text=f"{label} {day_text(value, tr) if value else tr('altijd')}"),
                button(f"schedule-{which}-minus", tr("−1 dag"), lambda which=which: self._draft(which, -1), "bar"),
                button(f"schedule-{which}-plus", tr("+1 dag"), lambda which=which: self._draft(which, 1), "bar"),
                button(f"schedule-{which}-none", tr("altijd"), lambda which=which: self._draft(which, 0), "bar")))
        box.add_widget(button_row(
            button("schedule-save", tr("Opslaan"), lambda: self.send("set-schedule", schedule=draft.window())),
            button("schedule-clear", tr("Schema van het pack"), lambda: self.send("clear-schedule"), "secondary",
                   disabled=state.schedule is None),
            button("schedule-cancel", tr("Annuleren"), lambda: self._picker(""), "secondary")))
        return box

    # ------------------------------------------------------------------ touches

    def _section(self, section) -> None:
        self.control.choose_section(section)
        self.changed()

    def _choose(self, item: str) -> None:
        self.control.choose(item)
        self.changed()

    def _picker(self, picker: str) -> None:
        self.control.open_picker(picker, App.get_running_app().content.schedule, self._today())
        self.changed()

    def _until(self, days: int) -> None:
        self.control.step_until(days, self._today())
        self.changed()

    def _draft(self, what: str, value: int) -> None:
        draft = self.control.draft
        if what == "day":
            draft.toggle_day(value)
        elif what in ("start", "end"):
            draft.step_hours(what, value)
        else:
            attribute = "first_day" if what == "first-day" else "end_day"
            current = getattr(draft, attribute)
            if value == 0:
                setattr(draft, attribute, None)
            else:
                setattr(draft, attribute, (current or self._today()) + timedelta(days=value))
            if draft.first_day and draft.end_day and draft.end_day <= draft.first_day:
                draft.end_day = draft.first_day + timedelta(days=1)
        self.changed()

    def _show_loop(self) -> None:
        app = App.get_running_app()
        app.screens[Screen.VOORBEELD].preview.show_loop()
        app.open_screen(Screen.VOORBEELD.value)

    def _show_item(self, item: str) -> None:
        app = App.get_running_app()
        app.screens[Screen.VOORBEELD].preview.show_item(self.control.section, item)
        app.open_screen(Screen.VOORBEELD.value)
