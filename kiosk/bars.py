"""The top and the bottom bar: how many rows they take, and what goes under "Meer", so content keeps its room.

The rule (issue 15): the bars together leave at least 65 % of the window's height to the screens, at every
window size and text size, with every button a full touch target (:attr:`kiosk.app.KioskApp.target`, at
least 9 mm). The bars plan for :data:`BARS_SHARE` of the height, a margin below the rule's 35 %:

- The **top bar** is one row (logo, store name, then NL EN FR, A+, Contrast). On a portrait window whose
  row cannot hold the store's whole name beside the controls, the name goes on a row of its own above them;
  on a landscape one the name is shortened (:func:`top_rows`). Its buttons are as wide as their label needs
  (:func:`control_width`): on a narrow window with enlarged text the five still fit one row.
- The **bottom bar** takes as many rows as the share leaves after the top bar (one on a landscape screen, up
  to two on a portrait one). When the session's buttons do not fit them, the last row ends with **Meer**
  and **Klaar**, and the buttons that did not fit open from Meer in a panel above the bar, in their order
  (:func:`plan`). A button keeps its place in the order: the bar does not reshuffle when the shopper moves
  on; Meer is highlighted while the current screen's button is inside it. A tap outside the open panel
  closes it (and does nothing else); so does any change of screen.

Labels are measured with Kivy's text provider in the bold face the buttons use (:func:`label_width`), so no
label breaks inside a word nor is cut.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from kivy.app import App
from kivy.core.text import Label as CoreLabel
from kivy.properties import BooleanProperty, ListProperty
from kivy.uix.boxlayout import BoxLayout

from .bar_plan import BAR_PAD, BAR_SPACING, MORE, bar_height, bottom_rows, plan, top_rows
from .widgets import KioskButton

#: Space either side of a bar button's label, in units (the label is ``width - unit`` wide: half a unit each
#: side, and a little more so a label measured at its exact width does not wrap).
LABEL_PAD = 1.15
NavItem = tuple[str, str, str, Callable[[], None]]  # (target, text, kind, what a tap does)


@functools.lru_cache(maxsize=512)
def label_width(text: str, font_size: float, bold: bool = True) -> float:
    """The width in pixels of ``text`` on one line in the kiosk's font at ``font_size``."""
    if not text:
        return 0.0
    return float(CoreLabel(font_size=font_size, bold=bold).get_extents(text)[0])


class MorePanel(BoxLayout):
    """The buttons that did not fit the bottom bar, above it while open (``shell.kv``). A touch outside it
    while open closes it and goes no further."""

    is_open = BooleanProperty(False)
    buttons = ListProperty([])

    def open(self, buttons: list[KioskButton]) -> None:
        self.buttons = buttons
        self.clear_widgets()
        for button in buttons:
            if button.parent is not None:
                button.parent.remove_widget(button)
            button.size_hint_x = 1  # the panel's width (in the bar it was a share of the row)
            self.add_widget(button)
        self.is_open = bool(buttons)

    def close(self) -> None:
        self.is_open = False
        self.clear_widgets()  # a closed panel holds no targets

    def on_touch_down(self, touch) -> bool:
        if not self.is_open:
            return False
        if not self.collide_point(*touch.pos):
            self.close()
            app = App.get_running_app()
            if app is not None:
                app.shell.ids.bottom_bar.refresh_more()
                app.request_status()
            return True
        return super().on_touch_down(touch)


