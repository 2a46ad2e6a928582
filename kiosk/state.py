"""What the kiosk shows, decided from what the agent publishes and what the shopper does.

A pure state machine: no Kivy, no MQTT, no clock of its own (one is passed
in), so every rule can be tested alone. The app feeds it events on Kivy's
main thread and turns what it returns into requests to the agent:

* a ``started`` session replaces whatever was shown before; the outcome picks
  the screen: recognised -> Begrijp, staff -> the staff screen, anonymous /
  unknown card / rejected -> anonymous mode with an invitation to opt in;
* an ``ended`` session of the current session, "Klaar", a withdrawal or the
  idle timeout wipe everything personal and go back to Bereik (attract);
* the idle timeout (``idle_timeout_s``) runs from the last touch; during its
  last ``countdown_s`` seconds :meth:`KioskState.countdown` says how many are
  left, so the screen can show it; while the screen is touched, :meth:`KioskState.tick` sends the agent
  a ``touch`` request at most every :data:`TOUCH_EVERY_S` seconds, so the agent's own idle limit of the
  session counts browsing as use;
* a session the agent could not record (rejected, reason ``try-again``: a full disk on the agent) changes
  nothing on screen but a notice asking to tap again;
* presence (anonymous, from the camera) wakes Bereik: it invites the shopper to tap a card or
  scan a product, and goes back to the attract loop when nobody is there;
* a recognised customer's session asks the agent for their ``account`` at once: Begrijp shows
  their recent purchases and a pick-up order that is ready, Ontzorg their orders;
* Continueer shows the agent's ``account`` answer (points, tier, progress to the next tier: the
  agent computes them, the kiosk does no loyalty maths of its own), a feedback question and
  "call a staff member" (both also for shoppers without a session);
* Inspireer shows the content pack's carousels; a product tapped there opens Informeer
  (browsing), like a scan;
* Ontzorg shows the customer's orders and the content pack's instruction videos; the one playing
  is the visit's ``video`` (the player itself is the view's), and while it plays the view
  keeps the session alive with :meth:`KioskState.touched`;
* a scan or a shelf pickup opens Informeer and asks the agent for the product (with the session, for
  the customer's own price and why); "Terug" goes back, the idle timeout and "Klaar" end it;
* Mijn gegevens asks the agent for the customer's data; withdrawing consent
  takes two taps and a confirmation.

Personal data (the customer view of the session, the agent's answers, the language of the profile)
lives only in :attr:`KioskState.visit` (:class:`kiosk.visit.Visit`); :meth:`KioskState.wipe`
replaces it with a new one and resets everything else a shopper may have changed. The agent's
responses enter the visit in one place, :meth:`KioskState.on_response`, through :data:`RESPONSES`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Self

from edge_agent.contract import (
    LANGUAGES,
    ActivateOfferResult,
    BirthPayload,
    HealthPayload,
    OffersResult,
    Phase,
    PresenceState,
    ProductResult,
    PromoCodeResult,
    QueuedResult,
    ScanPayload,
    SessionPayload,
    ShelfPayload,
    StatePayload,
)

from .console_code_state import ConsoleCodeMixin
from .device_checks_state import DeviceChecksMixin
from .staff_state import StaffStateMixin
from .visit import ANSWERS, Answer, Mode, Preferences, Session, Status, Visit

logger = logging.getLogger(__name__)

def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it (the screen translates it)."""
    return message


