"""The MQTT contract: every topic and every payload the edge agent uses.

This module is the single source of truth. ``docs/asyncapi.yaml`` is generated
from it (``edge-agent contract asyncapi``) and tests check both agree and that
real messages validate against the JSON Schemas derived from the models here.

Topics live under one versioned root::

    cs/v1/{store}/{device}/state              retained online/offline, last will
    cs/v1/{store}/{device}/birth              retained versions, capabilities, config hash
    cs/v1/{store}/{device}/health             periodic health
    cs/v1/{store}/{device}/probe              the agent's own round-trip probe (local)
    cs/v1/{store}/{device}/event/{name}       upstream events, at-least-once via the outbox
    cs/v1/{store}/{device}/request/{command}  commands to the device
    cs/v1/{store}/{device}/response/{command} their answers
    cs/v1/central/{store}/{kind}              what central systems push to the store

A message for another store is on another store's topic: the agent neither
subscribes to it nor accepts it (:meth:`Topics.classify`), so payloads carry
no store id of their own.

Every payload is a JSON envelope: ``id`` (UUIDv7, unique per message), ``ts``
(RFC 3339, UTC), ``schema`` (``name/major``), ``transaction`` (commands) and
``data``. Responses carry ``status``, ``data`` and ``error`` beside the same
metadata. Consumers de-duplicate by ``id``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from .errors import ContractError
from .identity import Assurance
from .identity import Outcome as SessionOutcome

ROOT = "cs/v1"
CENTRAL = "central"
EVERYTHING = ROOT + "/#"  # subscription filter for monitors and tools

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
CustomerId = Annotated[str, StringConstraints(pattern=r"^c-[0-9a-f]{16,64}$")]
CardToken = Annotated[str, StringConstraints(pattern=r"^k-[0-9a-f]{64}$")]
StaffId = Annotated[str, StringConstraints(pattern=r"^s-[a-z0-9-]{1,40}$")]
SessionId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
MessageId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
Transaction = Annotated[str, StringConstraints(min_length=1, max_length=128)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Language = Literal["nl", "en", "fr"]
LANGUAGES: tuple[str, ...] = ("nl", "en", "fr")  # also the fallback order of texts


def gtin_check_digit(body: str) -> int:
    """The GS1 check digit of the digits of a GTIN before its check digit (weights 3, 1, ... from the right)."""
    reverse = body[::-1]
    total = 3 * sum(map(int, reverse[0::2])) + sum(map(int, reverse[1::2]))
    return (10 - total % 10) % 10


def _normalised_gtin(value: str) -> str:
    if gtin_check_digit(value[:-1]) != int(value[-1]):
        raise ValueError("the GTIN's check digit is wrong")
    return value.zfill(14)


Gtin = Annotated[str, StringConstraints(pattern=r"^(?:[0-9]{8}|[0-9]{12,14})$"), AfterValidator(_normalised_gtin),
                 Field(description="GTIN-8, -12, -13 or -14 with a valid GS1 check digit; the agent keeps and "
                                   "answers with the 14-digit form (leading zeros).")]
Cents = Annotated[int, Field(gt=0, le=100_000_000, description="Euro cents, above zero.")]
OfferId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")]
PromoCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
LineId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]{0,79}$")]


def _no_parent_segments(value: str) -> str:
    if ".." in value.split("/"):
        raise ValueError("a media path may not contain '..'")
    return value


MediaRef = Annotated[str, StringConstraints(pattern=r"^(?:https://[!-~]{1,500}|[A-Za-z0-9_][A-Za-z0-9._/-]{0,199})$"),
                     AfterValidator(_no_parent_segments),
                     Field(description="A file in the content folder (relative path) or an https URL.")]


class Payload(BaseModel):
    """Base of every payload model: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeliveryClass(StrEnum):
    """How the outbox treats an event when it is full."""

    CRITICAL = "critical"  # never dropped (consent, erasure, orders)
    TELEMETRY = "telemetry"  # dropped oldest-first when the outbox is full, and counted


class Purpose(StrEnum):
    RECOGNITION = "recognition"
    PERSONAL_OFFERS = "personal-offers"
    ANALYTICS = "analytics"


# --------------------------------------------------------------------------- device status


class StatePayload(Payload):
    state: Literal["online", "offline"] = Field(description="Whether the agent is connected.")
    reason: Literal["connected", "shutdown", "last-will"] = Field(description="Why the state was published.")


class BirthPayload(Payload):
    agent_version: str
    python_version: str
    paho_version: str
    sqlite_version: str
    device_kind: str
    capabilities: list[str] = Field(description="Features this agent offers, e.g. command:ping.")
    config_hash: str = Field(description="Short hash of the effective configuration.")
    started: AwareDatetime = Field(description="When the agent process started.")


class HealthPayload(Payload):
    uptime_s: float = Field(ge=0)
    connected: bool
    outbox_depth: int = Field(ge=0, description="Events waiting for their PUBACK.")
    outbox_critical: int = Field(ge=0, description="Of which never-drop events.")
    outbox_oldest_age_s: float | None = Field(None, ge=0, description="Age of the oldest waiting event.")
    reconnects: int = Field(ge=0, description="Connections made since start, minus the first.")
    dropped_telemetry: int = Field(ge=0, description="Telemetry events dropped because the outbox was full.")
    rejected_messages: int = Field(ge=0, description="Pushed messages and requests rejected since start.")
    broker_rtt_ms: float | None = Field(None, ge=0, description="Last measured publish-to-receive time via the broker.")
    reader_state: Literal["ok", "opening", "failed"] | None = Field(
        None, description="The NFC reader: ok, opening, or failed (retrying); null without a reader.")
    reader_error: str | None = Field(None, description="Why the reader failed last (never a card UID).")
    taps: int | None = Field(None, ge=0, description="Cards tapped since start; null without a reader.")
    camera_state: Literal["opening", "ok", "failed", "stopped"] | None = Field(
        None, description="The camera source; null without a camera.")
    camera_fps: float | None = Field(None, ge=0, description="Frames per second delivered by the camera.")
    camera_dropped_frames: int | None = Field(None, ge=0, description="Stale frames dropped since start.")
    camera_processing_ms: float | None = Field(None, ge=0, description="Mean processing time per frame.")
    camera_error: str | None = Field(None, description="Why the camera failed last (no credentials in it).")


