"""Who tapped, and what the kiosk may show them: plain domain logic, no I/O.

A card is known only by its token, ``HMAC-SHA256(store key, UID)``; the raw
UID never leaves :func:`card_token`'s caller. While the store key is rotated,
:class:`StoreKeys` also gives the token under the previous key, until the end
of the rotation window, so a card enrolled under the old key can be found and
re-linked to its new token (:mod:`edge_agent.sessions`). The session outcome follows from
the card's link (customer or staff), the customer's consents at this moment
(whether a consent holds is :func:`edge_agent.privacy.consent_valid`), and the
assurance of the read (``uid``, ``sun``, ``app``), which limits the data
categories the screen may show.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .clock import CLOCK_NOT_SYNCHRONISED
from .privacy import PERSONAL_OFFERS, RECOGNITION, Consents, consent_valid


class Assurance(StrEnum):
    """How sure the agent is that the card (or app) is genuine."""

    NONE = "none"  # nothing usable was read
    UID = "uid"  # a UID-only card: cloneable, low assurance
    SUN = "sun"  # NTAG 424 DNA with a valid, fresh SUN message
    APP = "app"  # a signed, short-lived app QR code


class Outcome(StrEnum):
    """What a tap came to: a recognised customer, an anonymous one, an unknown card, staff, or nothing usable."""

    RECOGNISED = "recognised"  # an opted-in customer
    ANONYMOUS = "anonymous"  # a known customer without valid recognition consent
    UNKNOWN_CARD = "unknown-card"  # no customer behind this card: invite to enrol
    STAFF = "staff"  # a staff badge
    REJECTED = "rejected"  # unreadable, tampered or replayed: no identity at all


class Category(StrEnum):
    """Kinds of personal data a screen may show."""

    FIRST_NAME = "first_name"
    TIER = "tier"
    POINTS = "points"
    OFFERS = "offers"
    PERSONAL_PRICES = "personal_prices"
    ORDERS = "orders"
    PURCHASE_HISTORY = "purchase_history"


# Shown only with the personal-offers consent, on top of recognition.
OFFER_CATEGORIES = frozenset({Category.OFFERS, Category.PERSONAL_PRICES})

DEFAULT_POLICY: dict[Assurance, frozenset[Category]] = {
    Assurance.UID: frozenset({Category.FIRST_NAME, Category.TIER, Category.OFFERS, Category.ORDERS}),
    Assurance.SUN: frozenset(Category),
    Assurance.APP: frozenset(Category),
}


def card_token(key: bytes, uid: bytes) -> str:
    """The pseudonymous token of a card: ``k-`` and HMAC-SHA256(key, UID) in hex.

    :raises ValueError: for an empty key or UID.
    """
    if not key or not uid:
        raise ValueError("card_token needs a key and a UID")
    return "k-" + hmac.new(key, uid, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StoreKeys:
    """The store key, and during a rotation the previous one until ``previous_until``.

    :param current: the key new tokens are made with.
    :param previous: the key being rotated out, or None.
    :param previous_until: the end of the rotation window (aware); the previous
        key is used only before it.
    :raises ValueError: for an empty current key, a previous key without a window
        end (or the other way round), or a previous key equal to the current one.
    """

    current: bytes
    previous: bytes | None = None
    previous_until: datetime | None = None

    def __post_init__(self) -> None:
        if not self.current:
            raise ValueError("the store key is empty")
        if (self.previous is None) != (self.previous_until is None):
            raise ValueError("a previous store key needs the end of its rotation window, and only it")
        if self.previous is not None and self.previous == self.current:
            raise ValueError("the previous store key is the current one")

    def token(self, uid: bytes) -> str:
        """The card's token under the current key."""
        return card_token(self.current, uid)

    def previous_token(self, uid: bytes, now: datetime) -> str | None:
        """The card's token under the previous key while the rotation window is open at ``now``, else None."""
        if self.previous is None or self.previous_until is None or now >= self.previous_until:
            return None
        return card_token(self.previous, uid)


@dataclass(frozen=True)
class CardLink:
    """What a card token stands for, as pushed by central."""

    kind: str  # "customer" | "staff"
    subject: str  # customer id or staff id


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    assurance: Assurance
    customer: str | None = None
    staff: str | None = None
    may_show: frozenset[Category] = field(default_factory=frozenset)
    invite_to_enrol: bool = False
    reason: str = ""


def decide(link: CardLink | None, consents: Consents, assurance: Assurance, now: datetime | None,
           policy: Mapping[Assurance, frozenset[Category]] = DEFAULT_POLICY, reason: str = "") -> Decision:
    """The session outcome for a read card.

    :param link: the card's link, or None for an unknown card.
    :param consents: the customer's consents: purpose -> end (aware datetimes).
    :param assurance: of the read; ``NONE`` means the read was rejected.
    :param now: the current time (aware); None while the wall clock is not trusted
        (:mod:`edge_agent.clock`): no consent is judged then, so a customer is anonymous, without an
        invitation to enrol (they may well have consented), reason ``clock-not-synchronised``.
    :param policy: which categories may be shown at which assurance.
    """
    if assurance is Assurance.NONE:
        return Decision(Outcome.REJECTED, assurance, reason=reason or "unreadable card")
    if link is None:
        return Decision(Outcome.UNKNOWN_CARD, assurance, invite_to_enrol=True, reason=reason or "unknown card")
    if link.kind == "staff":
        # A staff badge never resolves to a customer, whatever else it is linked to.
        return Decision(Outcome.STAFF, assurance, staff=link.subject)
    if now is None:
        return Decision(Outcome.ANONYMOUS, assurance, reason=CLOCK_NOT_SYNCHRONISED)
    if not consent_valid(consents, RECOGNITION, now):
        return Decision(Outcome.ANONYMOUS, assurance, invite_to_enrol=True,
                        reason="no valid recognition consent")
    may_show = frozenset(policy.get(assurance, frozenset()))
    if not consent_valid(consents, PERSONAL_OFFERS, now):
        may_show -= OFFER_CATEGORIES
    return Decision(Outcome.RECOGNISED, assurance, customer=link.subject, may_show=may_show)
