"""Payloads central systems push to a store: customers, orders, erasure, card links, the catalogue, prices,
offers and purchase history.

Every record carries its own ``version``: a newer one replaces the stored
record, the same one is skipped, an older one is rejected. The batches
(catalogue, price list, offers, purchase history) carry many records of one
kind and are applied in one transaction, all or nothing; ``active: false``
removes a record but keeps its version, so a late older copy cannot bring it
back. Validators name the position of a mistake, never the value sent.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from .types import (
    LANGUAGES,
    POINTS_MAX,
    QUANTITY_MAX,
    STOCK_MAX,
    USES_MAX,
    CardToken,
    Cents,
    CustomerId,
    Gtin,
    Identifier,
    Instant,
    Language,
    LineId,
    MediaRef,
    OfferId,
    Payload,
    PromoCode,
    Purpose,
    ShortText,
    StaffId,
    Transaction,
    ValidityBound,
    Version,
    unique,
)


class Consent(Payload):
    """One consent central holds for a customer: its purpose and its end."""

    purpose: Purpose
    until: Instant


class CustomerOfferState(Payload):
    """How far a customer is with one offer, as central counts it (till, webshop, kiosk activations)."""

    offer: OfferId
    uses: int = Field(0, ge=0, le=USES_MAX,
                      description="Times the customer used the offer; compared with uses_per_customer.")
    activated: bool = Field(False, description="Activated on the customer's account (app, webshop or kiosk).")


class CustomerProfile(Payload):
    """A customer's profile as central knows it: name, language, tier, points, groups, consents, offer uses."""

    customer: CustomerId
    version: Version
    first_name: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    language: Language = "nl"
    tier: Identifier | None = None
    points: int = Field(0, ge=0, le=POINTS_MAX)
    price_groups: list[Identifier] = Field(default_factory=list, max_length=100)
    segments: list[Identifier] = Field(default_factory=list, max_length=100)
    favourite_store: Identifier | None = None
    consents: list[Consent] = Field(default_factory=list, max_length=len(Purpose),
                                    description="At most one per purpose.")
    offers: list[CustomerOfferState] = Field(default_factory=list, max_length=1000,
                                             description="Uses and activations of offers, one entry per offer.")

    @model_validator(mode="after")
    def _one_state_per_offer(self) -> CustomerProfile:
        unique(self.offers, lambda state: state.offer, "offers")
        unique(self.consents, lambda consent: consent.purpose, "consents")
        return self


class OrderStatus(StrEnum):
    """Where a pick-up order is: placed, ready to collect, collected, cancelled or expired."""

    PLACED = "placed"
    READY = "ready"
    COLLECTED = "collected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class PickupPoint(Payload):
    """Where an order is collected: the service desk, or a numbered locker."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "if": {"properties": {"kind": {"const": "locker"}}},
        "then": {"required": ["locker"], "properties": {"locker": {"type": "string"}}},
        "else": {"properties": {"locker": {"type": "null"}}},
    })

    kind: Literal["service-desk", "locker"]
    locker: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None

    @model_validator(mode="after")
    def _locker_number(self) -> PickupPoint:
        if (self.kind == "locker") != (self.locker is not None):
            raise ValueError("a locker pick-up point needs a locker number, and only it")
        return self


class OrderItem(Payload):
    """One line of an order: what and how many."""

    name: ShortText
    quantity: int = Field(ge=1, le=QUANTITY_MAX)


class OrderPush(Payload):
    """A pick-up order's status, where to collect it and until when."""

    order_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,40}$")]
    version: Version
    customer: CustomerId
    status: OrderStatus
    pickup: PickupPoint
    ready_since: Instant | None = None
    deadline: Instant | None = Field(None, description="Last moment to collect; not before ready_since.")
    items: list[OrderItem] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _dates(self) -> OrderPush:
        if self.ready_since and self.deadline and self.deadline < self.ready_since:
            raise ValueError("deadline is before ready_since")
        return self


class ErasureRequest(Payload):
    """Central asks the store to erase everything it keeps about one customer."""

    request_id: Transaction
    customer: CustomerId