class Screen(StrEnum):
    """The screens, named as the kiosk and its ``.kv`` files name them (the Store Sales Cycle's Dutch
    phases), each with the phase it serves (:attr:`phase`: the contract's word, which feedback and staff
    calls carry upstream)."""

    phase: Phase

    # Makes the members below. ``Screen("ontzorg")`` looks one up without calling this; the default is there
    # because mypy takes that look-up for a call of it.
    def __new__(cls, name: str, phase: Phase | None = None) -> Self:
        if phase is None:
            raise TypeError(f"screen {name!r} needs the phase it serves")
        member = str.__new__(cls, name)
        member._value_ = name
        member.phase = phase
        return member

    BEREIK = "bereik", Phase.REACH
    BEGRIJP = "begrijp", Phase.UNDERSTAND
    ENROLMENT = "enrolment", Phase.UNDERSTAND
    INSPIREER = "inspireer", Phase.INSPIRE
    INFORMEER = "informeer", Phase.INFORM
    CONVERTEER = "converteer", Phase.CONVERT
    ONTZORG = "ontzorg", Phase.AFTER_CARE
    CONTINUEER = "continueer", Phase.CONTINUE
    MIJN_GEGEVENS = "mijn-gegevens", Phase.CONTINUE
    STAFF = "staff", Phase.CONTINUE
    # Store staff (kiosk/staff_state.py): the PIN pad, and the staff screens besides the staff home.
    STAFF_PIN = "staff-pin", Phase.CONTINUE
    STAFF_CALLS = "staff-calls", Phase.CONTINUE
    STAFF_AUDIT = "staff-audit", Phase.CONTINUE
    STAFF_CHECKS = "staff-checks", Phase.CONTINUE  # the device checks (kiosk/device_checks_state.py)
    INHOUD = "inhoud", Phase.CONTINUE  # staff: the content under the store's control (kiosk.screens.inhoud)
    VOORBEELD = "voorbeeld", Phase.CONTINUE  # staff: previews of the content (kiosk.screens.voorbeeld)


# Screens a shopper may open in each mode; the first is where a session starts.
# Informeer opens on a scan, a shelf pickup or a product tapped in Inspireer, for anyone but staff.
# Without a card (NOBODY) a shopper may browse Inspireer and watch instruction videos; without
# recognition (ANONYMOUS) the phases are the same as a customer's, without anything personal.
SCREENS: dict[Mode, tuple[Screen, ...]] = {
    Mode.NOBODY: (Screen.BEREIK, Screen.INSPIREER, Screen.ONTZORG, Screen.CONTINUEER, Screen.INFORMEER),
    Mode.CUSTOMER: (Screen.BEGRIJP, Screen.INSPIREER, Screen.CONVERTEER, Screen.ONTZORG, Screen.CONTINUEER,
                    Screen.MIJN_GEGEVENS, Screen.INFORMEER),
    Mode.ANONYMOUS: (Screen.ENROLMENT, Screen.INSPIREER, Screen.CONVERTEER, Screen.ONTZORG, Screen.CONTINUEER,
                     Screen.INFORMEER),
    # A staff badge starts on the PIN pad; after the PIN, kiosk.staff_state decides by role (KioskState.screens).
    Mode.STAFF: (Screen.STAFF_PIN, Screen.STAFF, Screen.STAFF_CALLS, Screen.STAFF_AUDIT, Screen.INHOUD,
                 Screen.VOORBEELD),
}

# The fixed reasons a shopper can give with a low feedback score (the agent takes identifiers only).
FEEDBACK_REASONS: tuple[str, ...] = ("product-info", "waiting-time", "prices", "staff-help", "other")

# Notices shown after a session (never personal). Message ids, translated by the screen.
NOTICE_WITHDRAWN = N_("Uw toestemming is ingetrokken en uw gegevens zijn gewist.")
NOTICE_GOODBYE = N_("Tot ziens!")
NOTICE_TIMED_OUT = N_("De sessie is gestopt omdat het scherm even niet is gebruikt.")
NOTICE_TRY_AGAIN = N_("Dat lukte even niet. Houd uw pas nog eens bij de lezer.")

# The reason of a session the agent shows as rejected because it could not record the tap (a full disk, a
# locked database: edge_agent.sessions.TRY_AGAIN): nothing is wrong with the card or the shopper.
TRY_AGAIN = "try-again"
# While the screen is used without requests to the agent (browsing, a video), a "touch" request at most this
# often keeps the agent's own idle limit of the session from ending it ([sessions] idle_s on the agent).
TOUCH_EVERY_S = 5.0


