"""Inspireer: the content pack's carousels (per category or season), a page of products at a time.

Each carousel shows as many products as fit (three on a wide screen, two on a
narrow one) with "◀" and "▶" to page through them; a product tapped opens
Informeer, where the agent says its price (browsing, like a scan). The
carousels are rebuilt whenever the pack, the language or the width changes,
and when the screen is entered (a season may have begun since).
"""

from __future__ import annotations

from datetime import datetime

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from . import KioskScreen


class ProductCard(BoxLayout):
    """One product of a carousel: its picture, caption and a button opening Informeer (``inspireer.kv``)."""

    source = StringProperty("")
    caption = StringProperty("")
    gtin = StringProperty("")
    target = StringProperty("")


class CarouselRow(BoxLayout):
    """One carousel: title, a page of :class:`ProductCard` and the paging buttons."""

    carousel = ObjectProperty(None, allownone=True)
    page = NumericProperty(0)
    per_page = NumericProperty(3)
    language = StringProperty("nl")

    def on_carousel(self, *_args) -> None:
        self.page = 0
        self.refresh()

    def on_per_page(self, *_args) -> None:
        self.page = 0
        self.refresh()

    def on_language(self, *_args) -> None:
        self.refresh()

    @property
    def pages(self) -> int:
        items = len(self.carousel.items) if self.carousel else 0
        return max(1, -(-items // max(1, int(self.per_page))))

    def turn(self, step: int) -> None:
        app = App.get_running_app()
        if app is not None:
            app.state.touched()
        self.page = (self.page + step) % self.pages
        self.refresh()

    def refresh(self) -> None:
        if "cards" not in self.ids:
            return  # properties given to the constructor: the kv rule has not built the row yet
        cards = self.ids.cards
        cards.clear_widgets()
        app = App.get_running_app()
        carousel = self.carousel
        if app is None or carousel is None:
            return
        per_page = max(1, int(self.per_page))
        start = int(self.page) * per_page
        for item in carousel.items[start:start + per_page]:
            caption = item.caption.text(self.language) if item.caption else ""
            cards.add_widget(ProductCard(source=str(item.image) if item.image else "", caption=caption,
                                         gtin=item.gtin, target=f"inspire-{item.gtin}"))
        for _ in range(per_page - len(cards.children)):
            cards.add_widget(BoxLayout())  # keep the cards the same width on the last page
        self.ids.page_label.text = f"{int(self.page) + 1} / {self.pages}" if self.pages > 1 else ""
        for button in (self.ids.previous, self.ids.next):
            button.shown = self.pages > 1
        app.request_status()


class InspireerScreen(KioskScreen):
    """Inspireer."""

    revision = NumericProperty(0)  # bumped when the content pack changes
    lang = StringProperty("nl")
    wide = BooleanProperty(True)

    def on_lang(self, *_args) -> None:
        self.relayout()

    def on_wide(self, *_args) -> None:
        self.relayout()

    def on_pre_enter(self, *args) -> None:
        self.refresh()

    def on_revision(self, *_args) -> None:
        if self.manager is not None and self.manager.current_screen is self:
            self.refresh()

    def refresh(self) -> None:
        app = App.get_running_app()
        box = self.ids.carousels
        box.clear_widgets()
        if app is None:
            return
        carousels = app.content.current.carousels(datetime.now(app.tz))
        self.ids.empty.text = "" if carousels else app.tr("Hier ziet u binnenkort onze inspiratie.", app.lang)
        for carousel in carousels:
            row = CarouselRow(language=app.lang, per_page=3 if app.wide else 2)
            row.carousel = carousel
            box.add_widget(row)

    def relayout(self) -> None:
        """The language or width changed: the rows follow."""
        app = App.get_running_app()
        if app is None:
            return
        for row in self.ids.carousels.children:
            row.language = app.lang
            row.per_page = 3 if app.wide else 2

