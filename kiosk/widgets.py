"""Widgets shared by the screens, and the two themes.

Sizes follow the app's ``unit`` (the base text size in pixels, from the
window size and the shopper's text scale) and ``target`` (the smallest touch
target: at least 9 mm, from :func:`kivy.metrics.mm`). Their look is in
``widgets.kv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kivy.graphics import Color as ColorInstruction
from kivy.graphics import InstructionGroup, Line
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen, ScreenManager
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

Color = tuple[float, float, float, float]


@dataclass(frozen=True)
class Theme:
    """Colours of the screen; :data:`HIGH_CONTRAST` is for shoppers who need it."""

    name: str
    background: Color
    surface: Color
    text: Color
    muted: Color
    primary: Color
    on_primary: Color
    secondary: Color
    on_secondary: Color
    danger: Color
    on_danger: Color
    bar: Color
    on_bar: Color
    track: Color
    caption: Color  # the attract captions' band
    on_caption: Color


def _rgb(hex_colour: str) -> Color:
    value = hex_colour.lstrip("#")
    return (int(value[0:2], 16) / 255, int(value[2:4], 16) / 255, int(value[4:6], 16) / 255, 1.0)


STANDARD = Theme(
    name="standard",
    background=_rgb("#F4F1EA"), surface=_rgb("#FFFFFF"), text=_rgb("#1D1D1B"), muted=_rgb("#4A4A45"),
    primary=_rgb("#2E6B3A"), on_primary=_rgb("#FFFFFF"), secondary=_rgb("#E3DED2"), on_secondary=_rgb("#1D1D1B"),
    danger=_rgb("#A8241C"), on_danger=_rgb("#FFFFFF"), bar=_rgb("#24552E"), on_bar=_rgb("#FFFFFF"),
    track=_rgb("#D6D1C4"), caption=_rgb("#FFFFFF"), on_caption=_rgb("#1D1D1B"),
)

# White and yellow on black: contrast ratios of 21:1 and 19:1 (WCAG AAA).
HIGH_CONTRAST = Theme(
    name="high-contrast",
    background=_rgb("#000000"), surface=_rgb("#000000"), text=_rgb("#FFFFFF"), muted=_rgb("#FFFFFF"),
    primary=_rgb("#FFD500"), on_primary=_rgb("#000000"), secondary=_rgb("#FFFFFF"), on_secondary=_rgb("#000000"),
    danger=_rgb("#FF9E9E"), on_danger=_rgb("#000000"), bar=_rgb("#000000"), on_bar=_rgb("#FFFFFF"),
    track=_rgb("#5A5A5A"), caption=_rgb("#000000"), on_caption=_rgb("#FFFFFF"),
)


def brand_theme(colours: dict[str, str]) -> Theme:
    """The standard theme in a pack's brand colours (:class:`kiosk.brand.Brand`'s ``colours``, each text colour
    checked against what it is drawn on): buttons in ``primary``, the other buttons and the current screen's in
    ``accent``, the bars and the attract captions' band in ``bar``. Small text is in ``text`` too (the brand
    gives no muted colour, and ``text`` is the one checked); warnings keep the kiosk's own red."""
    return Theme(
        name="brand",
        background=_rgb(colours["background"]), surface=_rgb(colours["surface"]), text=_rgb(colours["text"]),
        muted=_rgb(colours["text"]), primary=_rgb(colours["primary"]), on_primary=_rgb(colours["on_primary"]),
        secondary=_rgb(colours["accent"]), on_secondary=_rgb(colours["on_accent"]), danger=STANDARD.danger,
        on_danger=STANDARD.on_danger, bar=_rgb(colours["bar"]), on_bar=_rgb(colours["on_bar"]),
        track=_rgb(colours["accent"]), caption=_rgb(colours["bar"]), on_caption=_rgb(colours["on_bar"]),
    )


if TYPE_CHECKING:  # to a type checker the mixin has a widget's canvas, geometry and bindings
    from kivy.uix.widget import Widget as _MixedIntoWidget
else:
    _MixedIntoWidget = object  # at run time the widget class it is mixed with supplies them


class ContrastEdge(_MixedIntoWidget):
    """A frame line around the widget that exists only while ``edge_shown`` (the high-contrast theme).

    Not a kv ``Line`` made transparent in the standard theme: Kivy draws a line wider than 1 px in a colour
    with alpha below 1 through the stencil buffer, and under software GL each one cost ~0.15 ms of every
    frame although invisible (21 on Begrijp: half of its frame).
    """

    edge_shown = BooleanProperty(False)
    edge_color = ColorProperty((1, 1, 1, 1))
    edge_width = NumericProperty(1.2)
    edge_inset = NumericProperty(0)
    _EDGE_INPUTS = ("pos", "size", "edge_color", "edge_width", "edge_inset")

    def on_edge_shown(self, _widget, shown: bool) -> None:
        group = getattr(self, "_edge", None)
        if shown and group is None:
            self._edge_color = ColorInstruction(rgba=self.edge_color)
            self._edge_line = Line(width=self.edge_width)
            self._edge = InstructionGroup()
            self._edge.add(self._edge_color)
            self._edge.add(self._edge_line)
            self.canvas.after.add(self._edge)
            for name in self._EDGE_INPUTS:
                self.fbind(name, self._place_edge)
            self._place_edge()
        elif not shown and group is not None:
            for name in self._EDGE_INPUTS:
                self.funbind(name, self._place_edge)
            self.canvas.after.remove(group)
            self._edge = None

    def _place_edge(self, *_args) -> None:
        inset = self.edge_inset
        self._edge_color.rgba = self.edge_color
        self._edge_line.width = self.edge_width
        self._edge_line.rectangle = (self.x + inset, self.y + inset, self.width - 2 * inset, self.height - 2 * inset)


