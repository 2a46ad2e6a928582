"""The words on the screens: translated, with numbers, dates and names formatted per language.

Plain functions of the state and a :class:`kiosk.i18n.Translator` (no Kivy),
so what a screen says can be tested without a window. Message ids are the
Dutch texts; see :mod:`kiosk.i18n`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from edge_agent.contract import (
    SEEN_USE,
    SHARED_USE,
    AccountResult,
    MyDataResult,
    OffersResult,
    OfferView,
    ProductResult,
    PromoCodeResult,
)

from .i18n import Translator
from .state import DeviceInfo, Session

LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English", "fr": "Français"}  # each in its own language


@dataclass(frozen=True)
class Words:
    """Translation bound to one translator, with the formatting helpers the screens use."""

    translator: Translator

    def tr(self, message: str, language: str) -> str:
        return self.translator.gettext(language, message)

    def trn(self, singular: str, plural: str, count: int, language: str) -> str:
        return self.translator.ngettext(language, singular, plural, count)

    def trp(self, context: str, message: str, language: str) -> str:
        return self.translator.pgettext(language, context, message)

    # ------------------------------------------------------------------ numbers and dates

    @staticmethod
    def number(value: int, language: str) -> str:
        """``5120`` as ``5.120`` (nl), ``5,120`` (en) or ``5 120`` (fr, a no-break space)."""
        grouped = f"{value:,}"
        return grouped.replace(",", {"nl": ".", "en": ",", "fr": "\u00a0"}.get(language, "."))

    def money(self, euros: int, language: str) -> str:
        """Whole euros: ``€ 88`` (nl), ``€88`` (en), ``88 €`` (fr)."""
        amount = self.number(euros, language)
        return {"en": f"€{amount}", "fr": f"{amount}\u00a0€"}.get(language, f"€\u00a0{amount}")

    def price(self, cents: int, language: str) -> str:
        """Euro cents: ``€ 24,95`` (nl), ``€24.95`` (en), ``24,95 €`` (fr)."""
        euros, rest = divmod(cents, 100)
        amount = f"{self.number(euros, language)}{'.' if language == 'en' else ','}{rest:02d}"
        return {"en": f"€{amount}", "fr": f"{amount}\u00a0€"}.get(language, f"€\u00a0{amount}")

    def month(self, month: int, language: str) -> str:
        names = {1: self.trp("month", "januari", language), 2: self.trp("month", "februari", language),
                 3: self.trp("month", "maart", language), 4: self.trp("month", "april", language),
                 5: self.trp("month", "mei", language), 6: self.trp("month", "juni", language),
                 7: self.trp("month", "juli", language), 8: self.trp("month", "augustus", language),
                 9: self.trp("month", "september", language), 10: self.trp("month", "oktober", language),
                 11: self.trp("month", "november", language), 12: self.trp("month", "december", language)}
        return names[month]

    def date(self, value: datetime, language: str, tz: tzinfo) -> str:
        """``1 april 2027`` in the store's time zone."""
        local = value.astimezone(tz)
        return f"{local.day} {self.month(local.month, language)} {local.year}"

    def date_time(self, value: datetime, language: str, tz: tzinfo) -> str:
        """``1 april 2027, 14:05`` in the store's time zone."""
        local = value.astimezone(tz)
        return f"{self.date(local, language, tz)}, {local:%H:%M}"

    # ------------------------------------------------------------------ names

    def tier(self, tier_id: str | None, language: str) -> str:
        names = {"brons": self.trp("tier", "Brons", language), "zilver": self.trp("tier", "Zilver", language),
                 "goud": self.trp("tier", "Goud", language)}
        if tier_id is None:
            return ""
        return names.get(tier_id, tier_id.replace("-", " ").capitalize())

    def purpose(self, purpose: str, language: str) -> str:
        names = {"recognition": self.tr("Herkenning aan de kiosk", language),
                 "personal-offers": self.tr("Persoonlijke aanbiedingen", language),
                 "analytics": self.tr("Analyse van uw bezoeken", language)}
        return names.get(purpose, purpose)

    def category(self, category: str, language: str) -> str:
        names = {"first_name": self.tr("voornaam", language), "tier": self.tr("niveau", language),
                 "points": self.tr("punten", language), "offers": self.tr("aanbiedingen", language),
                 "personal_prices": self.tr("persoonlijke prijzen", language),
                 "orders": self.tr("bestellingen", language), "purchase_history": self.tr("aankopen", language)}
        return names.get(category, category)

    def use(self, use: str, language: str) -> str:
        names = {"recognised": self.tr("Herkend aan de kiosk", language),
                 "viewed own data": self.tr("Eigen gegevens bekeken", language),
                 # Clienteling (edge_agent.clienteling): shared for a call, and each view by a member of staff.
                 SHARED_USE: self.tr("Met uw toestemming gedeeld met een medewerker, voor uw vraag", language)}
        if use.startswith(SEEN_USE):
            return self.tr("Gezien door {name} (medewerker), voor uw vraag", language).format(
                name=use.removeprefix(SEEN_USE))
        return names.get(use, use)

    # ------------------------------------------------------------------ Begrijp

    def greeting(self, session: Session | None, language: str, hour: int) -> str:
        """``Goedemiddag Sanne``: by the time of day, with the first name when it may be shown."""
        name = session.first_name if session else None
        if hour < 12:
            text = self.tr("Goedemorgen {name}", language) if name else self.tr("Goedemorgen", language)
        elif hour < 18:
            text = self.tr("Goedemiddag {name}", language) if name else self.tr("Goedemiddag", language)
        else:
            text = self.tr("Goedenavond {name}", language) if name else self.tr("Goedenavond", language)
        return text.format(name=name) if name else text

    def tier_line(self, session: Session | None, language: str) -> str:
        if session is None or session.tier is None:
            return ""
        return self.tr("U bent {tier}-lid van onze klantenclub.", language).format(tier=self.tier(session.tier,
                                                                                                   language))

    def last_purchase(self, account: AccountResult | None, language: str) -> str:
        """``Vorige keer: Gazonmest 10 kg``: the newest purchase line (shop or webshop), or "" without one."""
        purchases = account.purchases if account else None
        if not purchases:
            return ""
        newest = purchases[0]
        return self.tr("Vorige keer: {product}", language).format(product=self._purchase_name(newest, language))

    def purchases(self, account: AccountResult | None, language: str, tz: tzinfo,
                  limit: int = 4) -> list[tuple[str, str]]:
        """(date and channel, "2 × Maaierolie") rows of the recent purchases, newest first."""
        purchases = account.purchases if account else None
        if not purchases:
            return []
        channel = {"shop": self.tr("in de winkel", language), "webshop": self.tr("in de webshop", language)}
        return [(f"{self.date(line.at, language, tz)}, {channel[line.channel]}",
                 f"{line.quantity} × {self._purchase_name(line, language)}") for line in purchases[:limit]]

    def _purchase_name(self, line, language: str) -> str:
        return line.name or self.tr("artikel {gtin}", language).format(gtin=line.gtin)

    def ready_order(self, account: AccountResult | None, language: str, tz: tzinfo) -> str:
        """``Uw bestelling WEB-100234 ligt klaar in kluis 4 (ophalen tot en met 4 december 2026).`` for the
        first order ready for pick-up, or ""."""
        orders = account.orders if account else None
        ready = next((order for order in orders or () if order.status == "ready"), None)
        if ready is None:
            return ""
        text = self.tr("Uw bestelling {order} ligt klaar: {place}.", language).format(
            order=ready.order_id, place=self.pickup_place(ready.pickup, language))
        if ready.deadline is not None:
            text += " " + self.tr("Ophalen kan tot {date}.", language).format(
                date=self.date_time(ready.deadline, language, tz))
        return text

    # ------------------------------------------------------------------ Ontzorg

    def pickup_place(self, pickup, language: str) -> str:
        """``kluis 4`` or ``de servicebalie``."""
        if pickup.kind == "locker":
            return self.tr("kluis {locker}", language).format(locker=pickup.locker)
        return self.tr("de servicebalie", language)

    def order_status(self, status: str, language: str) -> str:
        return {"placed": self.tr("Wordt klaargemaakt", language), "ready": self.tr("Ligt klaar", language),
                "collected": self.tr("Opgehaald", language), "cancelled": self.tr("Geannuleerd", language),
                "expired": self.tr("Niet op tijd opgehaald", language)}.get(status, status)

    def orders(self, account: AccountResult | None, language: str, tz: tzinfo) -> list[dict[str, str]]:
        """One dict per order (``title``, ``status``, ``place``, ``when``, ``items``), ready ones first."""
        orders = account.orders if account else None
        rank = {"ready": 0, "placed": 1}
        shown = []
        for order in sorted(orders or (), key=lambda order: rank.get(order.status, 2)):
            when = ""
            if order.status == "ready" and order.deadline is not None:
                when = self.tr("Ophalen kan tot {date}.", language).format(
                    date=self.date_time(order.deadline, language, tz))
            elif order.status == "ready" and order.ready_since is not None:
                when = self.tr("Klaar sinds {date}.", language).format(
                    date=self.date_time(order.ready_since, language, tz))
            place = ""
            if order.status in ("ready", "placed"):
                place = self.tr("Ophalen bij: {place}", language).format(
                    place=self.pickup_place(order.pickup, language))
            shown.append({"title": self.tr("Bestelling {order}", language).format(order=order.order_id),
                          "status": self.order_status(order.status, language), "place": place, "when": when,
                          "items": ", ".join(f"{item.quantity} × {item.name}" for item in order.items)})
        return shown

    @staticmethod
    def clock(seconds: float) -> str:
        """``1:05`` (a video position)."""
        seconds = max(0, int(seconds))
        return f"{seconds // 60}:{seconds % 60:02d}"

    # ------------------------------------------------------------------ feedback and staff

    def feedback_status(self, status: str, language: str) -> str:
        return {"sending": self.tr("Even geduld…", language),
                "sent": self.tr("Dank u wel voor uw mening!", language),
                "failed": self.tr("Uw mening kunnen we nu niet doorgeven. Probeer het zo nog eens.", language),
                }.get(status, "")

    def assist_status(self, status: str, language: str) -> str:
        return {"sending": self.tr("Even geduld…", language),
                "sent": self.tr("Er komt zo een medewerker naar u toe.", language),
                "failed": self.tr("Dat lukt nu niet. Loop gerust even naar de servicebalie.", language),
                }.get(status, "")

    # ------------------------------------------------------------------ anonymous and enrolment

    def anonymous_reason(self, session: Session | None, language: str) -> str:
        if session is None:
            return ""
        if session.outcome == "unknown-card":
            return self.tr("Deze kaart kennen we nog niet.", language)
        if session.outcome == "anonymous":
            return self.tr("Uw toestemming om herkend te worden is verlopen of ingetrokken.", language)
        return self.tr("We konden uw kaart niet goed lezen. Houd hem nog eens stil tegen de lezer.", language)

    def enrol_status(self, status: str, language: str) -> str:
        return {"sending": self.tr("Even geduld…", language),
                "sent": self.tr("Bedankt! We hebben uw aanmelding ontvangen. Een medewerker helpt u verder.",
                                language),
                "failed": self.tr("Aanmelden lukt nu niet. Vraag een medewerker om hulp.", language)}.get(status, "")

    # ------------------------------------------------------------------ Continueer

    def points(self, session: Session | None, language: str) -> str:
        if session is None or session.points is None:
            return ""
        return self.trn("{points} punt", "{points} punten", session.points, language).format(
            points=self.number(session.points, language))

    def progress(self, account: AccountResult | None, language: str) -> tuple[str, float]:
        """The progress line and its fraction (0..1) from the agent's ``account`` answer, or ("", 0) when
        there is none or the points may not be shown."""
        loyalty = account.loyalty if account else None
        if loyalty is None or loyalty.points is None:
            return "", 0.0
        if loyalty.next_tier is None or loyalty.points_to_next is None:
            return self.tr("U heeft het hoogste niveau bereikt. Dank voor uw trouw!", language), 1.0
        text = self.trn("Nog {points} punt ({money}) tot {tier}.", "Nog {points} punten ({money}) tot {tier}.",
                        loyalty.points_to_next, language)
        known = ("brons", "zilver", "goud")
        tier = self.tier(loyalty.next_tier, language) if loyalty.next_tier in known else (
            loyalty.next_tier_name or self.tier(loyalty.next_tier, language))
        return text.format(points=self.number(loyalty.points_to_next, language),
                           money=self.money(loyalty.euros_to_next or 0, language),
                           tier=tier), loyalty.progress or 0.0

    def points_per_euro(self, account: AccountResult | None) -> str:
        """``10`` from the agent's loyalty view, or "" without one."""
        loyalty = account.loyalty if account else None
        return f"{loyalty.points_per_euro:g}" if loyalty else ""

    # ------------------------------------------------------------------ Informeer

    def product(self, result: ProductResult | None, status: str, session: Session | None,
                language: str) -> dict[str, str]:
        """The texts of Informeer: name, description, price_label, price, was, reason, shelf, hint, status.

        The agent's price is the shopper's: with a saving it is "Uw prijs" (personal) or "Actieprijs"
        (for everyone), with the shelf price and the agent's reason beside it.
        """
        lines = dict.fromkeys(("name", "description", "price_label", "price", "was", "reason", "shelf", "hint",
                               "status"), "")
        if status == "loading":
            lines["status"] = self.tr("Even geduld…", language)
        elif status == "failed":
            lines["status"] = self.tr("Dit product kunnen we nu niet tonen. Vraag een medewerker om hulp.",
                                      language)
        if result is None or status != "loaded":
            return lines
        product, price = result.product, result.price
        lines["name"] = product.name
        lines["description"] = product.description or ""
        lines["price"] = self.price(price.price_cents, language)
        if price.saving_cents > 0:
            lines["price_label"] = (self.tr("Uw prijs", language) if result.personal
                                    else self.tr("Actieprijs", language))
            lines["was"] = self.tr("Normaal {price}", language).format(
                price=self.price(price.shelf_price_cents, language))
            lines["reason"] = price.reason or ""
        else:
            lines["price_label"] = self.tr("Prijs", language)
        if product.shelf:
            lines["shelf"] = self.tr("Te vinden in: {shelf}", language).format(shelf=product.shelf)
        if session is None or session.mode.value != "customer":
            lines["hint"] = self.tr("Met uw klantenpas ziet u uw eigen prijs.", language)
        return lines

    # ------------------------------------------------------------------ Converteer

    def offer_until(self, offer: OfferView, language: str, tz: tzinfo) -> str:
        """``Geldig tot en met 31 mei 2026`` (the offer ends, exclusive, at ``valid_until``)."""
        last = offer.valid_until.astimezone(tz) - timedelta(microseconds=1)
        return self.tr("Geldig tot en met {date}", language).format(date=self.date(last, language, tz))

    def promo(self, result: PromoCodeResult | None, status: str, language: str) -> str:
        if status == "checking":
            return self.tr("Even geduld…", language)
        if status == "invalid":
            return self.tr("Een kortingscode heeft alleen letters, cijfers en streepjes.", language)
        if status == "failed":
            return self.tr("De code kan nu niet worden gecontroleerd. Probeer het zo nog eens.", language)
        if status != "checked" or result is None:
            return ""
        if result.valid:
            title = result.offer.title if result.offer else ""
            return self.tr("Gelukt! {offer} geldt nu voor u.", language).format(offer=title).replace("  ", " ")
        return {"unknown-code": self.tr("Deze code kennen we niet.", language),
                "not-yet-valid": self.tr("Deze code geldt nog niet.", language),
                "expired": self.tr("Deze code is verlopen.", language),
                "not-for-this-customer": self.tr("Deze code is niet voor u bedoeld.", language),
                "used-up": self.tr("Deze code is al gebruikt.", language),
                "needs-activation": self.tr("Activeer eerst de aanbieding die bij deze code hoort.", language),
                }.get(result.outcome, self.tr("Deze code kennen we niet.", language))

    def deals(self, offers: OffersResult | None, language: str, limit: int = 8) -> list[tuple[str, str]]:
        """(product, "€ 22,45 in plaats van € 24,95") rows of the products the shopper pays less for."""
        if offers is None:
            return []
        return [(deal.name, self.tr("{price} in plaats van {shelf}", language).format(
                    price=self.price(deal.price_cents, language), shelf=self.price(deal.shelf_price_cents, language)))
                for deal in offers.deals[:limit]]

    # ------------------------------------------------------------------ Mijn gegevens

    def known(self, data: MyDataResult | None, language: str) -> list[tuple[str, str]]:
        """(what, value) rows of what the store knows and may show."""
        if data is None or data.customer is None:
            return []
        customer = data.customer
        rows = []
        if customer.first_name:
            rows.append((self.tr("Voornaam", language), customer.first_name))
        rows.append((self.tr("Taal", language), LANGUAGE_NAMES.get(customer.language, customer.language)))
        if customer.tier:
            rows.append((self.tr("Niveau", language), self.tier(customer.tier, language)))
        if customer.points is not None:
            rows.append((self.tr("Punten", language), self.number(customer.points, language)))
        return rows

    def consents(self, data: MyDataResult | None, language: str, tz: tzinfo) -> list[tuple[str, str]]:
        """(purpose, "tot 1 april 2027") rows."""
        if data is None:
            return []
        return [(self.purpose(consent.purpose, language),
                 self.tr("tot {date}", language).format(date=self.date(consent.until, language, tz)))
                for consent in data.consents]

    def data_use(self, data: MyDataResult | None, language: str, tz: tzinfo, limit: int = 20) -> list[tuple[str, str]]:
        """(when, what and which data) rows of the data-use log, newest first."""
        if data is None:
            return []
        rows = []
        for entry in data.data_use[:limit]:
            categories = ", ".join(self.category(category, language) for category in entry.categories)
            what = self.use(entry.use, language)
            rows.append((self.date_time(entry.at, language, tz), f"{what} ({categories})" if categories else what))
        return rows

    # ------------------------------------------------------------------ staff

    def health(self, device: DeviceInfo, language: str, now: float) -> list[tuple[str, str]]:
        """(what, value) rows of the device health for the staff screen."""
        yes, no = self.tr("ja", language), self.tr("nee", language)
        rows = [(self.tr("Kiosk verbonden met de broker", language), yes if device.broker_connected else no)]
        if device.state is not None:
            state = {"online": self.tr("online", language), "offline": self.tr("offline", language)}
            rows.append((self.tr("Agent", language), state.get(device.state.state, device.state.state)))
        if device.birth is not None:
            rows.append((self.tr("Versie van de agent", language), device.birth.agent_version))
        health = device.health
        if health is None:
            rows.append((self.tr("Gezondheid", language), self.tr("nog geen bericht ontvangen", language)))
        else:
            age = int(max(0.0, now - (device.health_at or now)))
            rows += [
                (self.tr("Laatste gezondheidsbericht", language),
                 self.trn("{n} seconde geleden", "{n} seconden geleden", age, language).format(n=age)),
                (self.tr("Actief sinds", language), self._duration(health.uptime_s, language)),
                (self.tr("Agent verbonden met de broker", language), yes if health.connected else no),
                (self.tr("Berichten in de wachtrij", language),
                 self.tr("{depth} (waarvan {critical} kritiek)", language).format(
                     depth=health.outbox_depth, critical=health.outbox_critical)),
                (self.tr("Opnieuw verbonden", language), str(health.reconnects)),
                (self.tr("Telemetrie weggegooid", language), str(health.dropped_telemetry)),
                (self.tr("Geweigerde berichten", language), str(health.rejected_messages)),
            ]
            if health.broker_rtt_ms is not None:
                rows.append((self.tr("Rondgang via de broker", language), f"{health.broker_rtt_ms:.1f} ms"))
            if health.reader_state is not None:
                reader = {"ok": self.tr("in orde", language), "opening": self.tr("wordt geopend", language),
                          "failed": self.tr("storing", language)}.get(health.reader_state, health.reader_state)
                if health.reader_error and health.reader_state != "ok":
                    reader += f" ({health.reader_error})"
                rows.append((self.tr("Kaartlezer", language), reader))
            if health.taps is not None:
                rows.append((self.tr("Kaarten getikt", language), str(health.taps)))
        rows.append((self.tr("Genegeerde berichten (kiosk)", language), str(device.malformed)))
        return rows

    def _duration(self, seconds: float, language: str) -> str:
        minutes, _ = divmod(int(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        days, hours = divmod(hours, 24)
        if days:
            return self.tr("{d} d {h} u", language).format(d=days, h=hours)
        if hours:
            return self.tr("{h} u {m} min", language).format(h=hours, m=minutes)
        return self.tr("{m} min", language).format(m=minutes)
