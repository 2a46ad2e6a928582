"""The message catalogue: every topic and every kind of message, with its delivery and an example.

Topics live under one versioned root::

    cs/v1/{store}/{device}/state              retained online/offline, last will
    cs/v1/{store}/{device}/birth              retained versions, capabilities, config hash
    cs/v1/{store}/{device}/health             periodic health
    cs/v1/{store}/{device}/probe              the agent's own round-trip probe (local)
    cs/v1/{store}/{device}/event/{name}       upstream events, at-least-once via the outbox
    cs/v1/{store}/{device}/request/{command}  commands to the device
    cs/v1/{store}/{device}/response/{command} their answers
    cs/v1/{store}/{device}/local/...          the kiosk's session, presence, scans, requests (never bridged)
    cs/v1/central/{store}/{kind}              what central systems push to the store

This module is the only place that spells a topic (a test forbids it
anywhere else): code asks :class:`Topics` or :meth:`Message.topic_for`. A
message for another store is on another store's topic: the agent neither
subscribes to it nor accepts it (:meth:`Topics.classify`), so payloads carry
no store id of their own.

Each :class:`Message` declares its payload model, its example and, for a
command, its result model with an example of the result: the AsyncAPI
document (:mod:`.asyncapi`) is built from them and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from .envelope import ResponseEnvelope
from .payloads_analytics import AnalyticsEvent, PlayReport, ReportResult, ScreenReport
from .payloads_assist import (
    CallAnswerRequest,
    CallAnswerResult,
    CallShareRequest,
    CallShareResult,
    ClientelingCall,
    ClientelingViewed,
    ClientelingViewedResult,
)
from .payloads_camera import FootfallEvent, PresenceEvent, PresenceState, ScanPayload, ShelfPayload, StockEvent
from .payloads_central import (
    CardLinkPush,
    CataloguePush,
    CustomerProfile,
    ErasureRequest,
    OffersPush,
    OrderPush,
    PriceListPush,
    PurchaseHistoryPush,
)
from .payloads_console import ConsoleContentControlRequest, ConsolePreviewRequest
from .payloads_console_code import ConsoleCodeOffer, ConsoleCodeResult
from .payloads_content_control import (
    ContentControlRequest,
    ContentControlResult,
    ContentSchedulePayload,
    PreviewPacksRequest,
    PreviewPacksResult,
    PreviewRequest,
    PreviewResult,
)
from .payloads_content_delivery import (
    ContentActivePayload,
    ContentApproveRequest,
    ContentApproveResult,
    ContentLoadedRequest,
    ContentLoadedResult,
    ContentPackManifest,
    ContentStatusEvent,
)
from .payloads_device import (
    BirthPayload,
    EmptyRequest,
    GetConfigResult,
    HealthPayload,
    PingResult,
    ProbePayload,
    SetLogLevelRequest,
    SetLogLevelResult,
    StatePayload,
)
from .payloads_device_checks import (
    ChecksRequest,
    DeviceChecksReport,
    DeviceTestEvent,
    DeviceTestResult,
    ReaderTestState,
    RestartKioskResult,
)
from .payloads_events import (
    CardRelinkEvent,
    ConsentEvent,
    EnrolmentEvent,
    ErasureAckEvent,
    ErrorEvent,
    FeedbackEvent,
    OfferActivationEvent,
    PromoCodeEvent,
    StaffAssistEvent,
    TapEvent,
)
from .payloads_kiosk import (
    AccountResult,
    ActivateOfferRequest,
    ActivateOfferResult,
    DemoControlPayload,
    EndSessionResult,
    EnrolRequest,
    FeedbackRequest,
    MyDataResult,
    OffersRequest,
    OffersResult,
    ProductRequest,
    ProductResult,
    PromoCodeRequest,
    PromoCodeResult,
    QueuedResult,
    SessionPayload,
    SessionRequest,
    StaffAssistRequest,
    TouchResult,
    WithdrawResult,
)
from .payloads_staff import (
    StaffAuditEvent,
    StaffAuditResult,
    StaffCallRequest,
    StaffCallsResult,
    StaffCallState,
    StaffModeView,
    StaffPinRequest,
    StaffPush,
)
from .types import DeliveryClass

ROOT = "cs/v1"
CENTRAL = "central"
EVERYTHING = ROOT + "/#"  # subscription filter for monitors and tools
DEVICE = ROOT + "/{store}/{device}"
LOCAL = DEVICE + "/local"
CENTRAL_TOPIC = ROOT + "/" + CENTRAL + "/{store}/"
TOPIC_PLACEHOLDER = re.compile(r"\{(\w+)\}")

Direction = Literal["publish", "receive"]  # from the agent's point of view


@dataclass(frozen=True)
class Message:
    """One kind of message: where it goes, what it carries and how it is delivered.

    ``example`` is a payload that fits ``model``; a command (a message with a
    ``response`` model) also declares ``result_example``, the ``data`` of its
    ok response. Both are what the AsyncAPI document shows, so the examples
    live beside the models they illustrate.

    :raises ValueError: when personal data would be retained or bridged, or a
        command's result model comes without its example (or the reverse).
    """

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
    result_example: dict[str, Any] | None = None  # for commands: the ok data, an instance of ``response``

    def __post_init__(self) -> None:
        if self.personal and self.retained:
            raise ValueError(f"{self.name}: personal data is never retained")
        if self.personal and self.direction == "publish" and self.bridged:
            raise ValueError(f"{self.name}: personal data the agent publishes is never bridged")
        if (self.response is None) != (self.result_example is None):
            raise ValueError(f"{self.name}: a command declares its result model and an example of it, "
                             "anything else neither")

    @property
    def schema_id(self) -> str:
        """The envelope's ``schema``: ``name/major``."""
        return f"{self.name}/{self.version}"

    def topic_for(self, store: str, device: str = "") -> str:
        """The concrete topic in ``store`` (and of ``device``, for a device's topic)."""
        return self.topic.format(store=store, device=device)


