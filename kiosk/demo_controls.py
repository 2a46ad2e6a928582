"""The demo's buttons and keys (``kiosk --demo``, opened by ``edge-agent demo``).

A compact row under the screens: one button per demo card (gold customer,
expired consent, unknown card, staff badge) and one that holds up the demo
product; the keys 1-5 do the same. Each publishes a ``demo-control`` message
through the kiosk's bridge; ``edge-agent demo`` taps its emulated card or
plays its product clip, and the kiosk shows what the agent then publishes,
as with a real card or camera. The kiosk itself stays a view: it never
touches the emulator. Without ``--demo`` none of this is loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout

logger = logging.getLogger(__name__)

KV_FILE = Path(__file__).resolve().parent / "demo_controls.kv"
# key -> (action, card); the same numbers as `edge-agent demo` prints.
KEYS: dict[str, tuple[str, str | None]] = {
    "1": ("tap", "gold"), "2": ("tap", "expired"), "3": ("tap", "unknown"), "4": ("tap", "staff"),
    "5": ("product", None),
}
KEYPAD = {257: "1", 258: "2", 259: "3", 260: "4", 261: "5"}  # SDL key codes of keypad 1-5


class DemoControls(BoxLayout):
    """The row of demo buttons (``demo_controls.kv``); targets ``demo-gold`` … ``demo-product``."""

    def send(self, action: str, card: str | None = None) -> None:
        app = App.get_running_app()
        app.state.touched()  # a demo button is a touch like any other
        if not app.bridge.publish_demo(action, card):
            logger.warning("demo %s not sent (not connected to the broker)", action)

    def on_key(self, _window, key: int, _scancode: int, codepoint: str | None, modifiers: list) -> bool:
        pressed = codepoint if codepoint in KEYS else KEYPAD.get(key)
        if pressed is None or (modifiers and set(modifiers) - {"numlock", "capslock"}) or self._typing():
            return False
        self.send(*KEYS[pressed])
        return True

    @staticmethod
    def _typing() -> bool:
        """Whether a text field has the keyboard (a promo code has digits: they are not demo keys then)."""
        from kivy.uix.textinput import TextInput

        root = App.get_running_app().root
        return root is not None and any(isinstance(widget, TextInput) and widget.focus for widget in root.walk())


def add_demo_controls(app: App) -> DemoControls:
    """Put the demo row at the bottom of ``app``'s shell and bind the keys."""
    from kivy.core.window import Window

    if str(KV_FILE) not in Builder.files:
        Builder.load_file(str(KV_FILE))
    row = DemoControls()
    app.shell.ids.column.add_widget(row, index=0)  # below the bottom bar
    Window.bind(on_key_down=row.on_key)
    return row