@dataclass(frozen=True)
class Request:
    """An effect: send local request ``command`` for ``session`` (None: no session, e.g. an anonymous
    product look-up) to the agent, in ``language`` when the request carries one, for ``gtin`` when it
    names a product."""

    command: str
    session: str | None
    language: str | None = None
    gtin: str | None = None
    offer: str | None = None
    code: str | None = None
    score: int | None = None
    reason: str | None = None
    phase: Phase | None = None
    topic: str | None = None
    pin: str | None = field(default=None, repr=False)  # staff-pin: never in a repr, hence never in a log
    call: str | None = None  # staff-call-handled, staff-call-share
    share: bool | None = None  # staff-call-share: the shopper's yes or no

    def fields(self) -> dict[str, str | int | bool]:
        """The request's own fields besides session, language and gtin (offer, code, score…) that are set."""
        return {name: value for name in ("offer", "code", "score", "reason", "phase", "topic", "pin", "call", "share")
                if (value := getattr(self, name)) is not None}


@dataclass(frozen=True)
class Reply:
    """How the response to one command enters the visit.

    :param answer: the :class:`kiosk.visit.Visit` answer it fills (what its value must be is that field's type).
    :param done: that answer's status when the agent said yes.
    """

    answer: str
    done: Status


# Every response the kiosk takes in as an answer of the visit ("activate-offer" answers per offer: see
# KioskState._on_activated).
RESPONSES: dict[str, Reply] = {
    "product": Reply("product", Status.LOADED),
    "offers": Reply("offers", Status.LOADED),
    "check-promo-code": Reply("promo", Status.CHECKED),
    "account": Reply("account", Status.LOADED),
    "my-data": Reply("my_data", Status.LOADED),
    "withdraw-consent": Reply("withdrawal", Status.SENT),
    "enrol": Reply("enrol", Status.SENT),
    "feedback": Reply("feedback", Status.SENT),
    "staff-assist": Reply("assist", Status.SENT),
    "staff-call-share": Reply("assist_share", Status.SENT),  # clienteling: the shopper's yes or no
    # Store staff (kiosk/staff_state.py); staff-pin and staff-status answer with the staff mode itself.
    "staff-audit-log": Reply("staff_audit", Status.LOADED),
    "staff-calls": Reply("staff_calls", Status.LOADED),  # staff-call-handled answers with the open calls too
    # The device checks (kiosk/device_checks_state.py).
    "device-checks": Reply("device_checks", Status.LOADED),
    "reader-test": Reply("reader_test", Status.SENT),
    "test-event": Reply("test_event", Status.SENT),
    "restart-kiosk": Reply("kiosk_restart", Status.SENT),
    # The one-time code for the store console (kiosk/console_code_state.py).
    "staff-console-code": Reply("console_code", Status.LOADED),
}


@dataclass
class DeviceInfo:
    """What the agent says about itself (never personal): retained state and birth, periodic health."""

    state: StatePayload | None = None
    birth: BirthPayload | None = None
    health: HealthPayload | None = None
    health_at: float | None = None  # monotonic time the last health arrived
    broker_connected: bool = False  # the kiosk's own connection
    malformed: int = 0  # messages the kiosk ignored


TEXT_SCALES: tuple[float, ...] = (1.0, 1.25, 1.5)