# Fixed values of the examples, so the AsyncAPI document is the same on every run.
EXAMPLE_ID = "0195ec1f-5a40-7c3e-9a41-3f0d2b8e6c15"
EXAMPLE_TS = "2026-04-01T09:30:00.000Z"
EXAMPLE_STORE = "store-1"
EXAMPLE_DEVICE = "kiosk-1"
_EX_CUSTOMER = "c-5f2b8c0e6d1a4f3b9c7e2a1d0b3c4e5f"
_EX_SESSION_ID = "01a20735-b502-769a-a830-637530718552"
_EX_GTIN = "8712345000028"
_EX_SESSION = {"session": _EX_SESSION_ID}
_EX_QUEUED = {"event": EXAMPLE_ID}

STATE = Message("state", 1, StatePayload, DEVICE + "/state", "publish",
                "Retained online/offline; the offline one is the last will.", retained=True,
                example={"state": "online", "reason": "connected"})
BIRTH = Message("birth", 1, BirthPayload, DEVICE + "/birth", "publish",
                "Retained on every connect: versions, capabilities and configuration hash.", retained=True,
                example={"agent_version": "0.1.0", "python_version": "3.11.7", "paho_version": "2.1.0",
                         "sqlite_version": "3.40.1", "device_kind": "kiosk",
                         "capabilities": ["outbox", "command:ping"], "config_hash": "9e107d9d372bb682",
                         "started": EXAMPLE_TS})
HEALTH = Message("health", 1, HealthPayload, DEVICE + "/health", "publish",
                 "Periodic health of the agent.", qos=0,
                 example={"uptime_s": 120.5, "connected": True, "outbox_depth": 0, "outbox_critical": 0,
                          "outbox_oldest_age_s": None, "reconnects": 0, "dropped_telemetry": 0,
                          "rejected_messages": 0, "broker_rtt_ms": 0.8, "storage_free_bytes": 1073741824,
                          "storage_state": "ok", "storage_error": None, "held_messages": 0})
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
                example={"started": EXAMPLE_TS, "ended": "2026-04-01T09:30:42.500Z", "dwell_s": 42.5}),
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
                example={"interval_start": EXAMPLE_TS, "interval_s": 60.0, "count": 4}),
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
        Message("event-card-relink", 1, CardRelinkEvent, DEVICE + "/event/card-relink", "publish",
                "During a store key rotation, a card enrolled under the previous key was tapped and re-linked "
                "to its token under the new key.", delivery=DeliveryClass.CRITICAL,
                example={"old_card": "k-" + "3f" * 32, "new_card": "k-" + "a1" * 32}),
        Message("event-enrolment", 1, EnrolmentEvent, DEVICE + "/event/enrolment", "publish",
                "A shopper asks to join with a card the store does not know (or without recognition consent).",
                delivery=DeliveryClass.CRITICAL,
                example={"session": _EX_SESSION_ID, "card": "k-" + "3f" * 32, "outcome": "unknown-card",
                         "assurance": "sun", "language": "nl"}),
    )
}

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
                         "pickup": {"kind": "locker", "locker": "4"}, "ready_since": EXAMPLE_TS,
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
                   example={"state": "present", "started": EXAMPLE_TS, "ended": None, "dwell_s": None})
SCAN = Message("scan", 1, ScanPayload, LOCAL + "/scan", "publish",
               "A product held up to the camera: the kiosk shows it.", bridged=False,
               example={"gtin": "08712345678906", "format": "ean-13"})
SHELF = Message("shelf", 1, ShelfPayload, LOCAL + "/shelf", "publish",
                "A product lifted from the shelf: the kiosk shows it (lift-and-learn).", bridged=False,
                example={"zone": "gazonmest-10kg", "gtin": "08712345678906", "action": "pickup", "out_s": None})

# Only `edge-agent demo` subscribes to this (it plays the emulated cards and the demo video); the
# agent itself never does. Local, never retained, never bridged.
DEMO_CONTROL = Message("demo-control", 1, DemoControlPayload, LOCAL + "/demo", "receive",
                       "Demo only: the kiosk's demo buttons and keys; `edge-agent demo` taps an emulated card "
                       "or plays the product clip. The agent does not subscribe.", qos=0, bridged=False,
                       example={"action": "tap", "card": "gold"})

# The store's control over the kiosk's content (edge_agent.content_control): the effective schedule the kiosk
# applies (retained: a kiosk that starts gets it at once; not personal, local), and staff's requests, made in a
# staff session (the agent checks it and audits each as event/staff-audit).
_EX_WINDOW = {"start": None, "until": None, "days": ["fri", "sat", "sun"], "hours": ["09:00-17:00"]}
CONTENT_SCHEDULE = Message(
    "content-schedule", 1, ContentSchedulePayload, LOCAL + "/content-schedule", "publish",
    "The content pack in use as the store changed it: every attract item, carousel and instruction video in "
    "the order it shows, with when it shows. Retained, local.", retained=True, bridged=False,
    example={"pack": "tuincentrum-de-linde", "version": "2026.11.1", "revision": 3,
             "attract": [{"id": "snoeien", "enabled": True, "until": None, "schedule": None, "moved": True,
                          "windows": [_EX_WINDOW]},
                         {"id": "klantenpas", "enabled": False, "until": "2026-04-02", "schedule": None,
                          "moved": False, "windows": [{"start": "2026-04-02", "until": None, "days": None,
                                                       "hours": None}]}],
             "inspire": [{"id": "voorjaar", "enabled": True, "until": None, "schedule": None, "moved": False,
                          "windows": [{"start": None, "until": None, "days": None, "hours": None}]}],
             "instructions": [],
             "dropped": [{"section": "attract", "id": "kerst", "version": "2026.11.1"}],
             "undo": "disable", "changed": True})
