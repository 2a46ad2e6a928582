"""Payloads of the events a device sends upstream about shoppers and itself, at least once through the outbox.

Rejections, consent and erasure acknowledgements, card taps and re-links, offer
activations, promo codes, feedback, calls for staff and enrolments. Customers
appear only as pseudonymous ids (``c-...``) and cards only as tokens
(``k-...``); the camera's anonymous events are in :mod:`.payloads_camera`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from ..identity import Assurance
from ..identity import Outcome as SessionOutcome
from .types import (
    CardToken,
    CustomerId,
    Gtin,
    Identifier,
    Language,
    OfferId,
    Payload,
    Phase,
    PromoCodeOutcome,
    Purpose,
    SessionId,
    Transaction,
)


class ErrorEvent(Payload):
    """A pushed message or request the agent rejected, and why (never its payload)."""

    topic: str = Field(description="Topic of the message that was rejected.")
    message_id: str | None = Field(None, description="Its envelope id, when it had one.")
    reason: str = Field(description="Why it was rejected (never contains the payload).")


class ConsentEvent(Payload):
    """A consent a customer gave or withdrew, with its end date when given."""

    customer: CustomerId
    purpose: Purpose
    granted: bool
    until: AwareDatetime | None = Field(None, description="End of the consent when granted.")
    source: Literal["kiosk", "central"]


class ErasureAckEvent(Payload):
    """An erasure request carried out on this device, with the number of records erased."""

    request_id: Transaction
    customer: CustomerId
    erased_records: int = Field(ge=0)


class TapEvent(Payload):
    """A card tapped at the reader: the session's outcome and assurance, the customer only when recognised."""

    session: SessionId
    outcome: SessionOutcome
    assurance: Assurance
    customer: CustomerId | None = Field(None, description="Only when recognised (pseudonymous id).")


class OfferActivationEvent(Payload):
    """A customer activated an offer (this version of it) on their account at the kiosk."""

    session: SessionId
    customer: CustomerId
    offer: OfferId
    offer_version: int = Field(ge=1)


class PromoCodeEvent(Payload):
    """A promo code checked at the kiosk and its outcome; the typed text itself is never sent."""

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
    """A shopper's call for a member of staff at this device, in which phase and for what."""

    session: SessionId | None = None
    phase: Phase | None = None
    topic: Identifier | None = None
    gtin: Gtin | None = None  # the product on the screen, if any


class CardRelinkEvent(Payload):
    """A card enrolled under the previous store key was tapped during a key rotation and is now known by its
    token under the new key: central replaces ``old_card`` by ``new_card`` wherever it names the card.
    Both are tokens; the card's UID is never sent."""

    old_card: CardToken = Field(description="The card's token under the previous store key.")
    new_card: CardToken = Field(description="The card's token under the current store key.")


class EnrolmentEvent(Payload):
    """A shopper with an unknown card (or one without recognition consent) asks to join:
    the card's token lets central link it."""

    session: SessionId
    card: CardToken
    outcome: Literal["unknown-card", "anonymous"]
    assurance: Assurance
    language: Language = "nl"
