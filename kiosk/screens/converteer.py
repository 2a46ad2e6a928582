"""Converteer: the customer's offers with their end, activating one, a promo code, and their deals.

The list of offers is built in code (one panel per offer, an "Activeren" button where the offer
needs it) and rebuilt from the app's properties whenever they change, so a wiped state leaves
no old offer behind.
"""

from __future__ import annotations

from kivy.app import App
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.textinput import TextInput

from ..widgets import KioskButton, Panel, TextBlock
from . import KioskScreen


class PromoInput(TextInput):
    """The promo code field; a touch target like the buttons."""

    target = StringProperty("")


class OfferList(BoxLayout):
    """One panel per offer of ``offers`` (an OffersResult), rebuilt whenever it, ``activations`` or the
    language changes."""

    offers = ObjectProperty(None, allownone=True)
    activations = ObjectProperty({})
    language = StringProperty("nl")

    def on_offers(self, *_args) -> None:
        self.refresh()

    def on_activations(self, *_args) -> None:
        self.refresh()

    def on_language(self, *_args) -> None:
        self.refresh()

    def refresh(self) -> None:
        offers, activations, language = self.offers, self.activations, self.language
        self.clear_widgets()
        app = App.get_running_app()
        if app is None or offers is None:
            return
        for view in offers.offers:
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

    def on_leave(self, *args) -> None:
        self.ids.code.text = ""  # a code typed by one shopper is not left for the next
