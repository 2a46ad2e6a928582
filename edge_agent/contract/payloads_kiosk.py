"""Payloads between the kiosk and its agent, local to the store: the session, the shopper's requests and
their results, and the demo's controls.

These carry personal data (a first name, points, orders, what a customer
consented to), so none of them is retained or bridged out of the store; what
goes upstream from them is a separate, pseudonymous event
(:mod:`.payloads_events`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from ..identity import Assurance
from ..identity import Outcome as SessionOutcome
from .payloads_central import OfferKind, OrderItem, OrderStatus, PickupPoint
from .types import (
    Gtin,
    Identifier,
    Language,
    MessageId,
    OfferId,
    Payload,
    Phase,
    PromoCodeOutcome,
    Purpose,
    SessionId,
    StaffId,
)

# --------------------------------------------------------------------------- the session


class CustomerView(Payload):
    """The part of a profile the screen may show at this assurance; absent fields may not be shown."""

    first_name: str | None = None
    language: Language = "nl"
    tier: str | None = None
    points: int | None = None


class SessionPayload(Payload):
    """A session at the kiosk, started or ended: who tapped, how sure, and what the screen may show."""

    session: SessionId
    state: Literal["started", "ended"]
    outcome: SessionOutcome
    assurance: Assurance
    may_show: list[str] = Field(default_factory=list, description="Data categories the screen may show.")
    invite_to_enrol: bool = False
    customer: CustomerView | None = None
    staff: StaffId | None = None
    reason: str | None = Field(None, description="Why a card was not recognised, or why the session ended.")


class SessionRequest(Payload):
    """A request about the current session and nothing else."""

    session: SessionId


class WithdrawResult(Payload):
    """The consents withdrawn and the number of local records erased with them."""

    withdrawn: list[Purpose]
    erased_records: int


class ConsentView(Payload):
    """One of the customer's consents as the kiosk shows it: its purpose and its end."""

    purpose: Purpose
    until: AwareDatetime


class DataUseEntry(Payload):
    """One use of the customer's data: when, on which device, what for and which categories."""

    at: AwareDatetime
    device: str
    use: str
    categories: list[str]


class MyDataResult(Payload):
    """What the store knows about the session's customer: profile, consents and the data-use log."""

    customer: CustomerView | None
    consents: list[ConsentView]
    data_use: list[DataUseEntry]


class EndSessionResult(Payload):
    """Whether a session was ended (false when it had ended already)."""

    ended: bool


class TouchResult(Payload):
    """Whether the session a ``touch`` named is still open (its idle limit starts again from the touch)."""

    active: bool


# --------------------------------------------------------------------------- shopping at the kiosk


class ProductRequest(Payload):
    """A product to show, by GTIN, with the session for the shopper's own price."""

    session: SessionId | None = Field(None, description="The current session, for the customer's own price; "
                                                        "none: the anonymous price.")
    gtin: Gtin
    language: Language | None = Field(None, description="Language of the texts; default the customer's, else nl.")


class OffersRequest(Payload):
    """The offers and deals to list for this session's shopper (or for everyone)."""

    session: SessionId | None = Field(None, description="The current session; none: offers for everyone.")
    language: Language | None = None
    limit: int = Field(50, ge=1, le=200, description="At most this many deals, biggest saving first.")


class ActivateOfferRequest(Payload):
    """An offer the session's customer wants activated on their account."""

    session: SessionId
    offer: OfferId


class PromoCodeRequest(Payload):
    """A promo code as the shopper typed it, to check for this session."""

    session: SessionId | None = None
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,32}$")] = Field(
        description="As typed; compared in upper case.")
    language: Language | None = None


class FeedbackRequest(Payload):
    """A shopper's score (1-5) for a phase of the visit, with an optional fixed reason."""

    session: SessionId | None = None
    score: int = Field(ge=1, le=5)
    reason: Identifier | None = Field(None, description="One of the kiosk's fixed reasons, e.g. waiting-time.")
    phase: Phase


class StaffAssistRequest(Payload):
    """A shopper asks for a member of staff, in which phase and for what."""

    session: SessionId | None = None
    phase: Phase | None = None
    topic: Identifier | None = Field(None, description="What help is wanted, e.g. product-advice.")
    gtin: Gtin | None = Field(None, description="The product on the screen, if any (for the store console).")


class EnrolRequest(Payload):
    """The shopper of this session's unknown card asks to join."""

    session: SessionId
    language: Language = Field("nl", description="Language the shopper used at the kiosk.")


class ProductView(Payload):
    """A product as the kiosk shows it, its texts in the requested language."""

    gtin: str
    name: str
    description: str | None = None
    category: str
    images: list[str] = Field(default_factory=list)
    stock: int | None = None
    shelf: str | None = None
    video: str | None = None
    shelf_price_cents: int