class ProbePayload(Payload):
    nonce: str


# --------------------------------------------------------------------------- upstream events


class ErrorEvent(Payload):
    topic: str = Field(description="Topic of the message that was rejected.")
    message_id: str | None = Field(None, description="Its envelope id, when it had one.")
    reason: str = Field(description="Why it was rejected (never contains the payload).")


class ConsentEvent(Payload):
    customer: CustomerId
    purpose: Purpose
    granted: bool
    until: AwareDatetime | None = Field(None, description="End of the consent when granted.")
    source: Literal["kiosk", "central"]


class ErasureAckEvent(Payload):
    request_id: Transaction
    customer: CustomerId
    erased_records: int = Field(ge=0)


class FootfallEvent(Payload):
    interval_start: AwareDatetime
    interval_s: float = Field(gt=0)
    count: int = Field(ge=0)


ZoneName = Annotated[str, StringConstraints(min_length=1, max_length=40)]
CodeFormat = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,20}$")]


class PresenceState(Payload):
    """Someone in front of the camera (local: wakes the kiosk's attract loop). Anonymous."""

    state: Literal["present", "absent"]
    started: AwareDatetime
    ended: AwareDatetime | None = None
    dwell_s: float | None = Field(None, ge=0)


class PresenceEvent(Payload):
    """One presence in front of the camera, when it ended. Anonymous."""

    started: AwareDatetime
    ended: AwareDatetime
    dwell_s: float = Field(ge=0)


class ScanPayload(Payload):
    """A product's barcode held up to the camera (one per hold)."""

    gtin: Gtin
    format: CodeFormat


class ShelfPayload(Payload):
    """A product lifted from its shelf zone or put back (lift-and-learn)."""

    zone: ZoneName
    gtin: Gtin
    action: Literal["pickup", "putback"]
    out_s: float | None = Field(None, ge=0, description="How long it was out (putback).")


class StockEvent(Payload):
    """A shelf zone that stays empty against its reference, or is filled again."""

    zone: ZoneName
    gtin: Gtin
    state: Literal["out-of-stock", "restocked"]
    out_s: float = Field(ge=0, description="How long the zone has been empty.")


# --------------------------------------------------------------------------- central pushes


class Consent(Payload):
    purpose: Purpose
    until: AwareDatetime


class CustomerOfferState(Payload):
    """How far a customer is with one offer, as central counts it (till, webshop, kiosk activations)."""

    offer: OfferId
    uses: int = Field(0, ge=0, description="Times the customer used the offer; compared with uses_per_customer.")
    activated: bool = Field(False, description="Activated on the customer's account (app, webshop or kiosk).")


def _unique(items: list, key, what: str) -> None:
    """Raise naming the positions (never the values) of the first repeated key."""
    seen: dict = {}
    for index, item in enumerate(items):
        value = key(item)
        if value in seen:
            raise ValueError(f"{what}[{index}] repeats {what}[{seen[value]}]")
        seen[value] = index


class CustomerProfile(Payload):
    customer: CustomerId
    version: int = Field(ge=1, description="Newer versions replace older ones; an older one is rejected.")
    first_name: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    language: Literal["nl", "en", "fr"] = "nl"
    tier: Identifier | None = None
    points: int = Field(0, ge=0)
    price_groups: list[Identifier] = Field(default_factory=list)
    segments: list[Identifier] = Field(default_factory=list)
    favourite_store: Identifier | None = None
    consents: list[Consent] = Field(default_factory=list)
    offers: list[CustomerOfferState] = Field(default_factory=list, max_length=1000,
                                             description="Uses and activations of offers, one entry per offer.")

    @model_validator(mode="after")
    def _one_state_per_offer(self) -> CustomerProfile:
        _unique(self.offers, lambda state: state.offer, "offers")
        return self


class OrderStatus(StrEnum):
    PLACED = "placed"
    READY = "ready"
    COLLECTED = "collected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class PickupPoint(Payload):
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
    name: ShortText
    quantity: int = Field(ge=1)


class OrderPush(Payload):
    order_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,40}$")]
    version: int = Field(ge=1)
    customer: CustomerId
    status: OrderStatus
    pickup: PickupPoint
    ready_since: AwareDatetime | None = None
    deadline: AwareDatetime | None = Field(None, description="Last moment to collect; not before ready_since.")
    items: list[OrderItem] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _dates(self) -> OrderPush:
        if self.ready_since and self.deadline and self.deadline < self.ready_since:
            raise ValueError("deadline is before ready_since")
        return self


class ErasureRequest(Payload):
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
    version: int = Field(ge=1)
    kind: Literal["customer", "staff"]
    customer: CustomerId | None = Field(None, description="For kind customer.")
    staff: StaffId | None = Field(None, description="For kind staff (a badge).")
    active: bool = Field(True, description="False unlinks the card (lost, replaced).")

    @model_validator(mode="after")
    def _subject(self) -> CardLinkPush:
        if (self.kind == "customer") != (self.customer is not None) or (self.kind == "staff") != (self.staff is not None):
            raise ValueError("a customer link names a customer and a staff link a staff member, nothing else")
        return self


# --------------------------------------------------------------------------- catalogue, prices, offers, history
# Batches: one message carries many records of one kind and is applied in one
# transaction, all or nothing. Every record has its own version: a newer one
# replaces the stored record, the same one is skipped, an older one rejects the
# whole message. ``active: false`` removes a record but keeps its version, so a
# late older copy cannot bring it back.