class CardLinkPush(Payload):
    """What a card stands for. Central only ever knows the card's token, never its UID."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "if": {"properties": {"kind": {"const": "customer"}}},
        "then": {"required": ["customer"], "properties": {"customer": {"type": "string"}, "staff": {"type": "null"}}},
        "else": {"required": ["staff"], "properties": {"staff": {"type": "string"}, "customer": {"type": "null"}}},
    })

    card: CardToken = Field(description="HMAC-SHA256(store key, UID) as k-<hex>; computed by the agent at enrolment.")
    version: Version
    kind: Literal["customer", "staff"]
    customer: CustomerId | None = Field(None, description="For kind customer.")
    staff: StaffId | None = Field(None, description="For kind staff (a badge).")
    active: bool = Field(True, description="False unlinks the card (lost, replaced).")

    @model_validator(mode="after")
    def _subject(self) -> CardLinkPush:
        if ((self.kind == "customer") != (self.customer is not None)
                or (self.kind == "staff") != (self.staff is not None)):
            raise ValueError("a customer link names a customer and a staff link a staff member, nothing else")
        return self


# --------------------------------------------------------------------------- catalogue, prices, offers, history


class LocalText(Payload):
    """One text in the store's languages; at least one of them. Shown in the shopper's language,
    else in nl, en, fr order."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "anyOf": [{"required": [language], "properties": {language: {"type": "string"}}}
                  for language in LANGUAGES],
    })

    nl: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    en: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    fr: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _some_text(self) -> LocalText:
        if all(getattr(self, language) is None for language in LANGUAGES):
            raise ValueError(f"a text needs at least one of {', '.join(LANGUAGES)}")
        return self


class ProductRecord(Payload):
    """A product of the catalogue."""

    gtin: Gtin
    version: Version
    active: bool = Field(True, description="False delists the product (its version is kept).")
    name: LocalText
    description: LocalText | None = None
    price_cents: Cents = Field(description="Shelf price in euro cents, above zero.")
    category: Identifier
    images: list[MediaRef] = Field(default_factory=list, max_length=10)
    stock: int | None = Field(None, ge=0, le=STOCK_MAX, description="Units in this store; null when unknown.")
    shelf: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        None, description="Where it stands, e.g. 'Gang 4, schap B'.")
    video: MediaRef | None = Field(None, description="Related instruction video.")


class CataloguePush(Payload):
    """Products of the catalogue, many records in one message."""

    products: list[ProductRecord] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique_products(self) -> CataloguePush:
        unique(self.products, lambda record: record.gtin, "products")
        return self


class PriceGroupRecord(Payload):
    """A price group (VIP, staff, app users, club members...): its name is the reason shown with its prices."""

    price_group: Identifier
    version: Version
    name: LocalText = Field(description="Shown as the reason of the price, e.g. 'Clubprijs'.")


class PriceRecord(Payload):
    """The price of one product for one price group."""

    price_group: Identifier
    gtin: Gtin
    version: Version
    active: bool = Field(True, description="False removes the price (its version is kept).")
    price_cents: Cents


