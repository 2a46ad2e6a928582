"""Payloads of what the camera and the smart shelf observe: presence, footfall, barcodes, lifts, stock.

All anonymous by design: the camera pipeline sends counts, zone events and
decoded barcodes, never an image or anything that identifies a person.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from .types import CodeFormat, Gtin, Payload, ZoneName


class FootfallEvent(Payload):
    """How many people the camera saw in one interval (anonymous)."""

    interval_start: AwareDatetime
    interval_s: float = Field(gt=0)
    count: int = Field(ge=0)


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