class LocalText(Payload):
    """One text in the store's languages; at least one of them. Shown in the shopper's language,
    else in nl, en, fr order."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "anyOf": [{"required": [language], "properties": {language: {"type": "string"}}}
                  for language in ("nl", "en", "fr")],
    })

    nl: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    en: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    fr: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _some_text(self) -> LocalText:
        if self.nl is None and self.en is None and self.fr is None:
            raise ValueError("a text needs at least one of nl, en, fr")
        return self


class ProductRecord(Payload):
    """A product of the catalogue."""

    gtin: Gtin
    version: int = Field(ge=1)
    active: bool = Field(True, description="False delists the product (its version is kept).")
    name: LocalText
    description: LocalText | None = None
    price_cents: Cents = Field(description="Shelf price in euro cents, above zero.")
    category: Identifier
    images: list[MediaRef] = Field(default_factory=list, max_length=10)
    stock: int | None = Field(None, ge=0, description="Units in this store; null when unknown.")
    shelf: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        None, description="Where it stands, e.g. 'Gang 4, schap B'.")
    video: MediaRef | None = Field(None, description="Related instruction video.")


class CataloguePush(Payload):
    products: list[ProductRecord] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique_products(self) -> CataloguePush:
        _unique(self.products, lambda record: record.gtin, "products")
        return self


class PriceGroupRecord(Payload):
    """A price group (VIP, staff, app users, club members...): its name is the reason shown with its prices."""

    price_group: Identifier
    version: int = Field(ge=1)
    name: LocalText = Field(description="Shown as the reason of the price, e.g. 'Clubprijs'.")


class PriceRecord(Payload):
    """The price of one product for one price group."""

    price_group: Identifier
    gtin: Gtin
    version: int = Field(ge=1)
    active: bool = Field(True, description="False removes the price (its version is kept).")
    price_cents: Cents


class PriceListPush(Payload):
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
        _unique(self.groups, lambda record: record.price_group, "groups")
        _unique(self.prices, lambda record: (record.price_group, record.gtin), "prices")
        return self


class OfferKind(StrEnum):
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
                                        description="Named customers (pseudonymous ids).")

    @model_validator(mode="after")
    def _audience(self) -> Targeting:
        named = self.tiers or self.price_groups or self.segments or self.customers
        if self.everyone and named:
            raise ValueError("an offer for everyone lists no tiers, price groups, segments or customers")
        if not self.everyone and not named:
            raise ValueError("the offer targets nobody: set everyone or list tiers, price groups, segments "
                             "or customers")
        for name in ("tiers", "price_groups", "segments", "customers"):
            _unique(getattr(self, name), lambda value: value, name)
        return self




def _date_only(value: Any) -> Any:
    # pydantic reads "2026-04-01T00:00:00" as a date too; a bound is either a
    # whole day or an instant with its offset, never a local time.
    if isinstance(value, datetime) or (isinstance(value, str) and not _DATE.fullmatch(value)):
        raise ValueError("a date is YYYY-MM-DD; an instant needs its UTC offset")
    return value


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ValidityBound = AwareDatetime | Annotated[date, BeforeValidator(_date_only)]


class OfferRecord(Payload):
    """An offer: what it gives, to whom, on which products, when."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "allOf": [_kind_rule(kind) for kind in OfferKind],
    })

    offer: OfferId
    version: int = Field(ge=1)
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
    uses_per_customer: int | None = Field(None, ge=1, description="How often one customer may use it; null: no limit.")
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
        _unique(self.products, lambda value: value, "products")
        _unique(self.categories, lambda value: value, "categories")
        return self


class OffersPush(Payload):
    offers: list[OfferRecord] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _unique_offers(self) -> OffersPush:
        _unique(self.offers, lambda record: record.offer, "offers")
        return self


class PurchaseRecord(Payload):
    """One line of a customer's purchase, in a shop or the webshop."""

    line: LineId = Field(description="Unique id of the purchase line, e.g. receipt-number/line.")
    version: int = Field(ge=1)
    active: bool = Field(True, description="False withdraws the line (returned, corrected).")
    customer: CustomerId
    gtin: Gtin = Field(description="May be a product this store does not sell.")
    name: ShortText | None = Field(None, description="What to show when the product is not in the catalogue.")
    quantity: int = Field(ge=1, le=100_000)
    at: AwareDatetime
    channel: Literal["shop", "webshop"]


class PurchaseHistoryPush(Payload):
    purchases: list[PurchaseRecord] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique_lines(self) -> PurchaseHistoryPush:
        _unique(self.purchases, lambda record: record.line, "purchases")
        return self


# --------------------------------------------------------------------------- sessions (local, never bridged)


class TapEvent(Payload):
    session: SessionId
    outcome: SessionOutcome
    assurance: Assurance
    customer: CustomerId | None = Field(None, description="Only when recognised (pseudonymous id).")


class CustomerView(Payload):
    """The part of a profile the screen may show at this assurance; absent fields may not be shown."""

    first_name: str | None = None
    language: Literal["nl", "en", "fr"] = "nl"
    tier: str | None = None
    points: int | None = None


class SessionPayload(Payload):
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
    session: SessionId


class WithdrawResult(Payload):
    withdrawn: list[Purpose]
    erased_records: int


class ConsentView(Payload):
    purpose: Purpose
    until: AwareDatetime


class DataUseEntry(Payload):
    at: AwareDatetime
    device: str
    use: str
    categories: list[str]


class MyDataResult(Payload):
    customer: CustomerView | None
    consents: list[ConsentView]
    data_use: list[DataUseEntry]


class EndSessionResult(Payload):
    ended: bool


# --------------------------------------------------------------------------- shopping at the kiosk (local requests)


class Phase(StrEnum):
    """The phases of the Store Sales Cycle, as the kiosk is organised."""

    REACH = "reach"
    UNDERSTAND = "understand"
    INSPIRE = "inspire"
    INFORM = "inform"
    CONVERT = "convert"
    AFTER_CARE = "after-care"
    CONTINUE = "continue"


class ProductRequest(Payload):
    session: SessionId | None = Field(None, description="The current session, for the customer's own price; "
                                                        "none: the anonymous price.")
    gtin: Gtin
    language: Language | None = Field(None, description="Language of the texts; default the customer's, else nl.")


class OffersRequest(Payload):
    session: SessionId | None = Field(None, description="The current session; none: offers for everyone.")
    language: Language | None = None
    limit: int = Field(50, ge=1, le=200, description="At most this many deals, biggest saving first.")


class ActivateOfferRequest(Payload):
    session: SessionId
    offer: OfferId


class PromoCodeRequest(Payload):
    session: SessionId | None = None
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,32}$")] = Field(
        description="As typed; compared in upper case.")
    language: Language | None = None


class FeedbackRequest(Payload):
    session: SessionId | None = None
    score: int = Field(ge=1, le=5)
    reason: Identifier | None = Field(None, description="One of the kiosk's fixed reasons, e.g. waiting-time.")
    phase: Phase


class StaffAssistRequest(Payload):
    session: SessionId | None = None
    phase: Phase | None = None
    topic: Identifier | None = Field(None, description="What help is wanted, e.g. product-advice.")


