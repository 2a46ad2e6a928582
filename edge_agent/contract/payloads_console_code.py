"""Payloads of the one-time code for the store console (issue 16): a badge tapped at any kiosk logs its member
in on their phone.

In staff mode at a kiosk (badge, then PIN) the kiosk asks its agent for a code (``request/staff-console-code``,
the session's id only). The agent draws a random code of :data:`CODE_DIGITS` digits, valid once and for a short
while, answers the kiosk with the code (shown on the screen, on the kiosk's own local topic, which only its
screen reads) and offers it to the console on ``local/console-code``: the staff member's id, name and the role
granted in that staff mode, and only a *verifier* of the code, a salted argon2id hash like a PIN's (the code
itself never reaches the broker on the console's topic). Only agents publish offers and only the console reads
them (the ACL, :mod:`edge_agent.contract.roles`); never retained, never bridged.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from .payloads_staff import PinVerifier, StaffRole
from .types import MessageId, Payload, ShortText, StaffId

#: The code's length in digits: typed on a phone's number pad; 10^8 codes, each guess an argon2id hash.
CODE_DIGITS = 8

ConsoleCode = Annotated[str, StringConstraints(pattern=rf"^[0-9]{{{CODE_DIGITS}}}$"),
                        Field(description=f"{CODE_DIGITS} digits, valid once. Shown at the kiosk; never logged.")]


class ConsoleCodeResult(Payload):
    """The answer to the kiosk: the code to show, and until when it may be used."""

    code: ConsoleCode
    valid_until: AwareDatetime


class ConsoleCodeOffer(Payload):
    """A one-time code offered to the console for a member in staff mode at a kiosk (the code's verifier only)."""

    offer: MessageId = Field(description="The offer's id (the console forgets an offer once used).")
    staff: StaffId
    display_name: ShortText
    role: StaffRole = Field(description="The role granted in that staff mode (a manager's badge that is not "
                                        "SUN-verified, where the store requires it, is granted staff only).")
    verifier: PinVerifier = Field(description="argon2id PHC string of the code (salted); never the code.")
    valid_until: AwareDatetime