CONTENT_COMMANDS = (
    Message("request-content-control", 1, ContentControlRequest, LOCAL + "/request/content-control", "receive",
            "A staff member changes the content: on/off (today only, until a day), order, a manager's schedule, "
            "reset to the pack, undo; answered with the schedule's new revision.",
            response=ContentControlResult, bridged=False,
            example={"session": _EX_SESSION_ID, "action": "disable", "section": "attract", "item": "klantenpas",
                     "today_only": True, "until": None, "schedule": None},
            result_example={"action": "disable", "revision": 3, "undo": "disable"}),
    Message("request-content-preview-packs", 1, PreviewPacksRequest, LOCAL + "/request/content-preview-packs",
            "receive", "The packs staff can preview: the one in use, and packs ready but not active yet.",
            response=PreviewPacksResult, bridged=False, example=_EX_SESSION,
            result_example={"packs": [{"pack": "tuincentrum-de-linde", "version": "2026.11.1", "state": "in-use",
                                       "folder": "/var/lib/connected-store/content"}]}),
    Message("request-content-preview", 1, PreviewRequest, LOCAL + "/request/content-preview", "receive",
            "What the content shows at a chosen moment (\"zaterdag 10:00\"), in the order it shows.",
            response=PreviewResult, bridged=False,
            example={"session": _EX_SESSION_ID, "at": "2026-04-04T10:00:00+02:00", "pack": None},
            result_example={"pack": "tuincentrum-de-linde", "version": "2026.11.1",
                            "at": "2026-04-04T10:00:00+02:00", "attract": ["snoeien", "voorjaar-gazonmest"],
                            "inspire": ["voorjaar", "tuinonderhoud"], "instructions": ["gazon-bemesten"]}),
)