class EnrolRequest(Payload):
    session: SessionId
    language: Language = Field("nl", description="Language the shopper used at the kiosk.")


class ProductView(Payload):
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
    price_cents: int = Field(ge=0)
    shelf_price_cents: int
    saving_cents: int = Field(ge=0)
    source: Literal["shelf", "price-list", "offer"]
    reason: str | None = Field(None, description="Why this price, e.g. 'Goud-prijs'; null for the shelf price.")
    offer: str | None = None
    price_group: str | None = None


class OfferView(Payload):
    offer: str
    version: int
    kind: OfferKind
    title: str
    description: str | None = None
    valid_until: AwareDatetime = Field(description="End of the offer (exclusive).")
    personal: bool = Field(description="Targeted at this customer rather than everyone.")
    applies: bool = Field(description="It applies now (activated if it needs activation, code entered if it needs one).")
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
    product: ProductView
    price: PriceView
    offers: list[OfferView] = Field(description="Offers for this product and this shopper.")
    personal: bool = Field(description="The customer's own data (targeting, price groups) was used.")


class Deal(Payload):
    gtin: str
    name: str
    shelf_price_cents: int
    price_cents: int
    reason: str | None
    offer: str | None = None
    price_group: str | None = None


class OffersResult(Payload):
    offers: list[OfferView]
    deals: list[Deal] = Field(description="Products below their shelf price for this shopper, biggest saving first.")
    more_deals: int = Field(ge=0, description="Deals left out by the limit.")
    personal: bool


class LoyaltyView(Payload):
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
    order_id: str
    status: OrderStatus
    pickup: PickupPoint
    ready_since: AwareDatetime | None = None
    deadline: AwareDatetime | None = None
    items: list[OrderItem] = Field(default_factory=list)


class PurchaseView(Payload):
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
    offer: str
    new: bool = Field(description="False when it had been activated already (no new event).")


PromoCodeOutcome = Literal["valid", "unknown-code", "not-yet-valid", "expired", "not-for-this-customer", "used-up",
                           "needs-activation"]


class PromoCodeResult(Payload):
    valid: bool
    outcome: PromoCodeOutcome
    offer: OfferView | None = None


class QueuedResult(Payload):
    event: MessageId = Field(description="Id of the event queued upstream.")


# --------------------------------------------------------------------------- shopping events (upstream)


class OfferActivationEvent(Payload):
    session: SessionId
    customer: CustomerId
    offer: OfferId
    offer_version: int = Field(ge=1)


class PromoCodeEvent(Payload):
    session: SessionId | None = None
    customer: CustomerId | None = Field(None, description="When recognised with the personal-offers consent.")
    offer: OfferId | None = Field(None, description="The offer of the code; null for an unknown code (the typed "
                                                    "text is never sent).")
    outcome: PromoCodeOutcome


class FeedbackEvent(Payload):
    """Anonymous by design: no customer id, no free text."""

    session: SessionId | None = None
    score: int = Field(ge=1, le=5)
    reason: Identifier | None = None
    phase: Phase


class StaffAssistEvent(Payload):
    session: SessionId | None = None
    phase: Phase | None = None
    topic: Identifier | None = None


class EnrolmentEvent(Payload):
    """A shopper with an unknown card (or one without recognition consent) asks to join:
    the card's token lets central link it."""

    session: SessionId
    card: CardToken
    outcome: Literal["unknown-card", "anonymous"]
    assurance: Assurance
    language: Language = "nl"


# --------------------------------------------------------------------------- commands


class EmptyRequest(Payload):
    pass


class SetLogLevelRequest(Payload):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    logger: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")] | None = Field(
        None, description="Logger name; the root logger when absent.")


class PingResult(Payload):
    pong: Literal[True] = True
    uptime_s: float


class GetConfigResult(Payload):
    config: dict[str, Any]
    config_hash: str


class SetLogLevelResult(Payload):
    logger: str
    level: str


# --------------------------------------------------------------------------- the envelope


class Envelope(BaseModel):
    """Metadata around every payload."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: MessageId = Field(description="Unique per message (UUIDv7); consumers de-duplicate by it.")
    ts: AwareDatetime = Field(description="When the message was created, RFC 3339.")
    schema_: str = Field(alias="schema", description="Payload schema as name/major.")
    transaction: Transaction | None = Field(None, description="Correlates a request with its response.")
    data: dict[str, Any]


class ResponseEnvelope(BaseModel):
    """A command's answer: ``{status, data, error, transaction}`` with the usual metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: MessageId
    ts: AwareDatetime
    schema_: str = Field(alias="schema")
    transaction: Transaction | None = Field(description="The request's transaction, null when it had none.")
    status: Literal["ok", "error"]
    data: dict[str, Any] | None = None
    error: str | None = None


# --------------------------------------------------------------------------- the catalogue of messages

Direction = Literal["publish", "receive"]  # from the agent's point of view


@dataclass(frozen=True)
class Message:
    """One kind of message: where it goes, what it carries and how it is delivered."""

    name: str
    version: int
    model: type[BaseModel]
    topic: str  # template with {store}, {device} and maybe {name}
    direction: Direction
    summary: str
    qos: int = 1
    retained: bool = False
    personal: bool = False  # carries personal data: never retained; what the agent publishes stays local
    delivery: DeliveryClass | None = None  # for outbox events
    bridged: bool = True
    example: dict[str, Any] = field(default_factory=dict)
    response: type[BaseModel] | None = None  # for commands: model of the ok data

    def __post_init__(self) -> None:
        if self.personal and self.retained:
            raise ValueError(f"{self.name}: personal data is never retained")
        if self.personal and self.direction == "publish" and self.bridged:
            raise ValueError(f"{self.name}: personal data the agent publishes is never bridged")

    @property
    def schema_id(self) -> str:
        return f"{self.name}/{self.version}"

    def topic_for(self, store: str, device: str = "") -> str:
        return self.topic.format(store=store, device=device)


DEVICE = ROOT + "/{store}/{device}"
_EX_TS = "2026-04-01T09:30:00.000Z"
_EX_CUSTOMER = "c-5f2b8c0e6d1a4f3b9c7e2a1d0b3c4e5f"
_EX_SESSION_ID = "01a20735-b502-769a-a830-637530718552"
_EX_GTIN = "8712345000028"

