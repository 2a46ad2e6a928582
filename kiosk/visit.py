"""One shopper's visit to the kiosk: everything personal the kiosk holds, in one object.

A visit lasts from the first touch or tap until the kiosk forgets it (an ended
session, "Klaar", a withdrawal, the idle timeout). Everything that belongs to
it lives in one :class:`Visit`: the session as the screen may show it, the
preferences the shopper changed, and each answer the agent gave. Forgetting
the visit is replacing that object with a new one
(:meth:`kiosk.state.KioskState.wipe`), so a field added here is wiped without
anyone having to remember it.

Each answer is an :class:`Answer`: a :class:`Status`, the value the agent sent
(a result model of :mod:`edge_agent.contract`, or nothing for an action such as
``enrol``) and the error text of a failure. Answers are immutable: a new
answer replaces the old one, so a view can tell a change by identity.

What the screens show of a visit is :meth:`Visit.view`, one flat mapping
derived from the fields (an answer ``product`` gives ``product`` and
``product_status``); the app makes a Kivy property of each entry and the status
file takes the statuses (:meth:`Visit.statuses`), so neither lists them by hand.

No Kivy here: the state machine and its tests use these types alone.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Generic, TypeVar

from edge_agent.contract import (
    AccountResult,
    CallShareResult,
    ConsoleCodeResult,
    MyDataResult,
    OffersResult,
    ProductResult,
    PromoCodeResult,
    SessionPayload,
    StaffAuditResult,
    StaffCallsResult,
    StaffModeView,
)
from edge_agent.contract.payloads_device_checks import (
    DeviceChecksReport,
    DeviceTestResult,
    ReaderTestState,
    RestartKioskResult,
)


class Mode(StrEnum):
    """Who is at the kiosk."""

    NOBODY = "nobody"
    CUSTOMER = "customer"  # recognised: personal screens
    ANONYMOUS = "anonymous"  # anonymous, unknown card, rejected card
    STAFF = "staff"


@dataclass(frozen=True)
class Session:
    """The current session as the screen may show it. Holds personal data."""

    id: str
    mode: Mode
    outcome: str
    assurance: str
    may_show: frozenset[str]
    invite_to_enrol: bool
    first_name: str | None = None
    language: str | None = None
    tier: str | None = None
    points: int | None = None
    staff: str | None = None
    reason: str | None = None

    @classmethod
    def from_payload(cls, payload: SessionPayload) -> Session:
        """The session of the agent's ``started`` message, with only what ``may_show`` allows."""
        outcome = str(payload.outcome)
        mode = {"recognised": Mode.CUSTOMER, "staff": Mode.STAFF}.get(outcome, Mode.ANONYMOUS)
        customer = payload.customer if mode is Mode.CUSTOMER else None
        may_show = frozenset(payload.may_show)
        return cls(
            id=payload.session, mode=mode, outcome=outcome, assurance=str(payload.assurance), may_show=may_show,
            invite_to_enrol=payload.invite_to_enrol,
            # The agent already leaves out what may not be shown; checking
            # may_show as well means a mistake there still shows nothing.
            first_name=customer.first_name if customer and "first_name" in may_show else None,
            language=customer.language if customer else None,
            tier=customer.tier if customer and "tier" in may_show else None,
            points=customer.points if customer and "points" in may_show else None,
            staff=payload.staff if mode is Mode.STAFF else None,
            reason=payload.reason,
        )


@dataclass(frozen=True)
class Preferences:
    """What a shopper can change on screen; back to the configured ones when they leave."""

    language: str = "nl"
    high_contrast: bool = False
    text_scale: float = 1.0


class Status(StrEnum):
    """Where an answer stands. The words are the ones the ``.kv`` files, :mod:`kiosk.texts` and the status
    file use; each answer goes through some of them (see the fields of :class:`Visit`)."""

    IDLE = "idle"  # nothing asked (yet, or since its screen was opened)
    LOADING = "loading"  # data asked for: product, offers, account, my-data
    LOADED = "loaded"
    CHECKING = "checking"  # a promo code is with the agent
    CHECKED = "checked"
    INVALID = "invalid"  # a promo code the kiosk refused before asking (not letters, digits and dashes)
    CONFIRM = "confirm"  # "forget me" waits for its confirmation
    SENDING = "sending"  # an action sent: enrol, feedback, a staff call, an offer's activation, a withdrawal
    SENT = "sent"
    FAILED = "failed"  # the agent answered with an error, or not in time


T = TypeVar("T")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """The agent's answer to one of the visit's requests, or where that request stands.

    :param status: where it stands.
    :param value: what the agent sent (for ``LOADED``/``CHECKED``; an answer being asked again may keep the
        last one on screen until the new one is in), or None.
    :param error: why it failed (``FAILED``), or None.
    """

    status: Status = Status.IDLE
    value: T | None = None
    error: str | None = None

    def again(self) -> Answer[T]:
        """Asked again: loading, with the last value still shown until the new one is in."""
        return Answer(Status.LOADING, self.value)


# A field that has no entry of its own in Visit.view() (the app shows the preferences as its language,
# theme and text size).
NOT_IN_VIEW = {"in_view": False}