class PriceListPush(Payload):
    """Price groups and their prices, many records in one message; at least one of either."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "anyOf": [{"required": ["groups"], "properties": {"groups": {"minItems": 1}}},
                  {"required": ["prices"], "properties": {"prices": {"minItems": 1}}}],
    })

    groups: list[PriceGroupRecord] = Field(default_factory=list, max_length=200)
    prices: list[PriceRecord] = Field(default_factory=list, max_length=2000)

    @model_validator(mode="after")
    def _records(self) -> PriceListPush:
        if not self.groups and not self.prices:
            raise ValueError("a price list message needs at least one group or price")
        unique(self.groups, lambda record: record.price_group, "groups")
        unique(self.prices, lambda record: (record.price_group, record.gtin), "prices")
        return self


class OfferKind(StrEnum):
    """What an offer gives: a percentage or amount off, a personal price, a gift, or a promo code."""

    PERCENTAGE_OFF = "percentage-off"
    AMOUNT_OFF = "amount-off"
    PERSONAL_PRICE = "personal-price"
    GIFT_WITH_PURCHASE = "gift-with-purchase"
    PROMO_CODE = "promo-code"


# What each kind needs; every other benefit field must be absent.
OFFER_BENEFITS: dict[OfferKind, tuple[str, ...]] = {
    OfferKind.PERCENTAGE_OFF: ("percent",),
    OfferKind.AMOUNT_OFF: ("amount_cents",),
    OfferKind.PERSONAL_PRICE: ("price_cents",),
    OfferKind.GIFT_WITH_PURCHASE: ("gift", "min_spend_cents"),
    OfferKind.PROMO_CODE: ("code",),  # and exactly one of percent, amount_cents
}
_BENEFIT_FIELDS = ("percent", "amount_cents", "price_cents", "gift", "min_spend_cents", "code")
_BENEFIT_TYPES = {"percent": "number", "amount_cents": "integer", "price_cents": "integer", "gift": "string",
                  "min_spend_cents": "integer", "code": "string"}


def _kind_rule(kind: OfferKind) -> dict[str, Any]:
    needed = set(OFFER_BENEFITS[kind]) | ({"percent", "amount_cents"} if kind is OfferKind.PROMO_CODE else set())
    properties = {name: ({"type": _BENEFIT_TYPES[name]} if name in OFFER_BENEFITS[kind] else {})
                  if name in needed else {"type": "null"} for name in _BENEFIT_FIELDS}
    rule: dict[str, Any] = {"required": list(OFFER_BENEFITS[kind]), "properties": properties}
    if kind is OfferKind.PROMO_CODE:
        rule["oneOf"] = [{"required": ["percent"], "properties": {"percent": {"type": "number"},
                                                                   "amount_cents": {"type": "null"}}},
                         {"required": ["amount_cents"], "properties": {"amount_cents": {"type": "integer"},
                                                                        "percent": {"type": "null"}}}]
    if kind is OfferKind.PERSONAL_PRICE:
        rule["anyOf"] = [{"required": ["products"], "properties": {"products": {"minItems": 1}}},
                         {"required": ["categories"], "properties": {"categories": {"minItems": 1}}}]
    return {"if": {"properties": {"kind": {"const": kind.value}}}, "then": rule}


class Targeting(Payload):
    """Who gets an offer: everyone, or whoever is in any of the listed tiers, price groups,
    segments or named customers."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "if": {"properties": {"everyone": {"const": True}}},
        "then": {"properties": {name: {"maxItems": 0} for name in ("tiers", "price_groups", "segments",
                                                                   "customers")}},
        "else": {"anyOf": [{"required": [name], "properties": {name: {"minItems": 1}}}
                           for name in ("tiers", "price_groups", "segments", "customers")]},
    })

    everyone: bool = False
    tiers: list[Identifier] = Field(default_factory=list, max_length=20)
    price_groups: list[Identifier] = Field(default_factory=list, max_length=100)
    segments: list[Identifier] = Field(default_factory=list, max_length=100)
    customers: list[CustomerId] = Field(default_factory=list, max_length=5000,
                                        description="Named customers (pseudonymous ids). Each version of "
                                                    "the offer replaces them as a whole, so the offer with all "
                                                    "of them must fit one message (5,000 ids of 32 hex digits "
                                                    "take about 185 kB).")

    @model_validator(mode="after")
    def _audience(self) -> Targeting:
        named = self.tiers or self.price_groups or self.segments or self.customers
        if self.everyone and named:
            raise ValueError("an offer for everyone lists no tiers, price groups, segments or customers")
        if not self.everyone and not named:
            raise ValueError("the offer targets nobody: set everyone or list tiers, price groups, segments "
                             "or customers")
        for name in ("tiers", "price_groups", "segments", "customers"):
            unique(getattr(self, name), lambda value: value, name)
        return self