STATE = Message("state", 1, StatePayload, DEVICE + "/state", "publish",
                "Retained online/offline; the offline one is the last will.", retained=True,
                example={"state": "online", "reason": "connected"})
BIRTH = Message("birth", 1, BirthPayload, DEVICE + "/birth", "publish",
                "Retained on every connect: versions, capabilities and configuration hash.", retained=True,
                example={"agent_version": "0.1.0", "python_version": "3.11.7", "paho_version": "2.1.0",
                         "sqlite_version": "3.40.1", "device_kind": "kiosk",
                         "capabilities": ["outbox", "command:ping"], "config_hash": "a1b2c3d4e5f60718",
                         "started": _EX_TS})
HEALTH = Message("health", 1, HealthPayload, DEVICE + "/health", "publish",
                 "Periodic health of the agent.", qos=0,
                 example={"uptime_s": 120.5, "connected": True, "outbox_depth": 0, "outbox_critical": 0,
                          "outbox_oldest_age_s": None, "reconnects": 0, "dropped_telemetry": 0,
                          "rejected_messages": 0, "broker_rtt_ms": 0.8})
PROBE = Message("probe", 1, ProbePayload, DEVICE + "/probe", "publish",
                "The agent's own message to time a trip through the broker; it subscribes to it too.",
                qos=0, bridged=False, example={"nonce": "0193f1c2"})

EVENTS: dict[str, Message] = {
    message.name.removeprefix("event-"): message
    for message in (
        Message("event-error", 1, ErrorEvent, DEVICE + "/event/error", "publish",
                "A pushed message or request was rejected.", delivery=DeliveryClass.TELEMETRY,
                example={"topic": "cs/v1/central/store-1/order", "message_id": None,
                         "reason": "data.status: Input should be 'placed', 'ready', ..."}),
        Message("event-consent", 1, ConsentEvent, DEVICE + "/event/consent", "publish",
                "A customer gave or withdrew consent at this device.", delivery=DeliveryClass.CRITICAL,
                example={"customer": _EX_CUSTOMER, "purpose": "recognition", "granted": False,
                         "until": None, "source": "kiosk"}),
        Message("event-erasure-ack", 1, ErasureAckEvent, DEVICE + "/event/erasure-ack", "publish",
                "An erasure request was applied locally.", delivery=DeliveryClass.CRITICAL,
                example={"request_id": "er-2026-0001", "customer": _EX_CUSTOMER, "erased_records": 3}),
        Message("event-tap", 1, TapEvent, DEVICE + "/event/tap", "publish",
                "A card was tapped: the session outcome, pseudonymously.", delivery=DeliveryClass.TELEMETRY,
                example={"session": "01a20735-b502-769a-a830-637530718552", "outcome": "recognised",
                         "assurance": "sun", "customer": _EX_CUSTOMER}),
        Message("event-presence", 1, PresenceEvent, DEVICE + "/event/presence", "publish",
                "Someone stood in front of the camera for a while (anonymous).",
                delivery=DeliveryClass.TELEMETRY,
                example={"started": _EX_TS, "ended": "2026-04-01T09:30:42.500Z", "dwell_s": 42.5}),
        Message("event-scan", 1, ScanPayload, DEVICE + "/event/scan", "publish",
                "A product's barcode was read by the camera.", delivery=DeliveryClass.TELEMETRY,
                example={"gtin": "08712345678906", "format": "ean-13"}),
        Message("event-shelf", 1, ShelfPayload, DEVICE + "/event/shelf", "publish",
                "A product was lifted from its shelf zone or put back.", delivery=DeliveryClass.TELEMETRY,
                example={"zone": "gazonmest-10kg", "gtin": "08712345678906", "action": "putback", "out_s": 12.0}),
        Message("event-stock", 1, StockEvent, DEVICE + "/event/stock", "publish",
                "A shelf zone ran empty or was filled again (for staff).", delivery=DeliveryClass.CRITICAL,
                example={"zone": "gazonmest-10kg", "gtin": "08712345678906", "state": "out-of-stock",
                         "out_s": 30.0}),
        Message("event-footfall", 1, FootfallEvent, DEVICE + "/event/footfall", "publish",
                "Anonymous count of people seen in an interval.", delivery=DeliveryClass.TELEMETRY,
                example={"interval_start": _EX_TS, "interval_s": 60.0, "count": 4}),
        Message("event-offer-activation", 1, OfferActivationEvent, DEVICE + "/event/offer-activation", "publish",
                "A customer activated an offer on their account at the kiosk.", delivery=DeliveryClass.CRITICAL,
                example={"session": _EX_SESSION_ID, "customer": _EX_CUSTOMER, "offer": "voorjaar-2026",
                         "offer_version": 3}),
        Message("event-promo-code", 1, PromoCodeEvent, DEVICE + "/event/promo-code", "publish",
                "A promo code was checked at the kiosk, and what came of it.", delivery=DeliveryClass.CRITICAL,
                example={"session": _EX_SESSION_ID, "customer": _EX_CUSTOMER, "offer": "lente-code",
                         "outcome": "valid"}),
        Message("event-feedback", 1, FeedbackEvent, DEVICE + "/event/feedback", "publish",
                "A shopper's score for a phase of the visit (anonymous).", delivery=DeliveryClass.CRITICAL,
                example={"session": None, "score": 4, "reason": "product-info", "phase": "inform"}),
        Message("event-staff-assist", 1, StaffAssistEvent, DEVICE + "/event/staff-assist", "publish",
                "A shopper asks for a member of staff at this device.", delivery=DeliveryClass.CRITICAL,
                example={"session": _EX_SESSION_ID, "phase": "inform", "topic": "product-advice"}),
        Message("event-enrolment", 1, EnrolmentEvent, DEVICE + "/event/enrolment", "publish",
                "A shopper asks to join with a card the store does not know (or without recognition consent).",
                delivery=DeliveryClass.CRITICAL,
                example={"session": _EX_SESSION_ID, "card": "k-" + "3f" * 32, "outcome": "unknown-card",
                         "assurance": "sun", "language": "nl"}),
    )
}