COMMANDS: dict[str, Message] = {
    message.name.removeprefix("request-"): message
    for message in (
        Message("request-ping", 1, EmptyRequest, DEVICE + "/request/ping", "receive",
                "Liveness check.", response=PingResult, bridged=True, example={},
                result_example={"pong": True, "uptime_s": 120.5}),
        Message("request-get-config", 1, EmptyRequest, DEVICE + "/request/get-config", "receive",
                "The effective configuration (holds no secrets).", response=GetConfigResult, example={},
                result_example={
                    "config": {"store": {"id": EXAMPLE_STORE}, "device": {"id": EXAMPLE_DEVICE},
                               "mqtt": {"host": "broker.store-1.local", "port": 8883, "keepalive_s": 30}},
                    "config_hash": "9e107d9d372bb682"}),
        Message("request-set-log-level", 1, SetLogLevelRequest, DEVICE + "/request/set-log-level", "receive",
                "Change a log level at run time.", response=SetLogLevelResult,
                example={"level": "DEBUG", "logger": "edge_agent.link"},
                result_example={"logger": "edge_agent.link", "level": "DEBUG"}),
        Message("request-withdraw-consent", 1, SessionRequest, LOCAL + "/request/withdraw-consent", "receive",
                "The customer of this session withdraws every consent: local data is erased at once.",
                response=WithdrawResult, personal=True, bridged=False, example=_EX_SESSION,
                result_example={"withdrawn": ["recognition", "personal-offers"], "erased_records": 3}),
        Message("request-my-data", 1, SessionRequest, LOCAL + "/request/my-data", "receive",
                "What the store knows about the customer of this session, consents and data-use log.",
                response=MyDataResult, personal=True, bridged=False, example=_EX_SESSION,
                result_example={
                    "customer": {"first_name": "Sanne", "language": "nl", "tier": "goud", "points": 5120},
                    "consents": [{"purpose": "recognition", "until": "2027-04-01T00:00:00Z"}],
                    "data_use": [{"at": EXAMPLE_TS, "device": EXAMPLE_DEVICE, "use": "greeting",
                                  "categories": ["first_name"]}]}),
        Message("request-end-session", 1, SessionRequest, LOCAL + "/request/end-session", "receive",
                "The kiosk ends a session (Klaar, idle).", response=EndSessionResult, personal=True,
                bridged=False, example=_EX_SESSION, result_example={"ended": True}),
        Message("request-touch", 1, SessionRequest, LOCAL + "/request/touch", "receive",
                "The shopper is using the screen (touching it, browsing, watching a video) without a request to "
                "the agent: the session's idle limit starts again. Sent at most every few seconds while the "
                "screen is touched; the session's absolute limit is unchanged.",
                response=TouchResult, personal=True, bridged=False, example=_EX_SESSION,
                result_example={"active": True}),
        Message("request-product", 1, ProductRequest, LOCAL + "/request/product", "receive",
                "One product with the shopper's best price and why, and the offers for it.",
                response=ProductResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "gtin": _EX_GTIN, "language": "nl"},
                result_example={
                    "product": {"gtin": "08712345000028", "name": "Gazonmest 10 kg",
                                "description": "Voor 200 m² gazon.", "category": "gazonmest",
                                "images": ["products/gazonmest-10kg.jpg"], "stock": 14, "shelf": "Gang 3, schap A",
                                "video": "videos/gazon-bemesten.mp4", "shelf_price_cents": 2199},
                    "price": {"price_cents": 1899, "shelf_price_cents": 2199, "saving_cents": 300,
                              "source": "price-list", "reason": "Clubprijs", "offer": None, "price_group": "club"},
                    "offers": [{"offer": "voorjaar-2026", "version": 3, "kind": "percentage-off",
                                "title": "Voorjaarsactie −10%", "valid_until": "2026-04-30T22:00:00Z",
                                "personal": False, "applies": True, "percent": 10.0, "categories": ["gazonmest"]}],
                    "personal": True}),
        Message("request-offers", 1, OffersRequest, LOCAL + "/request/offers", "receive",
                "The shopper's offers and the products they pay less for.", response=OffersResult,
                personal=True, bridged=False, example={"session": _EX_SESSION_ID, "language": "nl", "limit": 20},
                result_example={
                    "offers": [{"offer": "handschoenen-50", "version": 1, "kind": "gift-with-purchase",
                                "title": "Gratis tuinhandschoenen vanaf €50", "valid_until": "2026-04-30T22:00:00Z",
                                "personal": False, "applies": True, "gift": "08712345000066",
                                "min_spend_cents": 5000}],
                    "deals": [{"gtin": "08712345000028", "name": "Gazonmest 10 kg", "shelf_price_cents": 2199,
                               "price_cents": 1899, "reason": "Clubprijs", "price_group": "club"}],
                    "more_deals": 0,
                    "personal": True}),
        Message("request-account", 1, SessionRequest, LOCAL + "/request/account", "receive",
                "Points and progress to the next tier, pick-up orders, recent purchases (as far as the "
                "screen may show them).", response=AccountResult, personal=True, bridged=False,
                example=_EX_SESSION,
                result_example={
                    "loyalty": {"tier": "goud", "tier_name": "Goud", "points": 5120, "next_tier": None,
                                "next_tier_name": None, "points_to_next": None, "euros_to_next": None,
                                "progress": 1.0, "points_per_euro": 10.0},
                    "orders": [{"order_id": "WEB-100234", "status": "ready",
                                "pickup": {"kind": "locker", "locker": "4"}, "ready_since": EXAMPLE_TS,
                                "deadline": "2026-04-08T18:00:00Z",
                                "items": [{"name": "Gazonmest 10 kg", "quantity": 1}]}],
                    "purchases": [{"gtin": "08712345000028", "name": "Gazonmest 10 kg", "quantity": 1,
                                   "at": "2026-03-14T10:12:00Z", "channel": "webshop"}]}),
        Message("request-activate-offer", 1, ActivateOfferRequest, LOCAL + "/request/activate-offer", "receive",
                "Activate an offer on the customer's account; sent upstream as event/offer-activation.",
                response=ActivateOfferResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "offer": "voorjaar-2026"},
                result_example={"offer": "voorjaar-2026", "new": True}),
        Message("request-check-promo-code", 1, PromoCodeRequest, LOCAL + "/request/check-promo-code", "receive",
                "Check a promo code for this shopper; a valid one applies for the rest of the session.",
                response=PromoCodeResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "code": "lente26", "language": "nl"},
                result_example={
                    "valid": True, "outcome": "valid",
                    "offer": {"offer": "lente-code", "version": 1, "kind": "promo-code", "title": "Lentecode −15%",
                              "valid_until": "2026-04-30T22:00:00Z", "personal": False, "applies": True,
                              "needs_code": True, "percent": 15.0}}),
        Message("request-feedback", 1, FeedbackRequest, LOCAL + "/request/feedback", "receive",
                "A score for a phase of the visit; sent upstream, anonymously, as event/feedback.",
                response=QueuedResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "score": 4, "reason": "product-info", "phase": "inform"},
                result_example=_EX_QUEUED),
        Message("request-staff-assist", 1, StaffAssistRequest, LOCAL + "/request/staff-assist", "receive",
                "Call a member of staff to this device; sent as event/staff-assist.", response=QueuedResult,
                personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "phase": "inform", "topic": "product-advice"},
                result_example=_EX_QUEUED),
        Message("request-enrol", 1, EnrolRequest, LOCAL + "/request/enrol", "receive",
                "The shopper of an unknown card asks to join; sent as event/enrolment with the card's token.",
                response=QueuedResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "language": "nl"}, result_example=_EX_QUEUED),
        *CONTENT_COMMANDS,
    )
}


# --------------------------------------------------------------------------- the device's own checks (staff mode)
# The kiosk's device-checks screen (edge_agent.device_checks): local requests answered only in a staff-mode
# session (the test event and the restart for managers only), and the managers' test event upstream.
_EX_CHECKS = {"session": _EX_SESSION_ID}
EVENTS["device-test"] = Message(
    "event-device-test", 1, DeviceTestEvent, DEVICE + "/event/device-test", "publish",
    "A manager's test of the way upstream from the device-checks screen, through the outbox like every event "
    "(critical, so that leaving the outbox means the broker had it): central recognises it by this topic and "
    "`test`; no one's id in it.", delivery=DeliveryClass.CRITICAL,
    example={"test": True, "reason": "device-checks", "agent_version": "0.1.0"})