class PriceView(Payload):
    """The shopper's best price of a product and where it comes from (shelf, price list or offer)."""

    price_cents: int = Field(ge=0)
    shelf_price_cents: int
    saving_cents: int = Field(ge=0)
    source: Literal["shelf", "price-list", "offer"]
    reason: str | None = Field(None, description="Why this price, e.g. 'Goud-prijs'; null for the shelf price.")
    offer: str | None = None
    price_group: str | None = None


class OfferView(Payload):
    """An offer as the kiosk shows it to this shopper: its benefit, validity and whether it applies."""

    offer: str
    version: int
    kind: OfferKind
    title: str
    description: str | None = None
    valid_until: AwareDatetime = Field(description="End of the offer (exclusive).")
    personal: bool = Field(description="Targeted at this customer rather than everyone.")
    applies: bool = Field(description="It applies now (activated if it needs activation, code entered if it needs "
                                      "one).")
    needs_activation: bool = False
    needs_code: bool = False
    uses_left: int | None = Field(None, description="Uses this customer has left; null: no limit.")
    percent: float | None = None
    amount_cents: int | None = None
    price_cents: int | None = None
    gift: str | None = None
    min_spend_cents: int | None = None
    products: list[str] = Field(default_factory=list, description="At most 50 of its products.")
    categories: list[str] = Field(default_factory=list)


class ProductResult(Payload):
    """One product with the shopper's best price and the offers for it."""

    product: ProductView
    price: PriceView
    offers: list[OfferView] = Field(description="Offers for this product and this shopper.")
    personal: bool = Field(description="The customer's own data (targeting, price groups) was used.")


class Deal(Payload):
    """A product this shopper pays less for than its shelf price, and why."""

    gtin: str
    name: str
    shelf_price_cents: int
    price_cents: int
    reason: str | None
    offer: str | None = None
    price_group: str | None = None


class OffersResult(Payload):
    """The shopper's offers and the products they pay less for."""

    offers: list[OfferView]
    deals: list[Deal] = Field(description="Products below their shelf price for this shopper, biggest saving first.")
    more_deals: int = Field(ge=0, description="Deals left out by the limit.")
    personal: bool


class LoyaltyView(Payload):
    """The customer's tier, points and progress to the next tier."""

    tier: str | None = None
    tier_name: str | None = None
    points: int | None = Field(None, description="Null when the screen may not show balances.")
    next_tier: str | None = None
    next_tier_name: str | None = None
    points_to_next: int | None = None
    euros_to_next: int | None = Field(None, description="Whole euros to spend to reach the next tier.")
    progress: float | None = Field(None, ge=0, le=1, description="From this tier's threshold to the next one's.")
    points_per_euro: float


class OrderView(Payload):
    """A pick-up order of the customer as the kiosk shows it."""

    order_id: str
    status: OrderStatus
    pickup: PickupPoint
    ready_since: AwareDatetime | None = None
    deadline: AwareDatetime | None = None
    items: list[OrderItem] = Field(default_factory=list)


class PurchaseView(Payload):
    """One recent purchase of the customer, in a shop or the webshop."""

    gtin: str
    name: str | None
    quantity: int
    at: AwareDatetime
    channel: Literal["shop", "webshop"]


class AccountResult(Payload):
    """The customer's account, each part null when the screen may not show it."""

    loyalty: LoyaltyView | None = None
    orders: list[OrderView] | None = None
    purchases: list[PurchaseView] | None = None


class ActivateOfferResult(Payload):
    """The offer activated, and whether that was new."""

    offer: str
    new: bool = Field(description="False when it had been activated already (no new event).")


class PromoCodeResult(Payload):
    """Whether a promo code is valid for this shopper, why not, and its offer."""

    valid: bool
    outcome: PromoCodeOutcome
    offer: OfferView | None = None


class QueuedResult(Payload):
    """The id of the event a request queued upstream."""

    event: MessageId = Field(description="Id of the event queued upstream.")


# --------------------------------------------------------------------------- the demo


class DemoControlPayload(Payload):
    """A demo button or key on the kiosk: tap a demo card, take it away, or hold up the demo product."""

    action: Literal["tap", "remove", "product"]
    card: Literal["gold", "expired", "unknown", "staff"] | None = Field(
        None, description="Which demo card (for tap): gold customer, expired consent, unknown card, staff badge.")

    @model_validator(mode="after")
    def _card_for_tap(self) -> DemoControlPayload:
        if (self.action == "tap") != (self.card is not None):
            raise ValueError("tap names a card; remove and product name none")
        return self