CENTRAL_TOPIC = ROOT + "/" + CENTRAL + "/{store}/"
PUSHES: dict[str, Message] = {
    message.name: message
    for message in (
        Message("customer", 1, CustomerProfile, CENTRAL_TOPIC + "customer", "receive",
                "A customer profile (pseudonymous id); newer versions replace older.", personal=True,
                example={"customer": _EX_CUSTOMER, "version": 3, "first_name": "Sanne", "language": "nl",
                         "tier": "goud", "points": 5120, "price_groups": ["club"], "segments": ["tuin"],
                         "favourite_store": "store-1",
                         "consents": [{"purpose": "recognition", "until": "2027-04-01T00:00:00Z"}]}),
        Message("order", 1, OrderPush, CENTRAL_TOPIC + "order", "receive",
                "Status of a pick-up order.", personal=True,
                example={"order_id": "WEB-100234", "version": 2, "customer": _EX_CUSTOMER, "status": "ready",
                         "pickup": {"kind": "locker", "locker": "4"}, "ready_since": _EX_TS,
                         "deadline": "2026-04-08T18:00:00Z",
                         "items": [{"name": "Gazonmest 10 kg", "quantity": 1}]}),
        Message("card-link", 1, CardLinkPush, CENTRAL_TOPIC + "card-link", "receive",
                "Links a card token to a customer or a staff member (or unlinks it).",
                example={"card": "k-" + "3f" * 32, "version": 1, "kind": "customer", "customer": _EX_CUSTOMER,
                         "staff": None, "active": True}),
        Message("erasure", 1, ErasureRequest, CENTRAL_TOPIC + "erasure", "receive",
                "Erase everything the store keeps about a customer; acknowledged with event/erasure-ack.",
                example={"request_id": "er-2026-0001", "customer": _EX_CUSTOMER}),
        Message("catalogue", 1, CataloguePush, CENTRAL_TOPIC + "catalogue", "receive",
                "Products of the catalogue, many per message; each record versioned on its own.",
                example={"products": [{"gtin": _EX_GTIN, "version": 7, "name": {"nl": "Gazonmest 10 kg",
                                                                                 "en": "Lawn fertiliser 10 kg"},
                                       "description": {"nl": "Voor 200 m² gazon, 100 dagen werking."},
                                       "price_cents": 2199, "category": "gazonmest",
                                       "images": ["products/gazonmest-10kg.jpg"], "stock": 14,
                                       "shelf": "Gang 3, schap A", "video": "videos/gazon-bemesten.mp4"}]}),
        Message("price-list", 1, PriceListPush, CENTRAL_TOPIC + "price-list", "receive",
                "Price groups (their names) and their prices per product, many per message.",
                example={"groups": [{"price_group": "club", "version": 1,
                                     "name": {"nl": "Clubprijs", "en": "Club price", "fr": "Prix club"}}],
                         "prices": [{"price_group": "club", "gtin": _EX_GTIN, "version": 4,
                                     "price_cents": 1899}]}),
        Message("offers", 1, OffersPush, CENTRAL_TOPIC + "offers", "receive",
                "Offers: kind, targeting, products or categories, validity, priority, uses per customer.",
                personal=True,
                example={"offers": [{"offer": "voorjaar-2026", "version": 3, "kind": "percentage-off",
                                     "title": {"nl": "Voorjaarsactie −10%", "en": "Spring sale −10%"},
                                     "targeting": {"everyone": True}, "categories": ["gazonmest"],
                                     "valid_from": "2026-03-20", "valid_until": "2026-04-30",
                                     "priority": 10, "percent": 10}]}),
        Message("purchase-history", 1, PurchaseHistoryPush, CENTRAL_TOPIC + "purchase-history", "receive",
                "Purchase lines of customers across shops and the webshop, many per message.", personal=True,
                example={"purchases": [{"line": "R-2026-0412/1", "version": 1, "customer": _EX_CUSTOMER,
                                        "gtin": _EX_GTIN, "quantity": 1, "at": "2026-03-14T10:12:00Z",
                                        "channel": "webshop"}]}),
    )
}

LOCAL = DEVICE + "/local"
SESSION = Message("session", 1, SessionPayload, LOCAL + "/session", "publish",
                  "The kiosk's session: who tapped and what may be shown. Personal: never retained, never bridged.",
                  personal=True, bridged=False,
                  example={"session": "01a20735-b502-769a-a830-637530718552", "state": "started",
                           "outcome": "recognised", "assurance": "sun",
                           "may_show": ["first_name", "tier", "points"], "invite_to_enrol": False,
                           "customer": {"first_name": "Sanne", "language": "nl", "tier": "goud", "points": 5120},
                           "staff": None, "reason": None})
PRESENCE = Message("presence", 1, PresenceState, LOCAL + "/presence", "publish",
                   "Whether someone is in front of the camera; wakes the kiosk. Anonymous, local.",
                   retained=True, bridged=False,
                   example={"state": "present", "started": _EX_TS, "ended": None, "dwell_s": None})
SCAN = Message("scan", 1, ScanPayload, LOCAL + "/scan", "publish",
               "A product held up to the camera: the kiosk shows it.", bridged=False,
               example={"gtin": "08712345678906", "format": "ean-13"})
SHELF = Message("shelf", 1, ShelfPayload, LOCAL + "/shelf", "publish",
                "A product lifted from the shelf: the kiosk shows it (lift-and-learn).", bridged=False,
                example={"zone": "gazonmest-10kg", "gtin": "08712345678906", "action": "pickup", "out_s": None})
_EX_SESSION = {"session": _EX_SESSION_ID}


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


# Only `edge-agent demo` subscribes to this (it plays the emulated cards and the demo video); the
# agent itself never does. Local, never retained, never bridged.
DEMO_CONTROL = Message("demo-control", 1, DemoControlPayload, LOCAL + "/demo", "receive",
                       "Demo only: the kiosk's demo buttons and keys; `edge-agent demo` taps an emulated card "
                       "or plays the product clip. The agent does not subscribe.", qos=0, bridged=False,
                       example={"action": "tap", "card": "gold"})