class BottomBar(BoxLayout):
    """Navigation of the current session in rows planned by :func:`plan`; empty (and hidden) without one."""

    overflow = ListProperty([])  # targets of the buttons that open from Meer

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._buttons: dict[str, KioskButton] = {}
        self._callbacks: dict[str, Callable[[], None]] = {}
        self._shown: list[KioskButton] = []
        self._rows: list[BoxLayout] = []
        self._more = KioskButton(target="nav-more", over_bar=True, kind="bar")
        self._more.bind(on_release=self._toggle_more)

    @property
    def panel(self) -> MorePanel:
        return App.get_running_app().shell.ids.more_panel

    def prepare(self, items: list[NavItem]) -> None:
        """Build these buttons now without showing them, so a session's first frame only has to place them."""
        for target, text, kind, _callback in items:
            self._button(target, text, kind)

    def show(self, items: list[NavItem]) -> None:
        """Show these buttons: (target, text, kind, on_release callback); the Meer panel closes.

        A button is built once per target and kept: building one (kv rules, its label) takes about 1 ms,
        and a session's first frame would otherwise build seven before the customer's name shows.
        """
        wanted = []
        for target, text, kind, callback in items:
            self._callbacks[target] = callback
            wanted.append(self._button(target, text, kind))
        self._shown = wanted
        app = App.get_running_app()
        self._more.text = app.tr("Meer", app.lang) if app is not None else "Meer"
        if app is not None and app.shell is not None:
            self.panel.close()
        self.arrange()

    def _button(self, target: str, text: str, kind: str) -> KioskButton:
        button = self._buttons.get(target)
        if button is None:
            button = self._buttons[target] = KioskButton(target=target, over_bar=True)
            button.bind(on_release=self._release)
        button.text = text
        button.kind = kind
        return button

    def _release(self, button: KioskButton) -> None:
        self.panel.close()
        self._callbacks[button.target]()

    def _toggle_more(self, _button: KioskButton) -> None:
        panel = self.panel
        if panel.is_open:
            panel.close()
        else:
            panel.open([self._buttons[target] for target in self.overflow])
            self._place_panel()
        self.refresh_more()
        App.get_running_app().request_status()

    def refresh_more(self) -> None:
        """Meer is highlighted while its panel is open or holds the current screen's button."""
        inside = any(self._buttons[target].kind == "secondary" for target in self.overflow)
        self._more.kind = "secondary" if inside or self.panel.is_open else "bar"

    def arrange(self, *_args) -> None:
        """Plan the rows for the window, the text size and the top bar (:func:`plan`) and place the buttons."""
        app = App.get_running_app()
        buttons = self._shown
        if app is None or app.window is None or not buttons:
            self._place([[(button, 1.0) for button in buttons]] if buttons else [], [])
            return
        unit, target = app.unit, app.target
        width, height = app.window.size
        widths = [max(target, label_width(button.text, unit) + LABEL_PAD * unit) for button in buttons]
        more = max(target, label_width(self._more.text, unit) + LABEL_PAD * unit)
        top = bar_height(app.top_rows, target, unit)
        ids = app.shell.ids
        other = sum(child.height for child in ids.column.children  # the demo's row (demo_controls.py)
                    if child not in (self, app.manager, ids.top_space))
        rows = bottom_rows(height, top, other, target, unit)
        planned, hidden = plan(widths, width - 2 * BAR_PAD * unit, rows, BAR_SPACING * unit, more,
                               keep_last=buttons[-1].target == "klaar")
        by_index = {index: (buttons[index], widths[index]) for index in range(len(buttons))}
        by_index[MORE] = (self._more, more)
        self._place([[by_index[index] for index in line] for line in planned], [buttons[i] for i in hidden])

    def _place(self, lines: list, hidden: list[KioskButton]) -> None:
        app = App.get_running_app()
        spacing = app.unit * BAR_SPACING if app is not None else 0
        while len(self._rows) < len(lines):
            row = BoxLayout(size_hint_y=None)
            row.bind(minimum_height=row.setter("height"))
            self._rows.append(row)
        wanted_rows = self._rows[:len(lines)]
        if self.children[::-1] != wanted_rows:
            self.clear_widgets()
            for row in wanted_rows:
                self.add_widget(row)
        for row, line in zip(wanted_rows, lines, strict=True):
            row.spacing = spacing
            entries = line
            wanted = [button for button, _width in entries]
            if row.children[::-1] != wanted:
                row.clear_widgets()
                for button in wanted:
                    if button.parent is not None:
                        button.parent.remove_widget(button)
                    row.add_widget(button)
            for button, natural in entries:
                button.size_hint_x = natural  # wider in proportion to what each label needs
        self.overflow = [button.target for button in hidden]
        if app is not None and app.shell is not None:
            panel = self.panel
            if panel.is_open:
                panel.open(hidden)
                self._place_panel()
            self.refresh_more()

    def _place_panel(self) -> None:
        app = App.get_running_app()
        panel = self.panel
        unit = app.unit
        widest = max((label_width(button.text, unit) + LABEL_PAD * unit for button in panel.buttons), default=0)
        panel.width = min(app.window.width, max(widest, app.target) + 2 * BAR_PAD * unit)
        panel.x = max(0.0, min(app.window.width - panel.width, self._more.right - panel.width + BAR_PAD * unit))
        panel.y = self.top


def control_width(text: str, unit: float, target: float, pad: float) -> float:
    """A top-bar button's width: its label and ``pad`` units, at least a touch target."""
    return max(target, label_width(text, unit) + pad * unit)


#: Padding of the top bar's buttons in units: roomy where they fit, else as tight as the bottom bar's.
CONTROL_PADS = (1.6, LABEL_PAD)


def arrange_top(app: Any, texts: Sequence[str], name: str, logo_ratio: float) -> tuple[int, float]:
    """(rows, button padding in units) for the top bar: ``texts`` are its buttons' labels, ``name`` the store's
    name (drawn at 1.1 units) and ``logo_ratio`` the logo's width / height (0 without one)."""
    unit, target = app.unit, app.target
    width, height = app.window.size
    spacing = BAR_SPACING * unit
    for pad in CONTROL_PADS:
        controls = sum(control_width(text, unit, target, pad) for text in texts) + spacing * len(texts)
        if controls + 2 * BAR_PAD * unit <= width:
            break
    logo = min(3.0, logo_ratio) * target + spacing if logo_ratio else 0.0
    needed = 2 * BAR_PAD * unit + logo + label_width(name, unit * 1.1) + 0.8 * unit + controls
    return top_rows(width, height, needed), pad
