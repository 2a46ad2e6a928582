"""Voorbeeld (staff mode): any item of the pack full screen now, or the attract loop as it will run at a chosen day
and time ("zaterdag 10:00"), stepped through with "Vorige" and "Volgende".

The loop at a moment is the agent's answer (``content-preview``: the store's changes laid over the pack, read
on the store's clock), so staff see what the agent will publish, not the kiosk's guess; the packs to preview are
the agent's ``content-preview-packs`` (the pack in use; staged packs once central sends them). Media are read from
the pack's folder, which the kiosk shares with the agent.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.properties import NumericProperty, StringProperty

from edge_agent.contract.payloads_content_control import PreviewPacksResult, PreviewResult

from ..content import ContentError, ContentPack, load_pack
from ..content_control import DAY_SHORT, PREVIEW_STEP, PreviewState, clock, item_title, moment_text
from ..state import N_, Screen
from ..widgets import TextBlock
from . import KioskScreen
from .inhoud import button, button_row

logger = logging.getLogger(__name__)

#: The packs' states on screen.
PACK_STATES = {"in-use": N_("in gebruik"), "staged": N_("klaar, nog niet actief")}


class VoorbeeldScreen(KioskScreen):
    """The preview screen (``voorbeeld.kv``: the medium on top, the controls built here below it)."""

    rev = NumericProperty(0)
    image_source = StringProperty("")  # the item's image, or ""
    video_source = StringProperty("")  # the item's video, or ""
    caption = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.preview = PreviewState()
        self._packs: dict[str, ContentPack] = {}  # previewed packs read from their folders, by id
        self.fbind("rev", self._rebuild)

    def changed(self) -> None:
        """Something it shows changed: rebuilt now when shown, else when it comes in (``on_pre_enter``)."""
        if self.manager is not None and self.manager.current_screen is self:
            self.rev += 1

    def on_pre_enter(self, *args) -> None:
        app = App.get_running_app()
        session = app.state.visit.session
        if session is not None:
            app.bridge.request("content-preview-packs", session.id)
        if self.preview.mode == "loop" and not self.preview.shown:
            self._ask()
        self.rev += 1

    def on_leave(self, *args) -> None:
        self.video_source = ""
        self.ids.player.state = "stop"

    # ------------------------------------------------------------------ the agent's answers

    def answered(self, command: str, ok: bool, data, error: str | None) -> None:
        app = App.get_running_app()
        preview = self.preview
        preview.busy = False
        if not ok:
            preview.message = app.tr("Niet gelukt: {reason}", app.lang).format(reason=error or "")
        elif command == "content-preview-packs" and isinstance(data, PreviewPacksResult):
            preview.packs = [{"pack": pack.pack, "version": pack.version, "state": pack.state, "folder": pack.folder}
                             for pack in data.packs]
        elif command == "content-preview" and isinstance(data, PreviewResult):
            preview.at = data.at.astimezone(app.tz)
            preview.shown = {"attract": list(data.attract), "inspire": list(data.inspire),
                             "instructions": list(data.instructions)}
            preview.index, preview.message = 0, ""
            preview.pack = data.pack
            preview.answers += 1
        preview.changed()
        self.changed()

    def _ask(self) -> None:
        app = App.get_running_app()
        session = app.state.visit.session
        if session is None:
            return
        at = self.preview.moment(datetime.now(app.tz), app.tz)
        self.preview.busy = True
        app.bridge.request("content-preview", session.id, at=at.isoformat(), pack=self.preview.pack)

    # ------------------------------------------------------------------ what to show

    def pack(self) -> ContentPack:
        """The pack previewed: the one in use (as the kiosk shows it), or a staged one read from its folder."""
        app = App.get_running_app()
        chosen = self.preview.pack
        if chosen is None or chosen == app.content.pack.name:
            return app.content.pack
        if chosen not in self._packs:
            entry = next((pack for pack in self.preview.packs if pack["pack"] == chosen), None)
            try:
                self._packs[chosen] = load_pack(Path(entry["folder"]), app.tz) if entry else ContentPack.empty()
            except ContentError as exc:
                logger.error("pack %s cannot be previewed:\n%s", chosen, exc)
                self._packs[chosen] = ContentPack.empty()
        return self._packs[chosen]

    def _medium(self, pack: ContentPack, section: str, item: str | None) -> None:
        self.image_source = self.video_source = self.caption = ""
        if not pack or item is None:
            return
        app = App.get_running_app()
        self.caption = item_title(pack, section, item, app.lang)  # type: ignore[arg-type]  # a Section
        if section == "attract":
            found = next((entry for entry in pack.attract_items if entry.id == item), None)
            if found is not None:
                if found.kind == "image":
                    self.image_source = str(found.path)
                else:
                    self.video_source = str(found.path)
        elif section == "inspire":
            carousel = next((entry for entry in pack.all_carousels if entry.id == item), None)
            image = next((entry.image for entry in carousel.items if entry.image), None) if carousel else None
            self.image_source = str(image) if image else ""
        else:
            instruction = next((entry for entry in pack.all_instructions if entry.id == item), None)
            if instruction is not None:
                self.video_source = str(instruction.video)

    def _rebuild(self, *_args) -> None:
        body = self.ids.get("controls")
        app = App.get_running_app()
        if body is None or app is None:
            return
        body.clear_widgets()
        preview = self.preview
        tr = lambda text: app.tr(text, app.lang)  # noqa: E731  (the screen's language, for every line below)
        pack = self.pack()
        if preview.mode == "item":
            self._medium(pack, preview.section, preview.item)
            body.add_widget(TextBlock(role="heading", text=tr("Voorbeeld: {item}").format(item=self.caption)))
            body.add_widget(button_row(
                button("preview-loop", tr("Lus op tijdstip"), self._loop, "secondary"),
                button("preview-back", tr("Terug"), lambda: app.open_screen(Screen.INHOUD.value), "secondary")))
            return
        current = preview.current
        self._medium(pack, "attract", current)
        items = preview.shown.get("attract", [])
        if preview.at is not None:
            heading = tr("{moment}: {count} items").format(moment=moment_text(preview.at, tr), count=len(items))
            if current is not None:
                heading += f" · {preview.index + 1}/{len(items)} · {current}"
        else:
            heading = tr("Kies dag en tijd")
        body.add_widget(TextBlock(role="heading", text=heading))
        if preview.message:
            body.add_widget(TextBlock(text=preview.message))
        if len(preview.packs) > 1:
            body.add_widget(button_row(*(
                button(f"preview-pack-{entry['pack']}",
                       f"{entry['pack']} {entry['version']} ({tr(PACK_STATES.get(entry['state'], ''))})",
                       lambda entry=entry: self._choose_pack(entry["pack"]),
                       "primary" if entry["pack"] == (preview.pack or app.content.pack.name) else "secondary")
                for entry in preview.packs)))
        body.add_widget(button_row(*(
            button(f"preview-day-{index}", tr(name), lambda index=index: self._day(index),
                   "primary" if index == preview.weekday else "secondary")
            for index, name in enumerate(DAY_SHORT))))
        body.add_widget(button_row(
            button("preview-hour-minus", tr("−1 uur"), lambda: self._time(-60), "bar"),
            button("preview-minute-minus", f"−{PREVIEW_STEP}", lambda: self._time(-PREVIEW_STEP), "bar"),
            TextBlock(text=clock(preview.minute), halign="center", role="heading"),
            button("preview-minute-plus", f"+{PREVIEW_STEP}", lambda: self._time(PREVIEW_STEP), "bar"),
            button("preview-hour-plus", tr("+1 uur"), lambda: self._time(60), "bar")))
        body.add_widget(button_row(
            button("preview-show", tr("Toon"), self._ask_now, disabled=preview.busy),
            button("preview-previous", tr("Vorige"), lambda: self._step(-1), "secondary", disabled=len(items) < 2),
            button("preview-next", tr("Volgende"), lambda: self._step(1), "secondary", disabled=len(items) < 2),
            button("preview-back", tr("Terug"), lambda: app.open_screen(Screen.INHOUD.value), "secondary")))
        if preview.at is not None:
            others = [f"{tr('Inspiratie')}: {', '.join(preview.shown.get('inspire', [])) or '-'}",
                      f"{tr('Instructies')}: {', '.join(preview.shown.get('instructions', [])) or '-'}"]
            for line in others:
                body.add_widget(TextBlock(role="small", text=line))
        app.request_status()

    def report(self) -> dict:
        """What the preview shows, for the status file."""
        preview = self.preview
        return {"mode": preview.mode, "item": preview.item if preview.mode == "item" else preview.current,
                "answers": preview.answers,
                "at": preview.at.isoformat() if preview.at else None, "shown": preview.shown,
                "image": Path(self.image_source).name if self.image_source else "",
                "video": Path(self.video_source).name if self.video_source else ""}

    # ------------------------------------------------------------------ touches

    def _loop(self) -> None:
        self.preview.show_loop()
        self._ask()
        self.changed()

    def _ask_now(self) -> None:
        self._ask()
        self.changed()

    def _choose_pack(self, pack: str) -> None:
        self.preview.pack = pack
        self._ask()
        self.changed()

    def _day(self, weekday: int) -> None:
        self.preview.choose_day(weekday)
        self.changed()

    def _time(self, minutes: int) -> None:
        self.preview.step_time(minutes)
        self.changed()

    def _step(self, by: int) -> None:
        self.preview.step(by)
        self.changed()
