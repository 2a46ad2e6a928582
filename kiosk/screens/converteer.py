"""Converteer: the customer's offers with their end, activating one, a promo code, and their deals.

The list of offers is built in code (one panel per offer, an "Activeren" button where the offer
needs it) and rebuilt from the app's properties whenever they change, so a wiped state leaves
no old offer behind.
"""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.textinput import TextInput

from ..widgets import KioskButton, Panel, RebuiltList, TextBlock
from . import KioskScreen


class PromoInput(TextInput):
    """The promo code field; a touch target like the buttons."""

    target = StringProperty("")


KEY_ROWS = ("1234567890", "QWERTYUIOP", "ASDFGHJKL-", "ZXCVBNM")
BACKSPACE = "back"


class CodeKeyboard(BoxLayout):
    """An on-screen keyboard for promo codes (a touchscreen has no other): the letters, digits and the
    dash a code may hold, and a backspace; every key a 9 mm touch target named ``key-<key>``."""

    field = ObjectProperty(None, allownone=True)  # the PromoInput it types into

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for keys in KEY_ROWS:
            row = BoxLayout(size_hint_y=None, spacing=self.spacing)
            row.bind(minimum_height=row.setter("height"))
            for key in keys:
                row.add_widget(self._key(key, key))
            if keys == KEY_ROWS[-1]:
                backspace = self._key(BACKSPACE, "\u2190")
                backspace.size_hint_x = 3
                row.add_widget(backspace)
            self.add_widget(row)

    def _key(self, key: str, text: str) -> KioskButton:
        button = KioskButton(target=f"key-{key}", text=text, kind="bar")
        button.bind(on_release=lambda _b: self.press(key))
        return button

    def press(self, key: str) -> None:
        app = App.get_running_app()
        if app is not None:
            app.state.touched()
        if self.field is None:
            return
        if key == BACKSPACE:
            self.field.text = self.field.text[:-1]
        elif len(self.field.text) < 32:
            self.field.text += key


class OfferList(RebuiltList):
    """One panel per offer of ``offers`` (an OffersResult), rebuilt whenever it, ``activations`` or the
    language changes."""

    offers = ObjectProperty(None, allownone=True)
    activations = ObjectProperty({})
    watched = ("offers", "activations")

    def refresh(self) -> None:
        offers, activations, language = self.offers, self.activations, self.language
        self.clear_widgets()
        app = App.get_running_app()
        if app is None or offers is None:
            return
        # What the shopper can still do (activate, enter a code) first, what already applies last.
        order = sorted(offers.offers, key=lambda view: (view.applies, not view.needs_activation))
        for view in order:
            panel = Panel()
            panel.add_widget(TextBlock(role="heading", text=view.title))
            if view.description:
                panel.add_widget(TextBlock(text=view.description))
            panel.add_widget(TextBlock(role="small", text=app.words.offer_until(view, language, app.tz)))
            step = activations.get(view.offer)
            if view.applies:
                panel.add_widget(TextBlock(text=app.tr("Actief: u krijgt dit voordeel bij de kassa.", language)))
            elif view.needs_activation:
                if step == "failed":
                    panel.add_widget(TextBlock(text=app.tr("Activeren lukt nu niet. Probeer het zo nog eens.",
                                                           language)))
                button = KioskButton(target=f"activate-{view.offer}", text=app.tr("Activeren", language),
                                     disabled=step == "sending")
                button.bind(on_release=lambda _b, offer=view.offer: app.activate_offer(offer))
                panel.add_widget(button)
            elif view.needs_code:
                panel.add_widget(TextBlock(text=app.tr("Met een kortingscode.", language)))
            self.add_widget(panel)


class ConverteerScreen(KioskScreen):
    """Converteer."""

    keyboard = BooleanProperty(False)  # the on-screen keyboard shows once the code field is touched

    def on_leave(self, *args) -> None:
        self.ids.code.text = ""  # a code typed by one shopper is not left for the next
        self.keyboard = False
