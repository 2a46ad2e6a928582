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

from ..content_control import (
    DAY_SHORT,
    HOUR_STEP,
    SECTION_NAMES,
    ContentControlState,
    clock,
    day_text,
    item_title,
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
        self.fbind("rev", self._rebuild)

    # ------------------------------------------------------------------ from the app

    def changed(self) -> None:
        """Something it shows changed (the schedule, an answer, the language): rebuild."""
        self.rev += 1

    def on_pre_enter(self, *args) -> None:
        self.changed()

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
                "answers": control.answers, "message": control.message}

    # ------------------------------------------------------------------ requests

    def send(self, action: str, **fields: Any) -> None:
        app = App.get_running_app()
        session = app.state.visit.session
        if session is None:
            return
        app.bridge.request("content-control", session.id, **self.control.request(action, **fields))
        self.changed()

    def _today(self) -> date:
        app = App.get_running_app()
        return datetime.now(app.tz).date()

    # ------------------------------------------------------------------ building

    def _rebuild(self, *_args) -> None:
        body = self.ids.get("body")
        app = App.get_running_app()
        if body is None or app is None:
            return
        body.clear_widgets()
        tr = lambda text: app.tr(text, app.lang)  # noqa: E731  (the screen's language, for every line below)
        schedule = app.content.schedule
        pack = app.content.pack
        control = self.control
        if schedule is None or not pack or schedule.pack != pack.name:
            body.add_widget(TextBlock(role="title", text=tr("Inhoud")))
            body.add_widget(TextBlock(text=tr("Nog geen inhoud van de agent.")))
            return
        today = self._today()
        body.add_widget(TextBlock(role="title", text=tr("Inhoud")))
        body.add_widget(TextBlock(role="small", text=f"{pack.name} {pack.version}"))
        if control.message:
            body.add_widget(TextBlock(role="heading", text=control.message))
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
                   "secondary" if section == control.section else "bar")
            for section, name in SECTION_NAMES.items())))
        states = getattr(schedule, control.section)
        if not states:
            body.add_widget(TextBlock(text=tr("Dit pack heeft hier niets.")))
        for position, state in enumerate(states, 1):
            title = item_title(pack, control.section, state.id, app.lang)
            chosen = state.id == control.item
            body.add_widget(button(f"inhoud-item-{state.id}",
                                   f"{position}. {title} · {state_text(state, today, tr)}",
                                   lambda id=state.id: self._choose(id), "primary" if chosen else "secondary"))
            if chosen:
                body.add_widget(self._actions(state, position, len(states), today, tr))
        body.add_widget(button_row(
            button("inhoud-undo", tr("Ongedaan maken"), lambda: self.send("undo"), "secondary",
                   disabled=schedule.undo is None or control.busy),
            button("inhoud-reset", tr("Terug naar het pack"), lambda: self.send("reset"), "danger",
                   disabled=not schedule.changed or control.busy),
            button("inhoud-preview", tr("Voorbeeld"), self._show_loop, "secondary")))

    def _actions(self, state, position: int, count: int, today: date, tr) -> Panel:
        control = self.control
        busy = control.busy
        panel = Panel()
        panel.add_widget(button_row(
            button("inhoud-off" if state.enabled else "inhoud-on", tr("Uit") if state.enabled else tr("Aan"),
                   lambda: self.send("disable" if state.enabled else "enable"), disabled=busy),
            button("inhoud-today-off" if state.windows else "inhoud-today-on",
                   tr("Vandaag uit") if state.windows else tr("Vandaag aan"),
                   lambda: self.send("disable" if state.windows else "enable", today_only=True), "secondary",
                   disabled=busy),
            button("inhoud-until", tr("Tot dag…"), lambda: self._picker("until"), "secondary", disabled=busy)))
        panel.add_widget(button_row(
            button("inhoud-up", tr("Omhoog"), lambda: self.send("move-up"), "secondary",
                   disabled=busy or position == 1),
            button("inhoud-down", tr("Omlaag"), lambda: self.send("move-down"), "secondary",
                   disabled=busy or position == count),
            button("inhoud-schedule", tr("Schema…"), lambda: self._picker("schedule"), "secondary", disabled=busy),
            button("inhoud-show", tr("Bekijk"), lambda: self._show_item(state.id), "secondary")))
        if control.picker == "until":
            panel.add_widget(self._until_picker(today, tr))
        elif control.picker == "schedule":
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
                   "primary" if index in draft.days else "bar")
            for index, name in enumerate(DAY_SHORT))))
        box.add_widget(button_row(
            button("schedule-start-minus", "−", lambda: self._draft("start", -HOUR_STEP), "bar"),
            TextBlock(text=tr("van {time}").format(time=clock(draft.start_minute)), halign="center"),
            button("schedule-start-plus", "+", lambda: self._draft("start", HOUR_STEP), "bar"),
            button("schedule-end-minus", "−", lambda: self._draft("end", -HOUR_STEP), "bar"),
            TextBlock(text=tr("tot {time}").format(time=clock(draft.end_minute)), halign="center"),
            button("schedule-end-plus", "+", lambda: self._draft("end", HOUR_STEP), "bar")))
        for which, label, value in (("first", tr("vanaf"), draft.first_day), ("end", tr("tot"), draft.end_day)):
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
            attribute = "first_day" if what == "first" else "end_day"
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