class KioskButton(ContrastEdge, Button):
    """A flat button at least one touch target high; ``target`` names it for diagnostics and tests.

    ``shown`` False hides it and takes it out of the layout. Its background is one rectangle (not Kivy's
    nine-slice ``BorderImage``); a ``bar`` button ``over_bar`` (in the top or bottom bar, which has its
    colour) draws none: under software GL every pixel drawn costs, also one drawn in the colour it covers.
    """

    target = StringProperty("")
    kind = StringProperty("primary")  # primary | secondary | danger | bar
    shown = BooleanProperty(True)
    over_bar = BooleanProperty(False)

    def on_touch_down(self, touch) -> bool:
        return super().on_touch_down(touch) if self.shown else False


class TextBlock(Label):
    """A label that wraps to its width and is as high as its text.

    On a screen that is not shown, a changed text is rendered when that screen is next shown
    (:class:`kiosk.screens.KioskScreen` calls :meth:`render_pending`): when a session starts, the hidden
    screens' texts (points, tier, "Even geduld…") then cost nothing in the frame that greets the customer.
    An emptied text is rendered at once, so no texture keeps an old personal text.
    """

    role = StringProperty("body")  # title | heading | body | small
    texture_pending = False

    def texture_update(self, *largs) -> None:
        if self.text and _on_hidden_screen(self):
            self.texture_pending = True
            return
        self.texture_pending = False
        super().texture_update(*largs)

    def render_pending(self) -> None:
        """Render before the next frame if a change waited (the screen has just come in)."""
        if self.texture_pending:
            self._trigger_texture()


def _on_hidden_screen(widget: Widget) -> bool:
    """Whether ``widget`` is on a screen its screen manager does not hold: neither shown nor in a transition
    (during a fade the screen coming in is drawn into an Fbo and has no parent, but has its manager)."""
    parent = widget.parent
    while parent is not None:
        if isinstance(parent, Screen):
            return parent.manager is None
        parent = getattr(parent, "parent", None)
    return False


class Panel(ContrastEdge, BoxLayout):
    """A vertical group, framed on the surface colour or not; ``shown`` False hides it and its space."""

    framed = BooleanProperty(True)
    shown = BooleanProperty(True)

    # A hidden panel keeps its children (laid out over its neighbours, as it
    # has no height) and Kivy lets disabled widgets swallow touches: so a
    # hidden panel passes no touch to them at all.
    def on_touch_down(self, touch) -> bool:
        return super().on_touch_down(touch) if self.shown else False

    def on_touch_move(self, touch) -> bool:
        return super().on_touch_move(touch) if self.shown else False

    def on_touch_up(self, touch) -> bool:
        return super().on_touch_up(touch) if self.shown else False


class Scroller(ScrollView):
    """A vertical scroll view that does not clip with the stencil buffer (Kivy's ``ScrollView`` does).

    Kivy's clip draws the view's rectangle into the stencil buffer twice a frame, and the screen manager
    around it does the same: under software GL the two cost ~0.8 ms of every 5 ms frame. Nothing needs them:
    content scrolled past the top or the bottom of the view lies under the shell's bars, which are drawn
    after the screens (``shell.kv``), or outside the window. A touch outside the view never reaches its
    content (``ScrollView.on_touch_down`` checks first). The scroll bar is Kivy's (``widgets.kv``).
    """


class Screens(ScreenManager):
    """Kivy's ``ScreenManager`` without its stencil clip: its screens are as wide as the window and slide
    sideways only, so nothing it draws needs clipping (see :class:`Scroller`)."""


class Columns(BoxLayout):
    """The content of a screen: side by side on a wide window, one under the other otherwise."""


class Column(BoxLayout):
    """One column of :class:`Columns`, aligned to the top."""


class Meter(ContrastEdge, Widget):
    """A horizontal progress bar; ``value`` from 0 to 1."""

    value = NumericProperty(0.0)


class Rows(BoxLayout):
    """(what, value) pairs, one :class:`Row` each, following ``rows_data``.

    The rows are kept and their texts set: building a row (two labels, their kv rules) and dropping it made
    ~1000 objects of garbage in reference cycles, and the staff screen's rows changed with every state
    change, so Python's full collections (30-70 ms) stalled taps. A row no longer needed has its texts
    emptied and is kept aside for a longer list, so no old text stays behind.
    """

    rows_data = ListProperty([])

    def __init__(self, **kwargs) -> None:
        self._spare: list[Row] = []  # rows taken out, emptied, for the next longer list
        super().__init__(**kwargs)

    def on_rows_data(self, _instance, rows) -> None:
        shown = self.children[::-1]  # top to bottom
        for row, (what, value) in zip(shown, rows, strict=False):
            row.what, row.value = what, value
        for row in shown[len(rows):]:
            row.what = row.value = ""
            self.remove_widget(row)
            self._spare.append(row)
        for what, value in rows[len(shown):]:
            row = self._spare.pop() if self._spare else Row()
            row.what, row.value = what, value
            self.add_widget(row)


class RebuiltList(BoxLayout):
    """A list rebuilt in code by :meth:`refresh` whenever ``language`` or one of the properties named in
    ``watched`` changes (the app's answers, wiped to None with the session), so nothing old stays behind."""

    language = StringProperty("nl")
    watched: tuple[str, ...] = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for name in ("language", *self.watched):
            self.fbind(name, self._changed)
        self.refresh()  # the values the kv rule gave during __init__

    def _changed(self, *_args) -> None:
        self.refresh()

    def refresh(self) -> None:
        raise NotImplementedError


class Row(BoxLayout):
    """One (what, value) pair, top-aligned, as high as the higher of the two."""

    what = StringProperty("")
    value = StringProperty("")