COMMANDS: dict[str, Message] = {
    message.name.removeprefix("request-"): message
    for message in (
        Message("request-ping", 1, EmptyRequest, DEVICE + "/request/ping", "receive",
                "Liveness check.", response=PingResult, bridged=True, example={}),
        Message("request-get-config", 1, EmptyRequest, DEVICE + "/request/get-config", "receive",
                "The effective configuration (holds no secrets).", response=GetConfigResult, example={}),
        Message("request-set-log-level", 1, SetLogLevelRequest, DEVICE + "/request/set-log-level", "receive",
                "Change a log level at run time.", response=SetLogLevelResult,
                example={"level": "DEBUG", "logger": "edge_agent.link"}),
        Message("request-withdraw-consent", 1, SessionRequest, LOCAL + "/request/withdraw-consent", "receive",
                "The customer of this session withdraws every consent: local data is erased at once.",
                response=WithdrawResult, personal=True, bridged=False, example=_EX_SESSION),
        Message("request-my-data", 1, SessionRequest, LOCAL + "/request/my-data", "receive",
                "What the store knows about the customer of this session, consents and data-use log.",
                response=MyDataResult, personal=True, bridged=False, example=_EX_SESSION),
        Message("request-end-session", 1, SessionRequest, LOCAL + "/request/end-session", "receive",
                "The kiosk ends a session (Klaar, idle).", response=EndSessionResult, personal=True,
                bridged=False, example=_EX_SESSION),
        Message("request-product", 1, ProductRequest, LOCAL + "/request/product", "receive",
                "One product with the shopper's best price and why, and the offers for it.",
                response=ProductResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "gtin": _EX_GTIN, "language": "nl"}),
        Message("request-offers", 1, OffersRequest, LOCAL + "/request/offers", "receive",
                "The shopper's offers and the products they pay less for.", response=OffersResult,
                personal=True, bridged=False, example={"session": _EX_SESSION_ID, "language": "nl", "limit": 20}),
        Message("request-account", 1, SessionRequest, LOCAL + "/request/account", "receive",
                "Points and progress to the next tier, pick-up orders, recent purchases (as far as the "
                "screen may show them).", response=AccountResult, personal=True, bridged=False,
                example=_EX_SESSION),
        Message("request-activate-offer", 1, ActivateOfferRequest, LOCAL + "/request/activate-offer", "receive",
                "Activate an offer on the customer's account; sent upstream as event/offer-activation.",
                response=ActivateOfferResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "offer": "voorjaar-2026"}),
        Message("request-check-promo-code", 1, PromoCodeRequest, LOCAL + "/request/check-promo-code", "receive",
                "Check a promo code for this shopper; a valid one applies for the rest of the session.",
                response=PromoCodeResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "code": "lente26", "language": "nl"}),
        Message("request-feedback", 1, FeedbackRequest, LOCAL + "/request/feedback", "receive",
                "A score for a phase of the visit; sent upstream, anonymously, as event/feedback.",
                response=QueuedResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "score": 4, "reason": "product-info", "phase": "inform"}),
        Message("request-staff-assist", 1, StaffAssistRequest, LOCAL + "/request/staff-assist", "receive",
                "Call a member of staff to this device; sent as event/staff-assist.", response=QueuedResult,
                personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "phase": "inform", "topic": "product-advice"}),
        Message("request-enrol", 1, EnrolRequest, LOCAL + "/request/enrol", "receive",
                "The shopper of an unknown card asks to join; sent as event/enrolment with the card's token.",
                response=QueuedResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "language": "nl"}),
    )
}


def response_message(command: str) -> Message:
    """The response channel of ``command``."""
    request = COMMANDS[command]
    return Message(f"response-{command}", request.version, ResponseEnvelope,
                   request.topic.replace("/request/", "/response/"), "publish", f"Answer to request/{command}.",
                   personal=request.personal, bridged=request.bridged)


RESPONSES: dict[str, Message] = {name: response_message(name) for name in COMMANDS}

ALL_MESSAGES: list[Message] = [STATE, BIRTH, HEALTH, PROBE, SESSION, PRESENCE, SCAN, SHELF, *EVENTS.values(), *PUSHES.values(),
                               *COMMANDS.values(), *RESPONSES.values(), DEMO_CONTROL]


# --------------------------------------------------------------------------- encoding and decoding


_id_lock = threading.Lock()
_id_state = [0, 0]  # last millisecond, counter within it