class OfferRecord(Payload):
    """An offer: what it gives, to whom, on which products, when."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "allOf": [_kind_rule(kind) for kind in OfferKind],
    })

    offer: OfferId
    version: Version
    active: bool = Field(True, description="False withdraws the offer (its version is kept).")
    kind: OfferKind
    title: LocalText = Field(description="Shown as the reason of the price, e.g. 'Voorjaarsactie -10%'.")
    description: LocalText | None = None
    targeting: Targeting
    products: list[Gtin] = Field(default_factory=list, max_length=2000,
                                 description="Products it is for; with categories empty too: the whole assortment.")
    categories: list[Identifier] = Field(default_factory=list, max_length=200)
    valid_from: ValidityBound = Field(description="An instant, or a date: from the start of that day in the "
                                                  "store's time zone.")
    valid_until: ValidityBound = Field(description="An instant (exclusive), or a date: through the end of that day "
                                                   "in the store's time zone. Same form as valid_from.")
    priority: int = Field(0, ge=-1000, le=1000, description="Among equal prices the higher priority is the reason "
                                                             "shown; offers are listed by it.")
    uses_per_customer: int | None = Field(None, ge=1, le=USES_MAX,
                                          description="How often one customer may use it; null: no limit.")
    requires_activation: bool = Field(False, description="Applies only once the customer activated it.")
    percent: float | None = Field(None, gt=0, le=100, description="percentage-off, promo-code: percent off.")
    amount_cents: Cents | None = Field(None, description="amount-off, promo-code: euro cents off per unit.")
    price_cents: Cents | None = Field(None, description="personal-price: the price.")
    gift: Gtin | None = Field(None, description="gift-with-purchase: the product given.")
    min_spend_cents: Cents | None = Field(None, description="gift-with-purchase: spend (on its products, or on "
                                                            "anything) that earns the gift.")
    code: PromoCode | None = Field(None, description="promo-code: the code to enter (upper case).")

    @model_validator(mode="after")
    def _consistent(self) -> OfferRecord:
        needed = OFFER_BENEFITS[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind.value} offer needs {', '.join(missing)}")
        allowed = set(needed) | ({"percent", "amount_cents"} if self.kind is OfferKind.PROMO_CODE else set())
        extra = [name for name in _BENEFIT_FIELDS if name not in allowed and getattr(self, name) is not None]
        if extra:
            raise ValueError(f"a {self.kind.value} offer has no {', '.join(extra)}")
        if self.kind is OfferKind.PROMO_CODE and (self.percent is None) == (self.amount_cents is None):
            raise ValueError("a promo-code offer gives either percent or amount_cents off")
        if self.kind is OfferKind.PERSONAL_PRICE and not (self.products or self.categories):
            raise ValueError("a personal-price offer names its products or categories")
        if isinstance(self.valid_from, datetime) != isinstance(self.valid_until, datetime):
            raise ValueError("valid_from and valid_until must both be dates or both be instants")
        if isinstance(self.valid_from, datetime):
            if self.valid_until <= self.valid_from:
                raise ValueError("the validity window ends before it starts")
        elif self.valid_until < self.valid_from:
            raise ValueError("the validity window ends before it starts")
        unique(self.products, lambda value: value, "products")
        unique(self.categories, lambda value: value, "categories")
        return self


class OffersPush(Payload):
    """Offers, many records in one message."""

    offers: list[OfferRecord] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _unique_offers(self) -> OffersPush:
        unique(self.offers, lambda record: record.offer, "offers")
        return self


class PurchaseRecord(Payload):
    """One line of a customer's purchase, in a shop or the webshop."""

    line: LineId = Field(description="Unique id of the purchase line, e.g. receipt-number/line.")
    version: Version
    active: bool = Field(True, description="False withdraws the line (returned, corrected).")
    customer: CustomerId
    gtin: Gtin = Field(description="May be a product this store does not sell.")
    name: ShortText | None = Field(None, description="What to show when the product is not in the catalogue.")
    quantity: int = Field(ge=1, le=QUANTITY_MAX)
    at: Instant
    channel: Literal["shop", "webshop"]


class PurchaseHistoryPush(Payload):
    """Purchase lines of customers, many records in one message."""

    purchases: list[PurchaseRecord] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique_lines(self) -> PurchaseHistoryPush:
        unique(self.purchases, lambda record: record.line, "purchases")
        return self