COMMANDS.update({message.name.removeprefix("request-"): message for message in (
    Message("request-device-checks", 1, ChecksRequest, LOCAL + "/request/device-checks", "receive",
            "Every figure of the device-checks screen, measured by the agent now (staff mode only).",
            response=DeviceChecksReport, bridged=False, example=_EX_CHECKS,
            result_example={
                "connected": True, "broker_rtt_ms": 0.8, "broker_rtt_age_s": 0.4, "outbox_depth": 0,
                "outbox_oldest_age_s": None, "disk_free_bytes": 1073741824, "database_bytes": 143360,
                "clock": {"source": "central-pushes", "ahead_s": 0.05, "samples": 3, "last_sample_age_s": 60.0,
                          "synchronised": True, "max_error_ms": 16.0},
                "versions": {"agent": "0.1.0", "contract": "v1", "python": "3.11.7", "sqlite": "3.40.1",
                             "libraries": {"paho-mqtt": "2.1.0", "nfcpy": "1.0.4"}},
                "content_pack": None, "reader_state": "ok",
                "reader_test": {"state": "done", "waiting_s": None,
                                "result": {"tag_type": "Type4Tag", "product": None, "assurance": "sun-verified",
                                           "sun_failure": None, "problem": None, "linked": "customer",
                                           "at": EXAMPLE_TS}},
                "camera": {"state": "ok", "fps": 15.0, "present": False, "privacy_masks": 1,
                           "last_code": {"kind": "product", "format": "ean-13", "gtin": "08712345678906",
                                         "age_s": 12.5}, "error": None},
                "test_event": None, "role": "staff"}),
    Message("request-reader-test", 1, ChecksRequest, LOCAL + "/request/reader-test", "receive",
            "The next card tapped is a reader test, not a session: its type, assurance and link show (staff mode).",
            response=ReaderTestState, bridged=False, example=_EX_CHECKS,
            result_example={"state": "waiting", "waiting_s": 30.0, "result": None}),
    Message("request-test-event", 1, ChecksRequest, LOCAL + "/request/test-event", "receive",
            "A manager sends event/device-test upstream; the checks report says when the broker had it.",
            response=DeviceTestResult, bridged=False, example=_EX_CHECKS, result_example=_EX_QUEUED),
    Message("request-restart-kiosk", 1, ChecksRequest, LOCAL + "/request/restart-kiosk", "receive",
            "A manager restarts the kiosk app: on this answer it exits with the code its unit restarts.",
            response=RestartKioskResult, bridged=False, example=_EX_CHECKS, result_example={"exit_code": 75}),
)})

def response_message(command: str) -> Message:
    """The response channel of ``command``."""
    request = COMMANDS[command]
    return Message(f"response-{command}", request.version, ResponseEnvelope,
                   request.topic.replace("/request/", "/response/"), "publish", f"Answer to request/{command}.",
                   personal=request.personal, bridged=request.bridged)


RESPONSES: dict[str, Message] = {name: response_message(name) for name in COMMANDS}

ALL_MESSAGES: list[Message] = [STATE, BIRTH, HEALTH, PROBE, SESSION, PRESENCE, SCAN, SHELF, *EVENTS.values(),
                               *PUSHES.values(), *COMMANDS.values(), *RESPONSES.values(), DEMO_CONTROL,
                               CONTENT_SCHEDULE]


# --------------------------------------------------------------------------- store staff (payloads_staff.py)
# One block, added to the catalogue's families above: central's staff records, the staff mode of a session,
# the audit of staff actions and the device's open staff-assist calls. Each kiosk sends its PIN only on its
# own device's local topic, never retained, never bridged (config/mosquitto/connected-store.acl).
_EX_STAFF_MODE = {"session": _EX_SESSION_ID, "state": "active", "display_name": "Anna", "role": "manager",
                  "role_limited": None, "attempts_left": None, "locked_until": None, "idle_s": 60.0, "reason": None}
_EX_AUDIT = {"staff": "s-anna", "action": "pin-attempt", "target": None, "result": "ok", "at": EXAMPLE_TS}
_EX_CALLS = {"calls": [{"call": EXAMPLE_ID, "at": EXAMPLE_TS, "waited_s": 95.0, "phase": "inform",
                        "topic": "product-advice", "handled_at": None}]}
STAFF_MODE = Message("staff-mode", 1, StaffModeView, LOCAL + "/staff", "publish",
                     "The staff mode of the kiosk's session: PIN pad, active (name and role), locked, ended. "
                     "Personal: never retained, never bridged.", personal=True, bridged=False,
                     example=_EX_STAFF_MODE)
STAFF_CALL = Message("staff-call", 1, StaffCallState, LOCAL + "/staff-call", "publish",
                     "A staff-assist call made at this kiosk was answered: a member of staff is coming (named) or "
                     "handled it (the kiosk may tell the shopper).", bridged=False,
                     example={"call": EXAMPLE_ID, "state": "coming", "display_name": "Anna"})
EVENTS["staff-audit"] = Message(
    "event-staff-audit", 1, StaffAuditEvent, DEVICE + "/event/staff-audit", "publish",
    "A staff action at this device (PIN attempts included, never the PIN): who, what, on what, result, when.",
    delivery=DeliveryClass.CRITICAL, example=_EX_AUDIT)
PUSHES["staff"] = Message(
    "staff", 1, StaffPush, CENTRAL_TOPIC + "staff", "receive",
    "A member of staff: display name, role and PIN verifier (salted argon2id, never the PIN); active false "
    "removes them. Badges are card-link records of kind staff.", personal=True,
    example={"staff": "s-anna", "version": 1, "display_name": "Anna", "role": "manager",
             "pin_verifier": "$argon2id$v=19$m=65536,t=1,p=4$aUMjFVCY/sdK5f5MTo5ONQ$"
                             "ttpNmONaXFGVmaBQs4OVxT1edzwBx+4jkvMcPoPpGGg", "active": True})