@dataclass
class Visit:
    """Everything the kiosk holds of the shopper in front of it. A wipe replaces it whole.

    The statuses each answer goes through: ``product``, ``offers``, ``account`` and ``my_data`` idle ->
    loading -> loaded | failed; ``promo`` idle -> checking -> checked | failed, or invalid; ``enrol``,
    ``feedback`` and ``assist`` idle -> sending -> sent | failed; ``withdrawal`` idle -> confirm -> sending
    -> failed (when it succeeds the visit is wiped).
    """

    session: Session | None = None
    prefs: Preferences = field(default_factory=Preferences, metadata=NOT_IN_VIEW)
    product: Answer[ProductResult] = field(default_factory=Answer)  # Informeer (the customer's own price!)
    product_gtin: str | None = None  # what was scanned: an answer for another GTIN is an earlier scan's
    offers: Answer[OffersResult] = field(default_factory=Answer)  # Converteer
    activations: Mapping[str, Status] = field(default_factory=dict)  # offer -> sending | failed; replaced
    promo: Answer[PromoCodeResult] = field(default_factory=Answer)
    account: Answer[AccountResult] = field(default_factory=Answer)  # Begrijp, Ontzorg, Continueer
    my_data: Answer[MyDataResult] = field(default_factory=Answer)  # Mijn gegevens
    withdrawal: Answer[None] = field(default_factory=Answer)
    enrol: Answer[None] = field(default_factory=Answer)
    feedback: Answer[None] = field(default_factory=Answer)
    feedback_score: int | None = None  # the score the shopper gave
    assist: Answer[None] = field(default_factory=Answer)  # "Roep een medewerker"
    video: str | None = None  # the instruction video (content pack id) Ontzorg plays
    # Store staff (kiosk/staff_state.py): the staff mode as the agent last told it, the staff screens'
    # answers, and the PIN pad. The digits typed are no entry of the view (no property, no status file, no
    # screen shows them): only how many there are, as dots. A wipe forgets them with the rest.
    staff_mode: StaffModeView | None = None
    staff_audit: Answer[StaffAuditResult] = field(default_factory=Answer)  # managers: the last 50 actions
    staff_calls: Answer[StaffCallsResult] = field(default_factory=Answer)  # this device's open calls
    staff_calls_at: float | None = field(default=None, metadata=NOT_IN_VIEW)  # kiosk clock of that answer
    pin: str = field(default="", repr=False, metadata=NOT_IN_VIEW)
    pin_length: int = 0
    pin_status: Status = Status.IDLE  # idle -> sending -> idle (wrong PIN, locked) | failed
    assist_call: str | None = field(default=None, metadata=NOT_IN_VIEW)  # the event id of the shopper's call
    assist_handled: bool = False  # a member of staff marked that call handled
    # Clienteling (edge_agent.clienteling): a recognised shopper's call asks whether staff may see who they are,
    # for this call only: idle -> confirm (the question) -> sending -> sent (the value says whether shared) |
    # failed. And the name of the member of staff on the way ("Anna komt eraan"), from the store console.
    assist_share: Answer[CallShareResult] = field(default_factory=Answer)
    assist_coming: str | None = None
    # The device checks in staff mode (kiosk/device_checks_state.py): the agent's figures, the reader test
    # armed, the managers' test event and kiosk restart. Nothing personal in any of them.
    device_checks: Answer[DeviceChecksReport] = field(default_factory=Answer)
    reader_test: Answer[ReaderTestState] = field(default_factory=Answer)
    test_event: Answer[DeviceTestResult] = field(default_factory=Answer)
    kiosk_restart: Answer[RestartKioskResult] = field(default_factory=Answer)
    # The one-time code for the store console (kiosk/console_code_state.py): shown on the staff home until it
    # expires, wiped with the visit.
    console_code: Answer[ConsoleCodeResult] = field(default_factory=Answer, repr=False)

    def view(self) -> dict[str, object]:
        """What the screens show, flat: each field by its name, an answer as its value (when it carries
        one) and its status (``<name>_status``). The values are the visit's own, not copies."""
        view: dict[str, object] = {}
        for name, status_name, carries_value in _VIEW:
            value = getattr(self, name)
            if status_name is None:
                view[name] = value
                continue
            if carries_value:
                view[name] = value.value
            view[status_name] = value.status
        return view

    def statuses(self) -> dict[str, Status]:
        """Every answer's status as ``<name>_status`` (nothing personal: for the status file)."""
        return {status_name: getattr(self, name).status for name, status_name, _ in _VIEW if status_name}


def _answers() -> dict[str, type | None]:
    """Each answer field of :class:`Visit` and the type of its value (None: it carries none), from its type
    hint: the one place that says what an answer holds."""
    answers: dict[str, type | None] = {}
    for name, hint in typing.get_type_hints(Visit).items():
        if typing.get_origin(hint) is Answer:
            value_type = typing.get_args(hint)[0]
            answers[name] = None if value_type is type(None) else value_type
    return answers


ANSWERS = _answers()

# (field, its status entry or None when it is no answer, whether its value is an entry) for Visit.view().
_VIEW: tuple[tuple[str, str | None, bool], ...] = tuple(
    (item.name, f"{item.name}_status" if item.name in ANSWERS else None, ANSWERS.get(item.name) is not None)
    for item in fields(Visit) if item.metadata.get("in_view", True))

__all__ = ["ANSWERS", "NOT_IN_VIEW", "Answer", "Mode", "Preferences", "Session", "Status", "Visit"]
