"""The store-staff screens: the PIN pad, the open calls of this device and the audit (``staff_*.kv``); the
staff home is ``staff.kv`` (:class:`kiosk.screens.StaffScreen`).

The PIN pad shows one dot per digit typed, never a digit: the digits live only in the visit
(:class:`kiosk.visit.Visit`) until they are sent. Its keys are touch targets of at least ``app.target``
(9 mm from Kivy's metrics of the screen, :mod:`kiosk.app`) each way, larger where the screen allows it.
"""

from __future__ import annotations

from kivy.app import App
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.gridlayout import GridLayout

from ..phase_names import phase_name
from ..widgets import KioskButton, Panel, RebuiltList, TextBlock
from . import KioskScreen

KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "back", "0", "ok")


class StaffPinScreen(KioskScreen):
    """The PIN pad of a staff badge."""


class StaffCallsScreen(KioskScreen):
    """This device's open staff-assist calls, with how long they have waited; "Afgehandeld" on each."""


class StaffAuditScreen(KioskScreen):
    """Managers: the last 50 staff actions at this device."""


class PinPad(GridLayout):
    """Twelve keys: the digits, back and OK. ``key_size`` is the side of a key in pixels (the kv sets it from
    ``app.target`` and the room there is)."""

    key_size = NumericProperty(48.0)
    language = StringProperty("nl")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cols = 3
        app = App.get_running_app()
        for key in KEYS:
            button = KioskButton(target=f"pin-{key}", kind="primary" if key == "ok" else "secondary")
            button.size_hint = (None, None)
            self.fbind("key_size", lambda _pad, size, b=button: setattr(b, "size", (size, size)))
            if key == "back":
                button.bind(on_release=lambda _b: app.pin_back())
            elif key == "ok":
                button.bind(on_release=lambda _b: app.pin_submit())
            else:
                button.bind(on_release=lambda _b, d=key: app.pin_digit(d))
            self.add_widget(button)
        self.fbind("key_size", self._sized)
        self.fbind("language", lambda *_args: self.label(self.language))
        self.label(self.language)

    def _sized(self, *_args) -> None:
        for child in self.children:
            child.size = (self.key_size, self.key_size)
            child.height = self.key_size

    def label(self, language: str) -> None:
        """The keys' texts in ``language`` (back and OK are words)."""
        app = App.get_running_app()
        for child in self.children:
            key = child.target.removeprefix("pin-")
            child.text = {"back": app.tr("Wis", language), "ok": app.tr("OK", language)}.get(key, key)


class CallList(RebuiltList):
    """A panel per open call: what and at which phase (its name, translated), how long it has waited, and
    "Afgehandeld"."""

    calls = ObjectProperty(None, allownone=True)
    watched = ("calls",)

    def refresh(self) -> None:
        self.clear_widgets()
        app = App.get_running_app()
        if app is None or self.calls is None:
            return
        waited_since = app.staff_calls_waited()
        for call in self.calls.calls:
            panel = Panel()
            what = call.topic or app.tr("Hulp gevraagd", self.language)
            where = phase_name(app.words, call.phase, self.language) if call.phase else ""
            minutes = int((call.waited_s + waited_since) // 60)
            panel.add_widget(TextBlock(role="heading", text=f"{what} ({where})" if where else what))
            panel.add_widget(TextBlock(text=app.words.trn("Wacht {n} minuut", "Wacht {n} minuten", minutes,
                                                          self.language).format(n=minutes)))
            button = KioskButton(target=f"call-handled-{call.call[-12:]}", kind="primary",
                                 text=app.tr("Afgehandeld", self.language))
            button.bind(on_release=lambda _b, c=call.call: app.handle_call(c))
            panel.add_widget(button)
            self.add_widget(panel)


class AuditList(RebuiltList):
    """The audited actions, newest first: when, who, what, on what, the result."""

    audit = ObjectProperty(None, allownone=True)
    watched = ("audit",)

    def refresh(self) -> None:
        self.clear_widgets()
        app = App.get_running_app()
        if app is None or self.audit is None:
            return
        for entry in self.audit.entries:
            when = entry.at.astimezone(app.tz).strftime("%d-%m %H:%M:%S")
            target = f" · {entry.target}" if entry.target else ""
            self.add_widget(TextBlock(role="small", text=f"{when}  {entry.staff or '-'}  {entry.action}{target}"
                                                         f"  ({entry.result.value})"))


def staff_screens() -> dict[str, type[KioskScreen]]:
    """The staff screens of this module by their :class:`kiosk.state.Screen` value."""
    return {"staff-pin": StaffPinScreen, "staff-calls": StaffCallsScreen, "staff-audit": StaffAuditScreen}