_STAFF_COMMANDS: dict[str, Message] = {
    message.name.removeprefix("request-"): message
    for message in (
        Message("request-staff-pin", 1, StaffPinRequest, LOCAL + "/request/staff-pin", "receive",
                "The PIN typed for this session's staff badge; answered with the staff mode. Never retained, "
                "bridged or logged.", response=StaffModeView, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "pin": "2468"}, result_example=_EX_STAFF_MODE),
        Message("request-staff-status", 1, SessionRequest, LOCAL + "/request/staff-status", "receive",
                "The staff mode of this session now (the kiosk asks while staff touch the screen: it keeps "
                "staff mode alive).", response=StaffModeView, personal=True, bridged=False,
                example=_EX_SESSION, result_example=_EX_STAFF_MODE),
        Message("request-staff-audit-log", 1, SessionRequest, LOCAL + "/request/staff-audit-log", "receive",
                "Managers in staff mode: the last 50 staff actions at this device.", response=StaffAuditResult,
                personal=True, bridged=False, example=_EX_SESSION,
                result_example={"entries": [{**_EX_AUDIT, "event": EXAMPLE_ID}]}),
        Message("request-staff-calls", 1, SessionRequest, LOCAL + "/request/staff-calls", "receive",
                "Staff mode: this device's open staff-assist calls and how long they have waited.",
                response=StaffCallsResult, personal=True, bridged=False, example=_EX_SESSION,
                result_example=_EX_CALLS),
        Message("request-staff-call-handled", 1, StaffCallRequest, LOCAL + "/request/staff-call-handled",
                "receive", "Staff mode: mark one of this device's calls handled; answered with the open calls.",
                response=StaffCallsResult, personal=True, bridged=False,
                example={"session": _EX_SESSION_ID, "call": EXAMPLE_ID}, result_example={"calls": []}),
    )
}
COMMANDS.update(_STAFF_COMMANDS)
RESPONSES.update({name: response_message(name) for name in _STAFF_COMMANDS})
ALL_MESSAGES.extend([STAFF_MODE, STAFF_CALL, EVENTS["staff-audit"], PUSHES["staff"], *_STAFF_COMMANDS.values(),
                     *(RESPONSES[name] for name in _STAFF_COMMANDS)])

# --------------------------------------------------------------------------- the store console (payloads_console.py)
# One block: the content requests the store console sends to a kiosk's agent for the staff member logged in at
# the console (edge_agent.content_control.console_requests). Local topics (never bridged); only the console's
# login publishes them (roles.py).
#: The console's requests, by command name.
CONSOLE_COMMANDS: dict[str, Message] = {
    message.name.removeprefix("request-"): message
    for message in (
        Message("request-console-content-control", 1, ConsoleContentControlRequest,
                LOCAL + "/request/console-content-control", "receive",
                "The store console changes this kiosk's content for the staff member logged in there (the same "
                "changes as content-control); the agent checks the staff member and role, and audits it.",
                response=ContentControlResult, bridged=False,
                example={"session": _EX_SESSION_ID, "staff": "s-anna", "action": "disable", "section": "attract",
                         "item": "klantenpas", "today_only": True, "until": None, "schedule": None},
                result_example={"action": "disable", "revision": 3, "undo": "disable"}),
        Message("request-console-content-preview", 1, ConsolePreviewRequest,
                LOCAL + "/request/console-content-preview", "receive",
                "The store console asks what this kiosk's content shows at a chosen moment (audited).",
                response=PreviewResult, bridged=False,
                example={"session": _EX_SESSION_ID, "staff": "s-anna", "at": "2026-04-04T10:00:00+02:00",
                         "pack": None},
                result_example={"pack": "tuincentrum-de-linde", "version": "2026.11.1",
                                "at": "2026-04-04T10:00:00+02:00", "attract": ["snoeien"], "inspire": ["voorjaar"],
                                "instructions": []}),
    )
}
COMMANDS.update(CONSOLE_COMMANDS)
RESPONSES.update({name: response_message(name) for name in CONSOLE_COMMANDS})
ALL_MESSAGES.extend([*CONSOLE_COMMANDS.values(), *(RESPONSES[name] for name in CONSOLE_COMMANDS)])

# --------------------------------------------------------------------------- calls answered from the store console
# (payloads_assist.py): the console's "Ik kom eraan" / "Afgehandeld" to the agent of the device that called, and
# clienteling by consent: the shopper's yes at the kiosk, their details for the console on a store-LAN topic
# (never retained, never bridged), and each view of them by staff for their data-use log. Only the console's
# login sends console-call-answer and console-clienteling-viewed (roles.py CALL_CONSOLE_COMMANDS): a kiosk
# cannot answer its own call.
_EX_CALL_ANSWER = {"call": EXAMPLE_ID, "answer": "coming", "staff": "s-anna"}
CLIENTELING = Message(
    "clienteling", 1, ClientelingCall, LOCAL + "/clienteling", "publish",
    "A recognised shopper's call with who they are, for the store console only, shared with their consent for "
    "this call; state ended when the call is handled or the session ends. Store LAN only: never retained, "
    "never bridged.", personal=True, bridged=False,
    example={"call": EXAMPLE_ID, "state": "shared", "first_name": "Sanne", "tier": "Goud", "phase": "inform",
             "gtin": "08712345000028", "product": "Gazonmest 10 kg", "category": "tuin",
             "purchases": [{"gtin": "08712345000028", "name": "Gazonmest 10 kg", "quantity": 1,
                            "at": "2026-03-14T10:12:00Z", "channel": "webshop"}]})