class KioskState(StaffStateMixin, DeviceChecksMixin, ConsoleCodeMixin):
    """The kiosk's state machine. Call it from one thread only (Kivy's).

    :param idle_timeout_s: a session ends this long after the last touch.
    :param countdown_s: the countdown is shown for this many last seconds.
    :param defaults: preferences at start and after every session.
    :param notice_s: how long a notice after a session (e.g. "Tot ziens!") stays.
    :param clock: monotonic seconds; replaceable in tests.

    Every method that may need the agent returns the :class:`Request` effects
    to send; the caller sends them.
    """

    def __init__(self, idle_timeout_s: float = 45.0, countdown_s: float = 10.0,
                 defaults: Preferences | None = None, notice_s: float = 8.0,
                 clock: Callable[[], float] = time.monotonic):
        if idle_timeout_s <= 0 or countdown_s < 0 or countdown_s > idle_timeout_s:
            raise ValueError("need idle_timeout_s > 0 and 0 <= countdown_s <= idle_timeout_s")
        self.idle_timeout_s = idle_timeout_s
        self.countdown_s = countdown_s
        self.notice_s = notice_s
        self._defaults = defaults or Preferences()
        self._clock = clock
        self.screen: Screen = Screen.BEREIK
        self.visit = Visit(prefs=self._defaults)  # everything personal; replaced whole by wipe()
        self._product_back: Screen = Screen.BEREIK  # where "Terug" on Informeer goes
        self.notice: str | None = None
        self._notice_until = 0.0
        self.device = DeviceInfo()
        self.present = False  # someone in front of the camera (anonymous): Bereik wakes
        self._last_touch = clock()
        self._touch_sent = self._last_touch  # when the last touch request was sent, or the session began
        self.version = 0  # bumped on every change, so a view can tell it is stale

    # ------------------------------------------------------------------ derived

    @property
    def mode(self) -> Mode:
        session = self.visit.session
        return session.mode if session else Mode.NOBODY

    @property
    def screens(self) -> tuple[Screen, ...]:
        """The screens the current user may open (staff: by staff mode and role, see kiosk.staff_state)."""
        if self.mode is Mode.STAFF:
            return self._staff_allowed()
        return SCREENS[self.mode]

    @property
    def idle_running(self) -> bool:
        """True while something would be reset by the idle timeout (a session, or changed preferences)."""
        visit = self.visit
        return (visit.session is not None or self.screen is not Screen.BEREIK
                or visit.product.status is not Status.IDLE or visit.prefs != self._defaults)

    def remaining(self) -> float | None:
        """Seconds until the idle timeout, or None when nothing times out."""
        if not self.idle_running:
            return None
        return max(0.0, self._last_touch + self._idle_limit_s() - self._clock())

    def countdown(self) -> int | None:
        """Whole seconds left while the countdown is to be shown (last ``countdown_s`` seconds of a
        session), else None."""
        remaining = self.remaining()
        if self.visit.session is None or remaining is None or remaining > self.countdown_s:
            return None
        return math.ceil(remaining)

    def _session_id(self) -> str | None:
        session = self.visit.session
        return session.id if session else None

    # ------------------------------------------------------------------ from the agent

    def on_session(self, payload: SessionPayload) -> list[Request]:
        """A session message from the agent."""
        current = self._session_id()
        if payload.state == "ended":
            if current is not None and payload.session == current:
                logger.info("session ended by the agent (%s)", payload.reason or "no reason")
                notices = {"consent-withdrawn": NOTICE_WITHDRAWN, "new-tap": None}
                self.wipe(notices.get(payload.reason or "", NOTICE_GOODBYE))
            return []
        if current == payload.session:
            return []  # a duplicate delivery (QoS 1)
        if str(payload.outcome) == "rejected" and payload.reason == TRY_AGAIN:
            # A transient failure on the agent, not an anonymous shopper: what is shown stays, with a
            # request to tap again.
            logger.info("tap not recorded by the agent: asking to tap again")
            self.notice = NOTICE_TRY_AGAIN
            self._notice_until = self._clock() + self.notice_s
            self._changed()
            return []
        self.wipe(None)
        session = Session.from_payload(payload)
        visit = self.visit
        visit.session = session
        if session.language in LANGUAGES:
            visit.prefs = replace(visit.prefs, language=session.language)
        self.screen = SCREENS[session.mode][0]
        self._last_touch = self._touch_sent = self._clock()
        logger.info("session started: %s -> %s", session.outcome, self.screen.value)
        self._changed()
        if session.mode is Mode.CUSTOMER:
            # Recent purchases and a ready order on Begrijp; the same answer serves Ontzorg and Continueer.
            visit.account = Answer(Status.LOADING)
            return [Request("account", session.id)]
        return []

    def on_response(self, command: str, session: str | None, ok: bool, data: object | None,
                    error: str | None) -> list[Request]:
        """The agent's answer (or a time-out, ``ok`` False) to a request this kiosk sent for ``session``.

        An answer of :data:`RESPONSES` replaces the visit's answer it names: with the agent's value and
        that reply's ``done`` status when the agent said yes with a value of the answer's type, else
        ``failed`` with the error.
        """
        if session != self._session_id():
            return []  # for a session that is gone: nothing of it may come back
        if command == "touch":
            return []  # nothing to show: a session it found ended is ended by the agent's session message
        visit = self.visit
        if command in ("staff-pin", "staff-status"):
            self._on_staff_answer(ok, data, error)
            return []
        if command == "staff-call-handled":
            command = "staff-calls"
        if command == "staff-assist" and ok and isinstance(data, QueuedResult):
            visit.assist_call = data.event  # so the kiosk can tell the shopper when staff handled it
            if self.mode is Mode.CUSTOMER:  # recognised: ask whether staff may see who they are, for this call
                visit.assist_share = Answer(Status.CONFIRM)
        if command == "activate-offer":
            self._on_activated(ok, data, error)
        elif (reply := RESPONSES.get(command)) is not None:
            if command == "product" and not self._wants_product(ok, data):
                return []
            value_type = ANSWERS[reply.answer]
            answer: Answer[object]
            if ok and (value_type is None or isinstance(data, value_type)):
                answer = Answer(reply.done, data if value_type is not None else None)
            else:
                logger.warning("%s failed: %s", command, error)
                answer = Answer(Status.FAILED, error=error)
            setattr(visit, reply.answer, answer)
            if command == "withdraw-consent" and answer.status is Status.SENT:
                self.wipe(NOTICE_WITHDRAWN)
                return []
            if isinstance(answer.value, PromoCodeResult):
                self._take_promo_offer(answer.value)
            if reply.answer == "staff_calls":
                self._on_calls()
        self._changed()
        return []

    def _wants_product(self, ok: bool, data: object | None) -> bool:
        """Whether a product answer is for the product on screen: asked for and not yet answered, and not
        the answer to an earlier scan."""
        if self.visit.product.status is not Status.LOADING:
            return False
        if ok and isinstance(data, ProductResult):
            return _gtin_key(data.product.gtin) == _gtin_key(self.visit.product_gtin or "")
        return True

    def _on_activated(self, ok: bool, data: object | None, error: str | None) -> None:
        """The answer to activating an offer: it applies now, or its activation failed."""
        visit = self.visit
        offer = next((name for name, status in visit.activations.items() if status is Status.SENDING), None)
        if ok and data is not None:
            if isinstance(data, ActivateOfferResult):
                offer = data.offer
            visit.activations = {name: status for name, status in visit.activations.items() if name != offer}
            self._mark_applied(offer)
        elif offer is not None:
            logger.warning("activate-offer failed: %s", error)
            visit.activations = {**visit.activations, offer: Status.FAILED}

    def _take_promo_offer(self, promo: PromoCodeResult) -> None:
        """A valid promo code's offer applies: marked so among the offers shown, or added to them."""
        offers = self.visit.offers.value
        if not promo.valid or promo.offer is None or offers is None:
            return
        if promo.offer.offer in {view.offer for view in offers.offers}:
            self._mark_applied(promo.offer.offer)
        else:
            self._set_offers(offers.model_copy(update={"offers": [*offers.offers, promo.offer]}))

    def on_presence(self, payload: PresenceState) -> None:
        """The camera sees someone (``present``) or nobody any more: Bereik wakes up or goes back to its loop."""
        present = payload.state == "present"
        if present != self.present:
            self.present = present
            self._changed()

    def _mark_applied(self, offer: str | None) -> None:
        offers = self.visit.offers.value
        if offers is None or offer is None:
            return
        views = [view.model_copy(update={"applies": True}) if view.offer == offer else view
                 for view in offers.offers]
        self._set_offers(offers.model_copy(update={"offers": views}))

    def _set_offers(self, offers: OffersResult) -> None:
        """The offers shown change (one applies now, a promo code's was added); their status stays."""
        self.visit.offers = replace(self.visit.offers, value=offers)

    def activate_offer(self, offer: str) -> list[Request]:
        """The customer activates ``offer`` (one that needs it and does not apply yet)."""
        self.touched()
        visit = self.visit
        offers = visit.offers.value
        if visit.session is None or self.mode is not Mode.CUSTOMER or offers is None:
            return []
        view = next((v for v in offers.offers if v.offer == offer), None)
        if (view is None or not view.needs_activation or view.applies
                or visit.activations.get(offer) is Status.SENDING):
            return []
        visit.activations = {**visit.activations, offer: Status.SENDING}
        self._changed()
        return [Request("activate-offer", visit.session.id, offer=offer)]

    def check_promo_code(self, code: str) -> list[Request]:
        """The shopper entered a promo code; the agent checks it (upper case, letters, digits, dashes)."""
        self.touched()
        code = code.strip().upper()
        visit = self.visit
        if visit.session is None or visit.promo.status is Status.CHECKING:
            return []
        if not code or len(code) > 32 or not all(c.isascii() and (c.isalnum() or c == "-") for c in code):
            visit.promo = Answer(Status.INVALID)
            self._changed()
            return []
        visit.promo = Answer(Status.CHECKING)
        self._changed()
        return [Request("check-promo-code", visit.session.id, visit.prefs.language, code=code)]

    def on_scan(self, payload: ScanPayload) -> list[Request]:
        """A product held up to the camera: Informeer shows it."""
        return self.show_product(payload.gtin)

    def on_shelf(self, payload: ShelfPayload) -> list[Request]:
        """A product lifted from its shelf (shown, like a scan) or put back (nothing changes)."""
        return self.show_product(payload.gtin) if payload.action == "pickup" else []

    def show_product(self, gtin: str) -> list[Request]:
        """Open Informeer for ``gtin`` and ask the agent for it, with the session for the customer's own price."""
        if self.mode is Mode.STAFF:
            return []  # the staff screen shows the device, not products
        self.touched()
        if self.screen is not Screen.INFORMEER:
            self._product_back = self.screen
        self.screen = Screen.INFORMEER
        visit = self.visit
        visit.product, visit.product_gtin = Answer(Status.LOADING), gtin
        self._changed()
        return [Request("product", self._session_id(), visit.prefs.language, gtin)]

    def back(self) -> None:
        """"Terug" on Informeer: the screen before it; the product is forgotten."""
        self.touched()
        back = self._product_back if self._product_back in self.screens else self.screens[0]
        self._drop_product()
        self.screen = back
        self._changed()

    def _drop_product(self) -> None:
        self.visit.product, self.visit.product_gtin = Answer(), None
        self._product_back = Screen.BEREIK

    def on_device_state(self, payload: StatePayload) -> None:
        self.device.state = payload
        self._changed()

    def on_birth(self, payload: BirthPayload) -> None:
        self.device.birth = payload
        self._changed()

    def on_health(self, payload: HealthPayload) -> None:
        self.device.health = payload
        self.device.health_at = self._clock()
        self._changed()

    def on_connection(self, connected: bool) -> None:
        self.device.broker_connected = connected
        self._changed()

    def on_malformed(self) -> None:
        """A message that failed validation: counted (the staff screen shows it), otherwise ignored."""
        self.device.malformed += 1
        self._changed()

    # ------------------------------------------------------------------ from the shopper

    def touched(self) -> None:
        """Any touch: the shopper is still there."""
        self._last_touch = self._clock()

    def open(self, screen: Screen) -> list[Request]:
        """The shopper opens ``screen``; ignored when it is not theirs to open."""
        self.touched()
        if screen not in self.screens:
            logger.warning("screen %s is not available in mode %s", screen.value, self.mode.value)
            return []
        if screen is Screen.INFORMEER:
            return []  # opened by a scan or a pickup only
        self.screen = screen
        visit = self.visit
        visit.withdrawal = Answer()
        self._drop_product()
        visit.video = None
        if screen is Screen.CONTINUEER:
            visit.feedback, visit.feedback_score, visit.assist = Answer(), None, Answer()
        effects = []
        session = visit.session
        if screen is Screen.MIJN_GEGEVENS and session is not None:
            visit.my_data = Answer(Status.LOADING)
            effects.append(Request("my-data", session.id))
        if screen is Screen.CONVERTEER and session is not None:
            visit.offers = visit.offers.again()
            visit.promo, visit.activations = Answer(), {}
            effects.append(Request("offers", session.id, visit.prefs.language))
        effects.extend(self._staff_open(screen))
        if screen in (Screen.CONTINUEER, Screen.ONTZORG) and session is not None and session.mode is Mode.CUSTOMER:
            visit.account = visit.account.again()  # the last answer stays shown until the new one is in
            effects.append(Request("account", session.id))
        self._changed()
        return effects

    def play(self, instruction: str) -> None:
        """Play the content pack's instruction video ``instruction`` on Ontzorg (opened when elsewhere)."""
        self.touched()
        if Screen.ONTZORG not in self.screens:
            return
        if self.screen is not Screen.ONTZORG:
            self.screen = Screen.ONTZORG
            self._drop_product()
            self.visit.withdrawal = Answer()
        self.visit.video = instruction
        self._changed()

    def stop_video(self) -> None:
        """Close the player: back to Ontzorg's list."""
        self.touched()
        if self.visit.video is not None:
            self.visit.video = None
            self._changed()

    def give_feedback(self, score: int, reason: str | None = None) -> list[Request]:
        """The shopper's answer to the feedback question (1..5, and a fixed reason with a low score)."""
        self.touched()
        if not 1 <= score <= 5 or (reason is not None and reason not in FEEDBACK_REASONS):
            raise ValueError(f"not a feedback answer: {score!r}, {reason!r}")
        visit = self.visit
        if visit.feedback.status in (Status.SENDING, Status.SENT) or self.mode is Mode.STAFF:
            return []
        visit.feedback, visit.feedback_score = Answer(Status.SENDING), score
        self._changed()
        return [Request("feedback", self._session_id(), score=score, reason=reason, phase=self.screen.phase)]

    def call_staff(self, topic: str | None = None) -> list[Request]:
        """"Roep een medewerker": the agent tells the staff where help is wanted (once until it failed)."""
        self.touched()
        if self.visit.assist.status in (Status.SENDING, Status.SENT) or self.mode is Mode.STAFF:
            return []
        self.visit.assist = Answer(Status.SENDING)
        self.visit.assist_share, self.visit.assist_coming = Answer(), None
        self._changed()
        return [Request("staff-assist", self._session_id(), gtin=self.visit.product_gtin, phase=self.screen.phase,
                        topic=topic)]

    def share_with_staff(self, share: bool) -> list[Request]:
        """The recognised shopper's answer to "may the member of staff see who you are, for this call?"."""
        self.touched()
        visit = self.visit
        if visit.assist_share.status not in (Status.CONFIRM, Status.FAILED) or visit.assist_call is None:
            return []
        visit.assist_share = Answer(Status.SENDING)
        self._changed()
        return [Request("staff-call-share", self._session_id(), call=visit.assist_call, share=share)]

    def done(self) -> list[Request]:
        """"Klaar": end the session at the agent and wipe."""
        session = self._session_id()
        effects = [Request("end-session", session)] if session else []
        self.wipe(NOTICE_GOODBYE if session else None)
        return effects

    def ask_withdraw(self) -> None:
        """First tap of "forget me": show the confirmation."""
        self.touched()
        if self.screen is Screen.MIJN_GEGEVENS and self.visit.session is not None:
            self.visit.withdrawal = Answer(Status.CONFIRM)
            self._changed()

    def cancel_withdraw(self) -> None:
        self.touched()
        self.visit.withdrawal = Answer()
        self._changed()

    def confirm_withdraw(self) -> list[Request]:
        """The confirmation: ask the agent to withdraw every consent and erase the customer's data."""
        self.touched()
        visit = self.visit
        if visit.withdrawal.status not in (Status.CONFIRM, Status.FAILED) or visit.session is None:
            return []
        visit.withdrawal = Answer(Status.SENDING)
        self._changed()
        return [Request("withdraw-consent", visit.session.id)]

    def enrol(self) -> list[Request]:
        """The shopper accepts the invitation to opt in."""
        self.touched()
        visit = self.visit
        if (visit.session is None or not visit.session.invite_to_enrol
                or visit.enrol.status in (Status.SENDING, Status.SENT)):
            return []
        visit.enrol = Answer(Status.SENDING)
        self._changed()
        return [Request("enrol", visit.session.id, visit.prefs.language)]

    def set_language(self, language: str) -> None:
        """Switch the language of the screen (until the session ends)."""
        self.touched()
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}")
        self.visit.prefs = replace(self.visit.prefs, language=language)
        self._changed()

    def toggle_contrast(self) -> None:
        self.touched()
        self.visit.prefs = replace(self.visit.prefs, high_contrast=not self.visit.prefs.high_contrast)
        self._changed()

    def next_text_scale(self) -> None:
        """Cycle the text size through :data:`TEXT_SCALES`."""
        self.touched()
        scale = self.visit.prefs.text_scale
        index = TEXT_SCALES.index(scale) if scale in TEXT_SCALES else -1
        self.visit.prefs = replace(self.visit.prefs, text_scale=TEXT_SCALES[(index + 1) % len(TEXT_SCALES)])
        self._changed()

    # ------------------------------------------------------------------ time

    @property
    def ticking(self) -> bool:
        """True while :meth:`tick` has something to do."""
        return self.idle_running or self.notice is not None

    def tick(self) -> list[Request]:
        """Called periodically: ends the session when the idle timeout has passed, clears old notices, and
        tells the agent the screen is in use (a ``touch`` request, at most every :data:`TOUCH_EVERY_S`)."""
        if self.notice is not None and self._clock() >= self._notice_until:
            self.notice = None
            self._changed()
        remaining = self.remaining()
        if remaining is None or remaining > 0:
            # staff mode keeps the agent's staff mode alive; a shopper's session its idle limit
            return self._staff_keepalive() if self.staff_active else self._touch()
        session = self._session_id()
        if session is not None:
            logger.info("session idle for %.0f s: ending it", self._idle_limit_s())
            self.wipe(NOTICE_TIMED_OUT)
            return [Request("end-session", session)]
        self.wipe(None)  # preferences or a notice left on the attract screen
        return []

    def _touch(self) -> list[Request]:
        """A ``touch`` request when the session's screen was touched since the agent last heard of it and
        :data:`TOUCH_EVERY_S` have passed since then; else nothing."""
        session = self._session_id()
        if session is None or self._last_touch <= self._touch_sent:
            return []
        now = self._clock()
        if now - self._touch_sent < TOUCH_EVERY_S:
            return []
        self._touch_sent = now
        return [Request("touch", session)]

    # ------------------------------------------------------------------ wiping

    def wipe(self, notice: str | None) -> None:
        """Forget everything personal and everything the shopper changed; back to Bereik.

        The visit is replaced whole, so nothing in it can be forgotten here.

        :param notice: a non-personal message for the attract screen, or None.
        """
        self.visit = Visit(prefs=self._defaults)
        self._product_back = Screen.BEREIK
        self.screen = Screen.BEREIK
        self.notice = notice
        self._notice_until = self._clock() + self.notice_s
        self._last_touch = self._clock()
        self._changed()

    def _changed(self) -> None:
        self.version += 1


def _gtin_key(gtin: str) -> str:
    """A GTIN without its leading zeros (the agent answers with the 14-digit form)."""
    return gtin.lstrip("0")


__all__ = [
    "FEEDBACK_REASONS",
    "LANGUAGES",
    "N_",
    "RESPONSES",
    "SCREENS",
    "TEXT_SCALES",
    "DeviceInfo",
    "KioskState",
    "Mode",
    "Preferences",
    "Reply",
    "Request",
    "Screen",
    "Session",
]
