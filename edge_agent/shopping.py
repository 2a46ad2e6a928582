"""The kiosk's shopping requests: prices, offers, the account, and the actions that go upstream.

Every request names the current session (or none, for an anonymous shopper at
a product or an offer screen); a session that ended or was replaced is refused.
What a request may use of a customer follows the session's decision
(:mod:`edge_agent.identity`): their offers and targeting only with the
``offers`` category, their price groups' prices only with ``personal_prices``,
points, tier, orders and purchases only with theirs. Every use of a
customer's data is logged for them (``my-data``).

The actions (activate an offer, check a promo code, feedback, staff assist,
enrolment) become critical events in the durable outbox: sent at least once,
never dropped, pseudonymous. An activation is recorded locally in the same
transaction as its event, so the kiosk shows it at once and the matcher
applies it before central confirms it in the customer's profile.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from .commands import CommandError, Commands
from .contract import (
    AccountResult,
    ActivateOfferRequest,
    ActivateOfferResult,
    Deal,
    EnrolmentEvent,
    EnrolRequest,
    FeedbackEvent,
    FeedbackRequest,
    LoyaltyView,
    OfferActivationEvent,
    OffersRequest,
    OffersResult,
    OfferView,
    OrderView,
    PriceView,
    ProductRequest,
    ProductResult,
    ProductView,
    PromoCodeEvent,
    PromoCodeRequest,
    PromoCodeResult,
    PurchaseView,
    QueuedResult,
    SessionRequest,
    StaffAssistEvent,
    StaffAssistRequest,
)
from .identity import Category, Outcome
from .loyalty import Rules, progress
from .matching import MatchService, UnknownProduct
from .offers import ANONYMOUS, Offer, PriceMatch, Shopper, Skip, status, text_in
from .outbox import Outbox
from .sessions import ActiveSession, SessionService
from .store import Store

logger = logging.getLogger(__name__)

FINAL_ORDER_STATES = ("collected", "cancelled", "expired")
FINAL_ORDERS_SHOWN_S = 14 * 86400  # collected, cancelled or expired orders stay on the account this long
SHOWN_ORDERS = 20
SHOWN_PURCHASES = 20
SHOWN_OFFER_PRODUCTS = 50


@dataclass(frozen=True)
class _Context:
    session: ActiveSession | None
    shopper: Shopper
    codes: frozenset[str]

    @property
    def categories(self) -> list[str]:
        """The data categories the shopper's matching used."""
        used = []
        if self.shopper.customer is not None:
            used.append(Category.OFFERS.value)
        if self.shopper.price_groups and self.shopper.group_prices:
            used.append(Category.PERSONAL_PRICES.value)
        return used