_ASSIST_COMMANDS: dict[str, Message] = {
    message.name.removeprefix("request-"): message
    for message in (
        Message("request-console-call-answer", 1, CallAnswerRequest, LOCAL + "/request/console-call-answer", "receive",
                "The store console: a member of staff answers a call made at this device (coming or handled); "
                "recorded, audited as event/staff-audit and told to the kiosk on local/staff-call.",
                response=CallAnswerResult, bridged=False, example=_EX_CALL_ANSWER,
                result_example={"call": EXAMPLE_ID, "answer": "coming", "changed": True}),
        Message("request-staff-call-share", 1, CallShareRequest, LOCAL + "/request/staff-call-share", "receive",
                "The shopper's answer at the kiosk: may the member of staff see who they are, for this call only; "
                "with yes the agent publishes local/clienteling.", response=CallShareResult, personal=True,
                bridged=False, example={"session": _EX_SESSION_ID, "call": EXAMPLE_ID, "share": True},
                result_example={"call": EXAMPLE_ID, "shared": True}),
        Message("request-console-clienteling-viewed", 1, ClientelingViewed,
                LOCAL + "/request/console-clienteling-viewed", "receive",
                "The store console showed a shared call to a member of staff: written to the customer's data-use "
                "log, which they see at the kiosk.", response=ClientelingViewedResult,
                bridged=False, example={"call": EXAMPLE_ID, "staff": "s-anna"},
                result_example={"call": EXAMPLE_ID, "logged": True}),
    )
}
#: The commands only the store console sends (to the agent of a kiosk), answered to the console only.
CALL_CONSOLE_COMMANDS = frozenset({"console-call-answer", "console-clienteling-viewed"})
COMMANDS.update(_ASSIST_COMMANDS)
RESPONSES.update({name: response_message(name) for name in _ASSIST_COMMANDS})
ALL_MESSAGES.extend([CLIENTELING, *_ASSIST_COMMANDS.values(), *(RESPONSES[name] for name in _ASSIST_COMMANDS)])


# --------------------------------------------------------------------------- analytics (payloads_analytics.py)
# One block: the kiosk's usage reports to its agent (local, never bridged; a visit's random id, nobody's), and the
# agent's anonymous hourly buckets upstream (edge_agent.analytics), critical so that none is dropped.
_EX_VISIT = "v-3c9e1a7f5b2d4e60"
EVENTS["analytics-hourly"] = Message(
    "event-analytics-hourly", 1, AnalyticsEvent, DEVICE + "/event/analytics-hourly", "publish",
    "A complete hour of this device's anonymous analytics (footfall, engagement, sessions by kind, the phase "
    "funnel, proof of play, feedback, offers, staff calls), or a day's remainder: no row counts fewer than k "
    "sessions, and no session, card or customer is named.", delivery=DeliveryClass.CRITICAL,
    example={"period": "hour", "start": "2026-04-01T09:00:00Z", "end": "2026-04-01T10:00:00Z", "k": 5,
             "rows": [{"metric": "footfall", "dim": "", "count": 41, "sessions": None, "total": 0.0},
                      {"metric": "sessions", "dim": "recognised", "count": 6, "sessions": 6, "total": 512.5},
                      {"metric": "play", "dim": "voorjaar", "count": 30, "sessions": None, "total": 240.0}]})
_ANALYTICS_COMMANDS: dict[str, Message] = {
    message.name.removeprefix("request-"): message
    for message in (
        Message("request-report-screen", 1, ScreenReport, LOCAL + "/request/report-screen", "receive",
                "The kiosk left a screen of a visit: which, its phase, when and how long, touched or not (for the "
                "hourly analytics; the visit is the kiosk's random id, nobody's).", response=ReportResult,
                bridged=False,
                example={"visit": _EX_VISIT, "kind": "recognised", "screen": "informeer", "phase": "inform",
                         "started": EXAMPLE_TS, "shown_s": 24.5, "touched": True, "ends_visit": False},
                result_example={"recorded": True}),
        Message("request-report-play", 1, PlayReport, LOCAL + "/request/report-play", "receive",
                "An attract item ended on the attract loop: proof of play (item, when, seconds shown).",
                response=ReportResult, bridged=False,
                example={"item": "voorjaar", "media": "image", "started": EXAMPLE_TS, "shown_s": 8.0,
                         "pack": "tuincentrum-de-linde 2026.04.1"},
                result_example={"recorded": True}),
    )
}
COMMANDS.update(_ANALYTICS_COMMANDS)
RESPONSES.update({name: response_message(name) for name in _ANALYTICS_COMMANDS})
ALL_MESSAGES.extend([EVENTS["analytics-hourly"], *_ANALYTICS_COMMANDS.values(),
                     *(RESPONSES[name] for name in _ANALYTICS_COMMANDS)])
# ----------------------------------------------------------------- content delivery (payloads_content_delivery.py)
# One block: central's signed pack manifest (edge_agent.content_delivery), the agent's progress upstream, the
# retained local state saying which pack the kiosk shows (and falls back to), the kiosk's answer to a switch,
# and a manager's approval in staff mode ([content] approval).
_EX_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
_EX_PACK_REF = {"pack": "tuincentrum-de-linde", "version": 12, "pack_version": "2026.12.1",
                "path": "/var/lib/connected-store/packs/tuincentrum-de-linde-12"}
_EX_PREVIOUS_REF = {"pack": "tuincentrum-de-linde", "version": 11, "pack_version": "2026.11.1",
                    "path": "/var/lib/connected-store/packs/tuincentrum-de-linde-11"}
PUSHES["content-pack"] = Message(
    "content-pack", 1, ContentPackManifest, CENTRAL_TOPIC + "content-pack", "receive",
    "A content pack to fetch and show: every file with size, sha256 and media type (each at "
    "{base_url}/{path}), when to activate it, which devices it is for, signed with Ed25519 by central's "
    "content key over the canonical manifest (JSON without `signature`, keys sorted, no whitespace, UTF-8, "
    "after the domain line 'connected-store/content-pack/v1'). Refused with event/error when unsigned, "
    "wrongly signed, by an unknown key or not newer than the active or staged pack.",
    example={"pack": "tuincentrum-de-linde", "version": 12, "pack_version": "2026.12.1",
             "files": [{"path": "content.yaml", "size": 2210, "sha256": _EX_SHA, "media_type": "application/yaml"},
                       {"path": "attract/winter.png", "size": 181234,
                        "sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
                        "media_type": "image/png"}],
             "base_url": "https://content.example.com/blobs", "activate_at": "2026-12-05T06:00:00Z",
             "end": None, "targets": {"stores": None, "device_kinds": ["kiosk"], "orientations": None},
             "key_id": "content-2026", "signature": "5e" * 64})