def new_id() -> str:
    """A new message id: a UUIDv7 (RFC 9562), so ids sort by creation time.

    Method 1 of RFC 9562: a 12-bit counter in ``rand_a`` keeps ids of one
    process strictly increasing, for up to 4096 ids per millisecond before the
    timestamp is borrowed from the next one (uuid6's uuid7() borrows a
    millisecond per id, which pushed ids seconds ahead of the clock when an
    outbox backlog was filled).
    """
    with _id_lock:
        millisecond = time.time_ns() // 1_000_000
        if millisecond > _id_state[0]:
            _id_state[0], _id_state[1] = millisecond, secrets.randbits(11)
        else:
            _id_state[1] += 1
            if _id_state[1] > 0xFFF:
                _id_state[0], _id_state[1] = _id_state[0] + 1, 0
        millisecond, counter = _id_state
    value = (millisecond << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | secrets.randbits(62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_ts_second: list = [None, ""]  # the last whole second and its formatted prefix


def now_ts() -> str:
    """The current time as RFC 3339 UTC with milliseconds, e.g. ``2026-04-01T09:30:00.123Z``."""
    now = time.time()
    second = int(now)
    cached = _ts_second
    if cached[0] != second:
        cached[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        cached[0] = second
    return f"{cached[1]}.{int((now - second) * 1000):03d}Z"


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def encode(message: Message, data: BaseModel | dict[str, Any], *, transaction: str | None = None,
           message_id: str | None = None) -> tuple[str, bytes]:
    """The envelope of ``data`` as JSON bytes, with its id.

    ``data`` is validated against the message's model first.

    :raises ContractError: when ``data`` does not fit the model.
    """
    payload = _validated(message, data).model_dump_json()
    message_id = message_id or new_id()
    # Assembled as text: every piece but the transaction is known to need no
    # escaping, and this is on the path of every event (see bench/).
    head = f'{{"id":"{message_id}","ts":"{now_ts()}","schema":"{message.schema_id}"'
    if transaction is not None:
        head += ',"transaction":' + json.dumps(transaction, ensure_ascii=False)
    return message_id, f'{head},"data":{payload}}}'.encode()


def encode_response(command: str, transaction: str | None, *, result: BaseModel | None = None,
                    error: str | None = None) -> bytes:
    """A command's response envelope: ok with ``result``, or error with ``error``."""
    document = {"id": new_id(), "ts": now_ts(), "schema": RESPONSES[command].schema_id,
                "transaction": transaction, "status": "error" if error else "ok",
                "data": result.model_dump(mode="json") if result is not None else None,
                "error": error}
    return _dumps(document)


def _validated(message: Message, data: BaseModel | dict[str, Any]) -> BaseModel:
    if isinstance(data, message.model):
        return data
    raw = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    try:
        return message.model.model_validate(raw)
    except ValidationError as exc:
        raise ContractError(f"{message.schema_id}: {describe_validation(exc)}") from None


def describe_validation(exc: ValidationError, prefix: str = "") -> str:
    """One line naming each failing field, without echoing the offending values."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:5]:
        location = list(error["loc"])
        if error["type"] == "extra_forbidden" and location:
            location[-1] = "<unknown key>"  # the key is the sender's text: never echo it
        where = ".".join(str(part) for part in location) or "(root)"
        parts.append(f"{prefix}{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


@dataclass(frozen=True)
class Decoded:
    envelope: Envelope
    payload: BaseModel


def parse_envelope(raw: bytes) -> Envelope:
    """Parse the envelope of a received message.

    :raises ContractError: with a reason that never echoes payload contents.
    """
    if len(raw) > 256 * 1024:
        raise ContractError(f"payload too large ({len(raw)} bytes, at most 262144)")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"not JSON: {exc.__class__.__name__} at position {getattr(exc, 'pos', '?')}") from None
    except RecursionError:
        raise ContractError("not JSON: nested too deeply") from None
    except ValueError:  # e.g. an integer beyond Python's 4300-digit conversion limit
        raise ContractError("not JSON: a number is too long") from None
    if not isinstance(document, dict):
        raise ContractError(f"envelope must be a JSON object, got {type(document).__name__}")
    try:
        return Envelope.model_validate(document)
    except ValidationError as exc:
        raise ContractError(f"bad envelope: {describe_validation(exc)}") from None


def decode(message: Message, raw: bytes) -> Decoded:
    """Parse and validate a received message against ``message``'s schema.

    :raises ContractError: when the envelope, schema id or payload is wrong.
    """
    envelope = parse_envelope(raw)
    if envelope.schema_ != message.schema_id:
        shown = repr(envelope.schema_) if SCHEMA_ID.fullmatch(envelope.schema_) else "(malformed)"
        raise ContractError(f"schema {shown} is not {message.schema_id!r}")
    try:
        payload = message.model.model_validate(envelope.data)
    except ValidationError as exc:
        raise ContractError(describe_validation(exc, "data.")) from None
    return Decoded(envelope, payload)


class Topics:
    """The concrete topics of one device in one store."""

    def __init__(self, store: str, device: str):
        self.store = store
        self.device = device
        self.device_root = DEVICE.format(store=store, device=device)
        self.central_root = CENTRAL_TOPIC.format(store=store)
        self.state = STATE.topic_for(store, device)
        self.birth = BIRTH.topic_for(store, device)
        self.health = HEALTH.topic_for(store, device)
        self.probe = PROBE.topic_for(store, device)
        self.session = SESSION.topic_for(store, device)
        self.presence = PRESENCE.topic_for(store, device)
        self.scan = SCAN.topic_for(store, device)
        self.shelf = SHELF.topic_for(store, device)
        self.demo = DEMO_CONTROL.topic_for(store, device)

    def event(self, name: str) -> str:
        return EVENTS[name].topic_for(self.store, self.device)

    def response(self, command: str) -> str:
        return RESPONSES[command].topic_for(self.store, self.device)

    def subscriptions(self) -> list[tuple[str, int]]:
        """What the agent subscribes to, with QoS."""
        return [(self.central_root + "#", 1), (self.device_root + "/request/+", 1),
                (self.device_root + "/local/request/+", 1), (self.probe, 0)]

    def classify(self, topic: str) -> tuple[str, Message | None]:
        """What a received topic is: ``("push", msg)``, ``("command", msg)``, ``("probe", None)``
        or ``("unknown", None)``."""
        if topic == self.probe:
            return "probe", PROBE
        if topic.startswith(self.central_root):
            return "push", PUSHES.get(topic[len(self.central_root):])
        for prefix in (self.device_root + "/request/", self.device_root + "/local/request/"):
            if topic.startswith(prefix):
                command = COMMANDS.get(topic[len(prefix):])
                if command is not None and command.topic_for(self.store, self.device) != topic:
                    command = None  # a local command on the bridged path, or the reverse
                return "command", command
        return "unknown", None


SCHEMA_ID = re.compile(r"[a-z0-9-]{1,40}/[0-9]{1,4}")
TOPIC_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def json_schema(message: Message) -> dict[str, Any]:
    """The JSON Schema of a whole message (envelope with its payload) as sent on the wire."""
    if message.model is ResponseEnvelope:
        schema = ResponseEnvelope.model_json_schema(by_alias=True)
        result = COMMANDS[message.name.removeprefix("response-")].response
        if result is not None:
            result_schema = result.model_json_schema()
            schema.setdefault("$defs", {}).update(result_schema.pop("$defs", {}))
            schema["properties"]["data"] = {"anyOf": [result_schema, {"type": "null"}]}
        schema["properties"]["schema"] = {"const": message.schema_id, "type": "string"}
        schema["if"] = {"properties": {"status": {"const": "error"}}}
        schema["then"] = {"properties": {"error": {"type": "string"}, "data": {"type": "null"}},
                          "required": ["error"]}
        schema["else"] = {"properties": {"error": {"type": "null"}}}
        return schema
    payload_schema = message.model.model_json_schema()
    defs = payload_schema.pop("$defs", {})
    schema = Envelope.model_json_schema(by_alias=True)
    schema["properties"]["schema"] = {"const": message.schema_id, "type": "string"}
    schema["properties"]["data"] = payload_schema
    if message.direction == "receive" and message.response is not None:
        schema["required"] = sorted(set(schema.get("required", [])) | {"transaction"})
        schema["properties"]["transaction"] = {"type": "string", "minLength": 1, "maxLength": 128,
                                               "description": "Echoed in the response."}
    if defs:
        schema["$defs"] = defs
    return schema