class ShoppingService:
    """Answers the kiosk's shopping requests and queues its actions upstream.

    :param store: the agent's database.
    :param outbox: for the upstream events.
    :param matcher: prices and offers.
    :param loyalty: points per euro and tiers (``[loyalty]``).
    :param sessions: the kiosk's sessions; None on a device without a card reader
        (then only anonymous requests are served).
    """

    def __init__(self, store: Store, outbox: Outbox, matcher: MatchService, loyalty: Rules,
                 sessions: SessionService | None = None):
        self._store = store
        self._outbox = outbox
        self._matcher = matcher
        self._loyalty = loyalty
        self._sessions = sessions
        self._codes: dict[str, frozenset[str]] = {}  # promo codes entered, for the current session only

    def register(self, commands: Commands) -> None:
        """Carry out the shopping commands of the contract with this service."""
        for name, handler in (("product", self.product), ("offers", self.offers), ("account", self.account),
                              ("activate-offer", self.activate_offer), ("check-promo-code", self.check_promo_code),
                              ("feedback", self.feedback), ("staff-assist", self.staff_assist),
                              ("enrol", self.enrol)):
            commands.register(name, handler)

    # ------------------------------------------------------------------ sessions

    def _session(self, session_id: str) -> ActiveSession:
        if self._sessions is None:
            raise CommandError("this device has no sessions (no card reader)")
        session = self._sessions.current(session_id)
        if session is None:
            raise CommandError("no such session (it ended or was replaced)")
        return session

    def _recognised(self, session_id: str) -> tuple[ActiveSession, str]:
        """The session and its customer."""
        session = self._session(session_id)
        if session.decision.outcome is not Outcome.RECOGNISED:
            raise CommandError("this session has no recognised customer")
        customer = session.decision.customer
        assert customer is not None, "a recognised decision names its customer"
        return session, customer

    def _context(self, session_id: str | None) -> _Context:
        if session_id is None:
            return _Context(None, ANONYMOUS, frozenset())
        session = self._session(session_id)
        decision = session.decision
        shopper = ANONYMOUS
        if decision.outcome is Outcome.RECOGNISED:
            shopper = self._matcher.shopper(decision.customer, offers=Category.OFFERS in decision.may_show,
                                            prices=Category.PERSONAL_PRICES in decision.may_show)
        for stale in [other for other in self._codes if other != session.id]:
            del self._codes[stale]
        return _Context(session, shopper, self._codes.get(session.id, frozenset()))

    def _log(self, context: _Context, use: str, categories: list[str]) -> None:
        if self._sessions is not None and context.session is not None and context.shopper is not ANONYMOUS \
                and categories and context.session.decision.customer is not None:
            self._sessions.log_use(context.session.decision.customer, use, categories)

    # ------------------------------------------------------------------ what the kiosk shows

    def product(self, request: ProductRequest) -> ProductResult:
        """One product with the shopper's best price and why, and the offers for it."""
        context = self._context(request.session)
        try:
            match = self._matcher.match_product(context.shopper, request.gtin, context.codes)
        except UnknownProduct as exc:
            raise CommandError(str(exc)) from None
        record = self._matcher.product(request.gtin) or {}
        language = request.language or context.shopper.language
        offers = [self._offer_view(offer, context.shopper, language, None) for offer in match.offers]
        offers += [self._offer_view(offer, context.shopper, language, Skip.NEEDS_ACTIVATION) for offer in match.waiting]
        self._log(context, "product price", context.categories)
        return ProductResult(product=self._product_view(record, match, language),
                             price=self._price_view(match, language), offers=offers,
                             personal=bool(context.categories))

    def offers(self, request: OffersRequest) -> OffersResult:
        """The shopper's offers and the products they pay less for, biggest saving first."""
        context = self._context(request.session)
        language = request.language or context.shopper.language
        found = self._matcher.match_catalogue(context.shopper, context.codes)
        shown = found.deals[:request.limit]
        records = self._matcher.products([match.item.gtin for match in shown])
        deals = [Deal(gtin=match.item.gtin,
                      name=text_in((records.get(match.item.gtin) or {}).get("name"), language) or match.item.gtin,
                      shelf_price_cents=match.item.price_cents, price_cents=match.price_cents,
                      reason=match.reason(language), offer=match.offer.id if match.offer else None,
                      price_group=match.group.price_group if match.group else None) for match in shown]
        self._log(context, "offers", context.categories)
        return OffersResult(offers=[self._offer_view(offer, context.shopper, language, why)
                                    for offer, why in found.offers],
                            deals=deals, more_deals=len(found.deals) - len(shown),
                            personal=bool(context.categories))

    def account(self, request: SessionRequest) -> AccountResult:
        """Points and tier progress, pick-up orders and recent purchases, as far as the screen may show them."""
        session, customer = self._recognised(request.session)
        allowed = session.decision.may_show
        with self._store.reading() as conn:
            row = conn.execute("SELECT profile FROM customers WHERE customer = ?", (customer,)).fetchone()
            profile = json.loads(row[0]) if row else {}
            orders = conn.execute("SELECT data, status, updated FROM orders WHERE customer = ? "
                                  "ORDER BY updated DESC LIMIT 100", (customer,)).fetchall() \
                if Category.ORDERS in allowed else None
            purchases = conn.execute("SELECT data FROM purchases WHERE customer = ? AND active = 1 "
                                     "ORDER BY at DESC, line LIMIT ?", (customer, SHOWN_PURCHASES)).fetchall() \
                if Category.PURCHASE_HISTORY in allowed else None
        language = profile.get("language") or "nl"
        shown = [category.value for category in (Category.TIER, Category.POINTS, Category.ORDERS,
                                                 Category.PURCHASE_HISTORY) if category in allowed]
        result = AccountResult(loyalty=self._loyalty_view(profile, allowed, language),
                               orders=None if orders is None else self._order_views(orders),
                               purchases=None if purchases is None else self._purchase_views(purchases, language))
        if shown and self._sessions is not None:
            self._sessions.log_use(customer, "account", shown)
        return result

    # ------------------------------------------------------------------ actions upstream

    def activate_offer(self, request: ActivateOfferRequest) -> ActivateOfferResult:
        """Activate an offer on the customer's account: recorded here and sent upstream, once."""
        session, customer = self._recognised(request.session)
        if Category.OFFERS not in session.decision.may_show:
            raise CommandError("this session may not use the customer's offers")
        offer = self._matcher.offer(request.offer)
        if offer is None:
            raise CommandError("unknown offer")
        if not offer.requires_activation:
            raise CommandError("this offer needs no activation")
        why = status(offer, self._matcher.shopper(customer), self._matcher.now())
        if why not in (None, Skip.NEEDS_ACTIVATION, Skip.NEEDS_CODE):
            raise CommandError(f"the offer cannot be activated: {why.value}")
        new = False
        if why is Skip.NEEDS_ACTIVATION:
            with self._store.transaction(durable=True) as conn:
                new = conn.execute("INSERT OR IGNORE INTO offer_activations (customer, offer, at) VALUES (?, ?, ?)",
                                   (customer, offer.id, datetime.now(UTC).isoformat())).rowcount == 1
                if new:  # same transaction: recorded here exactly when it is certain to go upstream
                    self._outbox.enqueue("offer-activation", OfferActivationEvent(
                        session=session.id, customer=customer, offer=offer.id, offer_version=offer.version))
        assert self._sessions is not None, "_recognised found the session there"
        self._sessions.log_use(customer, "offer activated", [Category.OFFERS.value])
        logger.info("offer %s activated at the kiosk (%s)", offer.id, "new" if new else "already active")
        return ActivateOfferResult(offer=offer.id, new=new)

    def check_promo_code(self, request: PromoCodeRequest) -> PromoCodeResult:
        """Check a promo code for this shopper; a valid one applies for the rest of the session.

        The event upstream names the offer of the code, never the typed text.
        """
        context = self._context(request.session)
        code = request.code.upper()
        candidates = [(offer, status(offer, context.shopper, self._matcher.now(), frozenset({code})))
                      for offer in self._matcher.with_code(code)]
        offer, why = next(((offer, why) for offer, why in candidates if why is None),
                          candidates[0] if candidates else (None, None))
        outcome = "unknown-code" if offer is None else "valid" if why is None else why.value
        if outcome == "valid" and context.session is not None:
            self._codes[context.session.id] = context.codes | {code}
        self._outbox.enqueue("promo-code", PromoCodeEvent(
            session=context.session.id if context.session else None, customer=context.shopper.customer,
            offer=offer.id if offer else None, outcome=outcome))
        if context.shopper.customer is not None:
            self._log(context, "promo code checked", [Category.OFFERS.value])
        language = request.language or context.shopper.language
        view = None
        if offer is not None and outcome == "valid":
            view = self._offer_view(offer, context.shopper, language, None)
        return PromoCodeResult(valid=outcome == "valid", outcome=outcome, offer=view)

    def feedback(self, request: FeedbackRequest) -> QueuedResult:
        """Queue the shopper's score upstream, anonymously."""
        if request.session is not None:
            self._session(request.session)
        return QueuedResult(event=self._outbox.enqueue("feedback", FeedbackEvent(
            session=request.session, score=request.score, reason=request.reason, phase=request.phase)))

    def staff_assist(self, request: StaffAssistRequest) -> QueuedResult:
        """Call a member of staff to this device."""
        if request.session is not None:
            self._session(request.session)
        event = self._outbox.enqueue("staff-assist", StaffAssistEvent(
            session=request.session, phase=request.phase, topic=request.topic, gtin=request.gtin))
        logger.info("staff assist requested (%s)", request.topic or "no topic")
        return QueuedResult(event=event)

    def enrol(self, request: EnrolRequest) -> QueuedResult:
        """Send the card's token upstream so central can link it to the shopper who asked to join."""
        session = self._session(request.session)
        outcome = session.decision.outcome
        if outcome not in (Outcome.UNKNOWN_CARD, Outcome.ANONYMOUS) or session.token is None:
            raise CommandError("only a session of an unknown card, or one without recognition consent, can enrol")
        return QueuedResult(event=self._outbox.enqueue("enrolment", EnrolmentEvent(
            session=session.id, card=session.token, outcome=outcome.value, assurance=session.decision.assurance,
            language=request.language)))

    # ------------------------------------------------------------------ views

    @staticmethod
    def _product_view(record: dict, match: PriceMatch, language: str) -> ProductView:
        return ProductView(gtin=match.item.gtin, name=text_in(record.get("name"), language) or match.item.gtin,
                           description=text_in(record.get("description"), language),
                           category=match.item.category, images=record.get("images") or [],
                           stock=record.get("stock"), shelf=record.get("shelf"), video=record.get("video"),
                           shelf_price_cents=match.item.price_cents)

    @staticmethod
    def _price_view(match: PriceMatch, language: str) -> PriceView:
        return PriceView(price_cents=match.price_cents, shelf_price_cents=match.item.price_cents,
                         saving_cents=match.saving_cents, source=match.source, reason=match.reason(language),
                         offer=match.offer.id if match.offer else None,
                         price_group=match.group.price_group if match.group else None)

    @staticmethod
    def _offer_view(offer: Offer, shopper: Shopper, language: str, why: Skip | None) -> OfferView:
        return OfferView(
            offer=offer.id, version=offer.version, kind=offer.kind, title=text_in(offer.title, language) or offer.id,
            description=text_in(offer.description, language), valid_until=offer.ends.astimezone(UTC),
            personal=offer.personal, applies=why is None, needs_activation=offer.requires_activation,
            needs_code=offer.code is not None, uses_left=offer.uses_left(shopper),
            percent=None if offer.percent is None else float(offer.percent), amount_cents=offer.amount_cents,
            price_cents=offer.price_cents, gift=offer.gift, min_spend_cents=offer.min_spend_cents,
            products=sorted(offer.gtins)[:SHOWN_OFFER_PRODUCTS], categories=sorted(offer.categories))

    def _loyalty_view(self, profile: dict, allowed: frozenset[Category], language: str) -> LoyaltyView | None:
        show_tier, show_points = Category.TIER in allowed, Category.POINTS in allowed
        if not (show_tier or show_points) or not profile:
            return None
        standing = progress(self._loyalty, int(profile.get("points") or 0), profile.get("tier"))
        tier_id = profile.get("tier") or standing.tier.id
        following = standing.next
        return LoyaltyView(
            tier=tier_id if show_tier else None,
            tier_name=(text_in(standing.tier.name, language) or tier_id) if show_tier else None,
            points=standing.points if show_points else None,
            next_tier=following.id if show_tier and following else None,
            next_tier_name=(text_in(following.name, language) or following.id) if show_tier and following else None,
            points_to_next=standing.points_to_next if show_points else None,
            euros_to_next=standing.euros_to_next if show_points else None,
            progress=standing.fraction if show_points else None,
            points_per_euro=self._loyalty.points_per_euro)

    @staticmethod
    def _order_views(rows: list[tuple]) -> list[OrderView]:
        cutoff = time.time() - FINAL_ORDERS_SHOWN_S
        views = []
        for data, state, updated in rows:
            if state in FINAL_ORDER_STATES and updated < cutoff:
                continue
            order = json.loads(data)
            views.append(OrderView(order_id=order["order_id"], status=order["status"], pickup=order["pickup"],
                                   ready_since=order.get("ready_since"), deadline=order.get("deadline"),
                                   items=order.get("items") or []))
        return views[:SHOWN_ORDERS]

    def _purchase_views(self, rows: list[tuple], language: str) -> list[PurchaseView]:
        lines = [json.loads(data) for (data,) in rows]
        records = self._matcher.products(sorted({line["gtin"] for line in lines}))
        return [PurchaseView(gtin=line["gtin"],
                             name=text_in((records.get(line["gtin"]) or {}).get("name"), language) or line.get("name"),
                             quantity=line["quantity"], at=line["at"], channel=line["channel"]) for line in lines]