EVENTS["content-status"] = Message(
    "event-content-status", 1, ContentStatusEvent, DEVICE + "/event/content-status", "publish",
    "Where the delivery of a pack is: received, downloading (bytes done and total), staged, active, failed or "
    "refused (with the reason), ended.", delivery=DeliveryClass.CRITICAL,
    example={"pack": "tuincentrum-de-linde", "version": 12, "state": "downloading", "bytes_done": 52428800,
             "bytes_total": 209715200, "awaiting_approval": False, "reason": None})
CONTENT_ACTIVE = Message(
    "content-active", 1, ContentActivePayload, LOCAL + "/content-active", "publish",
    "Which delivered pack the kiosk shows (its folder), the previous one it falls back to, and a staged one "
    "waiting for its time or a manager. Retained, local; the kiosk answers a switch with request/content-loaded.",
    retained=True, bridged=False,
    example={"active": _EX_PACK_REF, "previous": _EX_PREVIOUS_REF, "staged": None})
_CONTENT_DELIVERY_COMMANDS: dict[str, Message] = {
    message.name.removeprefix("request-"): message
    for message in (
        Message("request-content-loaded", 1, ContentLoadedRequest, LOCAL + "/request/content-loaded", "receive",
                "The kiosk loaded the active pack of content-active, or could not: then the agent switches back "
                "to the previous pack and reports the new one failed.", response=ContentLoadedResult,
                bridged=False,
                example={"pack": "tuincentrum-de-linde", "version": 12, "ok": False,
                         "reason": "content.yaml:14: attract[2].image: file not found"},
                result_example={"fallback": True, "active": _EX_PREVIOUS_REF}),
        Message("request-content-approve", 1, ContentApproveRequest, LOCAL + "/request/content-approve",
                "receive", "A manager in staff mode approves the staged pack ([content] approval = true): active "
                "now, or at its activate_at. Audited as event/staff-audit.", response=ContentApproveResult,
                bridged=False, example={"session": _EX_SESSION_ID, "pack": "tuincentrum-de-linde", "version": 12},
                result_example={"pack": "tuincentrum-de-linde", "version": 12, "state": "active"}),
    )
}
COMMANDS.update(_CONTENT_DELIVERY_COMMANDS)
RESPONSES.update({name: response_message(name) for name in _CONTENT_DELIVERY_COMMANDS})
ALL_MESSAGES.extend([PUSHES["content-pack"], EVENTS["content-status"], CONTENT_ACTIVE,
                     *_CONTENT_DELIVERY_COMMANDS.values(), *(RESPONSES[name] for name in _CONTENT_DELIVERY_COMMANDS)])


# --------------------------------------------------------------------------- console codes (payloads_console_code.py)
# One block: a one-time code for the console, asked in staff mode at a kiosk (edge_agent.staff.console_code). The
# kiosk gets the code on its own local response topic; the console gets only its verifier on local/console-code,
# which only agents publish and only the console reads (roles.py). Never retained, never bridged.
_EX_CODE_VERIFIER = ("$argon2id$v=19$m=65536,t=1,p=4$aUMjFVCY/sdK5f5MTo5ONQ$"
                     "ttpNmONaXFGVmaBQs4OVxT1edzwBx+4jkvMcPoPpGGg")
CONSOLE_CODE = Message("console-code", 1, ConsoleCodeOffer, LOCAL + "/console-code", "publish",
                       "A one-time console code for a member in staff mode at this kiosk: id, name, role granted "
                       "and the code's salted argon2id verifier (never the code). Only the console reads it.",
                       personal=True, bridged=False,
                       example={"offer": EXAMPLE_ID, "staff": "s-anna", "display_name": "Anna", "role": "manager",
                                "verifier": _EX_CODE_VERIFIER, "valid_until": EXAMPLE_TS})
CONSOLE_CODE_COMMANDS: dict[str, Message] = {
    "staff-console-code": Message(
        "request-staff-console-code", 1, SessionRequest, LOCAL + "/request/staff-console-code", "receive",
        "Staff mode: a one-time code to log in at the store console on a phone (shown at the kiosk, valid once "
        "and for two minutes). Never retained, bridged or logged.", response=ConsoleCodeResult, personal=True,
        bridged=False, example=_EX_SESSION, result_example={"code": "40392817", "valid_until": EXAMPLE_TS}),
}
COMMANDS.update(CONSOLE_CODE_COMMANDS)
RESPONSES.update({name: response_message(name) for name in CONSOLE_CODE_COMMANDS})
ALL_MESSAGES.extend([CONSOLE_CODE, *CONSOLE_CODE_COMMANDS.values(),
                     *(RESPONSES[name] for name in CONSOLE_CODE_COMMANDS)])


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
        self.content_schedule = CONTENT_SCHEDULE.topic_for(store, device)
        #: Where the device commands (ping, get-config, set-log-level) arrive; not the kiosk's local requests.
        self.command_root = self.device_root + "/request/"

    def event(self, name: str) -> str:
        """The topic of event ``name`` (a key of :data:`EVENTS`)."""
        return EVENTS[name].topic_for(self.store, self.device)

    def response(self, command: str) -> str:
        """The topic of the answers to ``command`` (a key of :data:`COMMANDS`)."""
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
        for prefix in (self.command_root, self.device_root + "/local/request/"):
            if topic.startswith(prefix):
                command = COMMANDS.get(topic[len(prefix):])
                if command is not None and command.topic_for(self.store, self.device) != topic:
                    command = None  # a local command on the bridged path, or the reverse
                return "command", command
        return "unknown", None


