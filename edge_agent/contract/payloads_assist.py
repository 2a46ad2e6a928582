"""Payloads of a staff-assist call answered from the store console, and of clienteling by consent.

A shopper's call (``event/staff-assist``, :mod:`.payloads_events`) reaches the store console. A member of staff
answers it there: "Ik kom eraan" (:attr:`CallAnswer.COMING`) or "Afgehandeld" (:attr:`CallAnswer.HANDLED`).
The console sends the answer to the agent of the device that called (``local/request/console-call-answer``; only the
console's login may publish it, so a kiosk screen cannot answer its own calls); the agent records it, audits
it as ``event/staff-audit`` and tells its kiosk on ``local/staff-call`` (:class:`.payloads_staff.StaffCallState`:
"Anna komt eraan"). The answer (:class:`CallAnswerResult`) comes only after the agent applied it.

Clienteling: when a recognised shopper calls, the kiosk asks whether the member of staff may see who they are,
for this call only (``local/request/staff-call-share``, :class:`CallShareRequest`; never assumed, never kept
for a next call). With a yes the agent publishes :class:`ClientelingCall` on ``local/clienteling``: first
name, tier, the product or phase they were on and their recent purchases in that category, as far as the
session may show them. That topic is store LAN only: never retained, never bridged, read only by the console.
When the call is handled or the session ends the agent publishes the same call with ``state: ended`` and
nothing personal, and the console forgets it. Each time a member of staff is shown it, the console tells
the agent (``local/request/console-clienteling-viewed``), which writes it to the customer's data-use log.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from .payloads_kiosk import PurchaseView
from .types import Gtin, MessageId, Payload, Phase, SessionId, ShortText, StaffId

#: The data-use log's entries of clienteling (the kiosk translates them for the customer): the sharing, and each
#: view by a member of staff, followed by their display name.
SHARED_USE = "shared with store staff for a call"
SEEN_USE = "seen by store staff for a call: "


class CallAnswer(StrEnum):
    """What a member of staff answered to a call on the console."""

    COMING = "coming"  # "Ik kom eraan"
    HANDLED = "handled"  # "Afgehandeld": the call is closed


class CallAnswerRequest(Payload):
    """The console's answer to a call made at this device, by a logged-in member of staff."""

    call: MessageId = Field(description="The id of the call's event/staff-assist.")
    answer: CallAnswer
    staff: StaffId = Field(description="Who answered (logged in at the console); the agent checks its own staff "
                                       "records and shows their display name: \"Anna komt eraan\".")


class CallAnswerResult(Payload):
    """The answer as the agent applied it: ``changed`` is false when the call already stood so (an answer
    sent again after a console restart changes nothing and is not audited twice)."""

    call: MessageId
    answer: CallAnswer
    changed: bool


class CallShareRequest(Payload):
    """The shopper's answer at the kiosk: may the member of staff see who they are, for this call only."""

    session: SessionId
    call: MessageId = Field(description="The call this answer is for (the kiosk's own staff-assist).")
    share: bool


class CallShareResult(Payload):
    """What came of the shopper's answer: ``shared`` true when their details went to the console."""

    call: MessageId
    shared: bool


class ClientelingCall(Payload):
    """A recognised shopper's call with who they are, shared with their consent (``state: shared``), or the
    end of that sharing (``state: ended``: the call was handled or the session ended; nothing personal)."""

    call: MessageId
    state: Literal["shared", "ended"]
    first_name: ShortText | None = None
    tier: ShortText | None = Field(None, description="The tier's name in the store's language.")
    phase: Phase | None = None
    gtin: Gtin | None = Field(None, description="The product the shopper was on, if any.")
    product: ShortText | None = Field(None, description="Its name.")
    category: ShortText | None = Field(None, description="Its category: the purchases shown are of it.")
    purchases: list[PurchaseView] = Field(default_factory=list, max_length=5,
                                          description="Recent purchases (in the product's category), newest first.")

    @model_validator(mode="after")
    def _nothing_personal_when_ended(self) -> ClientelingCall:
        if self.state == "ended" and (self.first_name or self.tier or self.purchases or self.gtin):
            raise ValueError("an ended clienteling call carries nothing about the shopper")
        return self


class ClientelingViewed(Payload):
    """The console showed a shared call to a member of staff: the agent logs it for the customer."""

    call: MessageId
    staff: StaffId = Field(description="Who was shown it; the log names them by their display name.")


class ClientelingViewedResult(Payload):
    """``logged`` false when the call is no longer shared (handled, or the session ended): nothing was logged
    and the console should not show it."""

    call: MessageId
    logged: bool
