"""Payloads of store staff at the kiosk: central's staff records, the badge-then-PIN staff mode, the audit
of every staff action, and this device's open staff-assist calls.

Central pushes a staff member as a ``staff`` record (versioned like every push): id, display name, role and
a PIN *verifier*, a salted argon2id hash in its PHC string form with its parameters
(``$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>``); the PIN itself never travels, and is never stored.
Staff badges are ``card-link`` records of kind ``staff`` (:mod:`.payloads_central`).

At the kiosk a staff badge opens a PIN pad (:class:`StaffState` ``pin-required``); the kiosk sends the PIN in
``request/staff-pin`` (local, never retained, never bridged, never logged) and the agent answers with the
staff mode as it now stands (:class:`StaffModeView`). Every staff action, PIN attempts included, goes
upstream as ``event/staff-audit`` (critical: never dropped), naming the staff member by id, never the PIN.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints, model_validator

from .types import Identifier, MessageId, Payload, Phase, SessionId, ShortText, StaffId, Version

# The PHC string of an argon2id hash: version 19, memory (KiB), time and parallelism, salt and hash in
# unpadded base64. Which parameters an agent accepts is its own rule (edge_agent.staff.pin).
PinVerifier = Annotated[str, StringConstraints(
    pattern=r"^\$argon2id\$v=19\$m=[0-9]{1,8},t=[0-9]{1,3},p=[0-9]{1,3}\$[A-Za-z0-9+/]{11,86}\$[A-Za-z0-9+/]{22,86}$"),
    Field(description="argon2id PHC string with its parameters: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>"
                      "$<salt>$<hash> (unpadded base64). Never the PIN.")]
Pin = Annotated[str, StringConstraints(pattern=r"^[0-9]{4,8}$"),
                Field(description="4 to 8 digits. Local only: never retained, bridged, logged or stored.")]


class StaffRole(StrEnum):
    """What a member of staff may do at a kiosk: ``manager`` includes everything ``staff`` may."""

    STAFF = "staff"
    MANAGER = "manager"


class StaffPush(Payload):
    """A member of staff as central knows them; ``active: false`` removes them from the store."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "if": {"properties": {"active": {"const": False}}, "required": ["active"]},
        "else": {"required": ["display_name", "role", "pin_verifier"]},
    })

    staff: StaffId
    version: Version
    display_name: ShortText | None = Field(None, description="The name the kiosk shows (not the id).")
    role: StaffRole | None = None
    pin_verifier: PinVerifier | None = None
    active: bool = Field(True, description="False removes the staff member (left, badge revoked).")

    @model_validator(mode="after")
    def _complete(self) -> StaffPush:
        if self.active and (self.display_name is None or self.role is None or self.pin_verifier is None):
            raise ValueError("an active staff member needs display_name, role and pin_verifier")
        return self


class StaffState(StrEnum):
    """Where a staff badge's session stands at the kiosk."""

    PIN_REQUIRED = "pin-required"  # a staff badge was tapped: the PIN pad
    ACTIVE = "active"  # the right PIN: staff mode
    LOCKED = "locked"  # too many wrong PINs: the badge is locked until locked_until
    REFUSED = "refused"  # the badge names no active staff member of this store
    ENDED = "ended"  # staff mode (or the PIN pad) ended: Klaar, idle, a customer's card, another badge


class StaffModeView(Payload):
    """The staff mode of a session as the kiosk shows it (published on ``local/staff`` on every change, and
    the answer to ``staff-pin`` and ``staff-status``)."""

    session: SessionId
    state: StaffState
    display_name: str | None = Field(None, description="While active: the staff member's name.")
    role: StaffRole | None = Field(None, description="While active: the role granted (see role_limited).")
    role_limited: Literal["sun-required"] | None = Field(
        None, description="A manager's badge that is not SUN-verified, where the store requires it: granted "
                          "the staff role only.")
    attempts_left: int | None = Field(None, ge=0, description="PIN pad: wrong PINs left before the badge locks.")
    locked_until: AwareDatetime | None = Field(None, description="Locked: when the badge may try again.")
    idle_s: float | None = Field(None, gt=0, description="While active: staff mode ends this long after the last "
                                                         "touch (the kiosk shows the countdown).")
    reason: str | None = Field(None, description="Why: wrong-pin, locked, unknown-staff, or why it ended.")


class StaffPinRequest(Payload):
    """The PIN typed on the kiosk's PIN pad for this session's staff badge."""

    session: SessionId
    pin: Pin


class AuditResult(StrEnum):
    """How a staff action came out."""

    OK = "ok"
    WRONG_PIN = "wrong-pin"
    LOCKED = "locked"  # refused: the badge is locked (the PIN was not even checked)
    REFUSED = "refused"  # not allowed: not in staff mode, the role does not allow it, a badge not SUN-verified
    FAILED = "failed"  # allowed, but it could not be done


class StaffAuditEvent(Payload):
    """One staff action at this device: who (staff id, none for a badge of no known staff member), what,
    on what, how it came out and when. PIN attempts are actions; the PIN is never part of one."""

    staff: StaffId | None
    action: Identifier = Field(description="pin-attempt, staff-mode-start, staff-mode-end, audit-read, "
                                           "call-handled, and the content and check actions.")
    target: str | None = Field(None, max_length=200, description="What the action was on (an item, a call…).")
    result: AuditResult
    at: AwareDatetime


class StaffAuditEntry(StaffAuditEvent):
    """An audited action as a manager reads it at the kiosk, with the id of its event."""

    event: MessageId


class StaffAuditResult(Payload):
    """The last staff actions at this device, newest first."""

    entries: list[StaffAuditEntry]


class StaffCallView(Payload):
    """A staff-assist call made at this kiosk: when, how long it has waited, in which phase and for what."""

    call: MessageId = Field(description="The id of its event/staff-assist.")
    at: AwareDatetime
    waited_s: float = Field(ge=0)
    phase: Phase | None = None
    topic: Identifier | None = None
    handled_at: AwareDatetime | None = None


class StaffCallsResult(Payload):
    """This device's open staff-assist calls, oldest first."""

    calls: list[StaffCallView]


class StaffCallRequest(Payload):
    """Mark one of this device's calls handled."""

    session: SessionId
    call: MessageId


class StaffCallState(Payload):
    """A call made at this kiosk was answered: a member of staff is coming (the console's "Ik kom eraan", with
    the name the kiosk shows) or it was handled (the kiosk may tell the shopper). Nothing about the shopper."""

    call: MessageId
    state: Literal["coming", "handled"]
    display_name: ShortText | None = Field(None, description="Coming: the staff member's name (\"Anna komt "
                                                             "eraan\"). Store LAN only, never retained.")
