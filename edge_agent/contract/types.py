"""The value types every part of the contract shares: ids, GTINs, money, media paths, languages, enums.

Each is a pydantic ``Annotated`` type (a constraint, a validator and the
description the JSON Schema shows) or a ``StrEnum``, so a payload model says
what a field holds in one word and the AsyncAPI document explains it once.
:class:`Payload` is the base of every payload model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
CustomerId = Annotated[str, StringConstraints(pattern=r"^c-[0-9a-f]{16,64}$")]
CardToken = Annotated[str, StringConstraints(pattern=r"^k-[0-9a-f]{64}$")]
StaffId = Annotated[str, StringConstraints(pattern=r"^s-[a-z0-9-]{1,40}$")]
SessionId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
MessageId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
TRANSACTION_MAX_LENGTH = 128
Transaction = Annotated[str, StringConstraints(min_length=1, max_length=TRANSACTION_MAX_LENGTH)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ZoneName = Annotated[str, StringConstraints(min_length=1, max_length=40)]
CodeFormat = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,20}$")]
OfferId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")]
PromoCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
LineId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]{0,79}$")]

# The store's languages, the agent's and the kiosk's alike; their order is the
# fallback order of a text missing in the shopper's language.
Language = Literal["nl", "en", "fr"]
LANGUAGES: tuple[Language, ...] = get_args(Language)


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

# What the agent's SQLite can hold: a signed 64-bit integer. A larger one raises
# OverflowError where it is bound to a query, so the contract refuses it first.
SQLITE_INTEGER_MAX = 2**63 - 1
Version = Annotated[int, Field(ge=1, le=SQLITE_INTEGER_MAX,
                               description="Newer versions replace older ones; an older one is rejected.")]
# Domain bounds, far above any real store and far below what arithmetic on them could overflow.
POINTS_MAX = 1_000_000_000  # loyalty points (at 10 points per euro: 100 million euros)
USES_MAX = 1_000_000  # uses of one offer by one customer
QUANTITY_MAX = 100_000  # units of one line of an order or a purchase
STOCK_MAX = 1_000_000_000  # units of one product in one store


def _no_parent_segments(value: str) -> str:
    if ".." in value.split("/"):
        raise ValueError("a media path may not contain '..'")
    return value


MediaRef = Annotated[str, StringConstraints(pattern=r"^(?:https://[!-~]{1,500}|[A-Za-z0-9_][A-Za-z0-9._/-]{0,199})$"),
                     AfterValidator(_no_parent_segments),
                     Field(description="A file in the content folder (relative path) or an https URL.")]

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date_only(value: Any) -> Any:
    # pydantic reads "2026-04-01T00:00:00" as a date too; a bound is either a
    # whole day or an instant with its offset, never a local time.
    if isinstance(value, datetime) or (isinstance(value, str) and not _DATE.fullmatch(value)):
        raise ValueError("a date is YYYY-MM-DD; an instant needs its UTC offset")
    return value


# The window of every date and instant the contract accepts, as written: a date's
# day, an instant's own date before its UTC offset is applied. Far enough from
# what Python's datetime can hold (years 1 to 9999) that nothing done with such a
# value (the day after, a time zone, UTC) leaves it, and wide enough for any offer,
# consent, order or purchase a store deals with. _WINDOW_YEARS spells the same
# years for the JSON Schema (tests/test_push_edges.py checks they agree).
DATE_WINDOW = (date(2000, 1, 1), date(2100, 12, 31))
_WINDOW_YEARS = r"^(?:20[0-9]{2}|2100)-"
_WINDOW_TEXT = f"dated {DATE_WINDOW[0].isoformat()} to {DATE_WINDOW[1].isoformat()}"


def _written(value: Any) -> Any:
    # pydantic reads a number as a Unix time; the contract's dates and instants are strings.
    if isinstance(value, str | date):
        return value
    raise ValueError("a date or an instant is a string (YYYY-MM-DD, or RFC 3339 with its UTC offset)")


def _in_window(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not DATE_WINDOW[0] <= day <= DATE_WINDOW[1]:
        raise ValueError(f"a date or an instant must be {_WINDOW_TEXT}")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_written), AfterValidator(_in_window), WithJsonSchema({
    "type": "string", "format": "date-time", "pattern": _WINDOW_YEARS,
    "description": f"An RFC 3339 instant with its UTC offset, {_WINDOW_TEXT} (as written)."})]
Day = Annotated[date, BeforeValidator(_date_only), BeforeValidator(_written), AfterValidator(_in_window),
                WithJsonSchema({"type": "string", "format": "date", "pattern": _WINDOW_YEARS,
                                "description": f"A day as YYYY-MM-DD, {_WINDOW_TEXT}."})]
ValidityBound = Instant | Day

PromoCodeOutcome = Literal["valid", "unknown-code", "not-yet-valid", "expired", "not-for-this-customer", "used-up",
                           "needs-activation"]


class Payload(BaseModel):
    """Base of every payload model: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeliveryClass(StrEnum):
    """How the outbox treats an event when it is full."""

    CRITICAL = "critical"  # never dropped (consent, erasure, orders)
    TELEMETRY = "telemetry"  # dropped oldest-first when the outbox is full, and counted


class Purpose(StrEnum):
    """What a customer consents to: being recognised, personal offers, or analytics."""

    RECOGNITION = "recognition"
    PERSONAL_OFFERS = "personal-offers"
    ANALYTICS = "analytics"


class Phase(StrEnum):
    """The phases of the Store Sales Cycle, as the kiosk is organised."""

    REACH = "reach"
    UNDERSTAND = "understand"
    INSPIRE = "inspire"
    INFORM = "inform"
    CONVERT = "convert"
    AFTER_CARE = "after-care"
    CONTINUE = "continue"


_Item = TypeVar("_Item")


def unique(items: Sequence[_Item], key: Callable[[_Item], Hashable], what: str) -> None:
    """Raise naming the positions (never the values) of the first repeated key.

    Used by the payload models' validators, so a sender learns *where* a batch
    repeats itself without the error echoing what it sent.

    :raises ValueError: ``what[j] repeats what[i]`` for the first repeat.
    """
    seen: dict[Hashable, int] = {}
    for index, item in enumerate(items):
        value = key(item)
        if value in seen:
            raise ValueError(f"{what}[{index}] repeats {what}[{seen[value]}]")
        seen[value] = index
