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
  left, so the screen can show it;
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
  is :attr:`KioskState.video` (the player itself is the view's), and while it plays the view
  keeps the session alive with :meth:`KioskState.touched`;
* a scan or a shelf pickup opens Informeer and asks the agent for the product (with the session, for
  the customer's own price and why); "Terug" goes back, the idle timeout and "Klaar" end it;
* Mijn gegevens asks the agent for the customer's data; withdrawing consent
  takes two taps and a confirmation.

Personal data (the customer view of the session, the answers of ``my-data``,
``account`` and ``product``, the language of the profile) lives only in
:attr:`KioskState.session`, :attr:`KioskState.my_data`, :attr:`KioskState.account`
and :attr:`KioskState.product`; :meth:`KioskState.wipe` drops both and resets
everything a shopper may have changed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from edge_agent.contract import (
    LANGUAGES,
    AccountResult,
    BirthPayload,
    HealthPayload,
    MyDataResult,
    OffersResult,
    PresenceState,
    ProductResult,
    PromoCodeResult,
    ScanPayload,
    SessionPayload,
    ShelfPayload,
    StatePayload,
)

logger = logging.getLogger(__name__)

def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it (the screen translates it)."""
    return message


class Screen(StrEnum):
    """The screens, named by their phase of the Store Sales Cycle."""

    ATTRACT = "bereik"
    WELCOME = "begrijp"
    INSPIRE = "inspireer"
    CARE = "ontzorg"
    ENROL = "enrolment"
    MY_DATA = "mijn-gegevens"
    LOYALTY = "continueer"
    PRODUCT = "informeer"
    OFFERS = "converteer"
    STAFF = "staff"


class Mode(StrEnum):
    """Who is at the kiosk."""

    NOBODY = "nobody"
    CUSTOMER = "customer"  # recognised: personal screens
    ANONYMOUS = "anonymous"  # anonymous, unknown card, rejected card
    STAFF = "staff"


# Screens a shopper may open in each mode; the first is where a session starts.
# Informeer opens on a scan, a shelf pickup or a product tapped in Inspireer, for anyone but staff.
# Without a card (NOBODY) a shopper may browse Inspireer and watch instruction videos; without
# recognition (ANONYMOUS) the phases are the same as a customer's, without anything personal.
SCREENS: dict[Mode, tuple[Screen, ...]] = {
    Mode.NOBODY: (Screen.ATTRACT, Screen.INSPIRE, Screen.CARE, Screen.LOYALTY, Screen.PRODUCT),
    Mode.CUSTOMER: (Screen.WELCOME, Screen.INSPIRE, Screen.OFFERS, Screen.CARE, Screen.LOYALTY, Screen.MY_DATA,
                    Screen.PRODUCT),
    Mode.ANONYMOUS: (Screen.ENROL, Screen.INSPIRE, Screen.OFFERS, Screen.CARE, Screen.LOYALTY, Screen.PRODUCT),
    Mode.STAFF: (Screen.STAFF,),
}

# The phase of the Store Sales Cycle each screen serves (feedback and staff calls say where they came from).
PHASES: dict[Screen, str] = {
    Screen.ATTRACT: "reach", Screen.WELCOME: "understand", Screen.ENROL: "understand", Screen.INSPIRE: "inspire",
    Screen.PRODUCT: "inform", Screen.OFFERS: "convert", Screen.CARE: "after-care", Screen.LOYALTY: "continue",
    Screen.MY_DATA: "continue", Screen.STAFF: "continue",
}

# The fixed reasons a shopper can give with a low feedback score (the agent takes identifiers only).
FEEDBACK_REASONS: tuple[str, ...] = ("product-info", "waiting-time", "prices", "staff-help", "other")

# Notices shown after a session (never personal). Message ids, translated by the screen.
NOTICE_WITHDRAWN = N_("Uw toestemming is ingetrokken en uw gegevens zijn gewist.")
NOTICE_GOODBYE = N_("Tot ziens!")
NOTICE_TIMED_OUT = N_("De sessie is gestopt omdat het scherm even niet is gebruikt.")


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
    phase: str | None = None
    topic: str | None = None

    def fields(self) -> dict[str, str | int]:
        """The request's own fields besides session and language (gtin, offer, code…) that are set."""
        return {name: value for name in ("gtin", "offer", "code", "score", "reason", "phase", "topic")
                if (value := getattr(self, name)) is not None}


@dataclass(frozen=True)
class Session:
    """The current session as the screen may show it. Holds personal data: dropped on wipe."""

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


@dataclass
class DeviceInfo:
    """What the agent says about itself (never personal): retained state and birth, periodic health."""

    state: StatePayload | None = None
    birth: BirthPayload | None = None
    health: HealthPayload | None = None
    health_at: float | None = None  # monotonic time the last health arrived
    broker_connected: bool = False  # the kiosk's own connection
    malformed: int = 0  # messages the kiosk ignored


@dataclass
class Preferences:
    """What a shopper can change on screen; reset when they leave."""

    language: str = "nl"
    high_contrast: bool = False
    text_scale: float = 1.0


TEXT_SCALES: tuple[float, ...] = (1.0, 1.25, 1.5)


@dataclass
class Withdrawal:
    """Progress of "forget me": ask -> confirm -> sent -> failed."""

    step: str = "idle"  # idle | confirm | sending | failed


class KioskState:
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
        self.screen: Screen = Screen.ATTRACT
        self.session: Session | None = None
        self.my_data: MyDataResult | None = None
        self.my_data_status: str = "idle"  # idle | loading | loaded | failed
        self.withdrawal = Withdrawal()
        self.enrol_status: str = "idle"  # idle | sending | sent | failed
        self.account: AccountResult | None = None  # the agent's answer to ``account`` (Continueer)
        self.account_status: str = "idle"  # idle | loading | loaded | failed
        self.offers: OffersResult | None = None  # the agent's answer to ``offers`` (Converteer)
        self.offers_status: str = "idle"  # idle | loading | loaded | failed
        self.activations: dict[str, str] = {}  # offer -> sending | failed
        self.promo: PromoCodeResult | None = None
        self.promo_status: str = "idle"  # idle | checking | checked | failed
        self.product: ProductResult | None = None  # the agent's answer to ``product`` (personal price!)
        self.product_status: str = "idle"  # idle | loading | loaded | failed
        self.product_gtin: str | None = None
        self._product_back: Screen = Screen.ATTRACT
        self.video: str | None = None  # the instruction video (content pack id) Ontzorg plays
        self.feedback_status: str = "idle"  # idle | sending | sent | failed
        self.feedback_score: int | None = None
        self.assist_status: str = "idle"  # idle | sending | sent | failed
        self.prefs = Preferences(**vars(self._defaults))
        self.notice: str | None = None
        self._notice_until = 0.0
        self.device = DeviceInfo()
        self.present = False  # someone in front of the camera (anonymous): Bereik wakes
        self._last_touch = clock()
        self.version = 0  # bumped on every change, so a view can tell it is stale

    # ------------------------------------------------------------------ derived

    @property
    def mode(self) -> Mode:
        return self.session.mode if self.session else Mode.NOBODY

    @property
    def screens(self) -> tuple[Screen, ...]:
        """The screens the current user may open."""
        return SCREENS[self.mode]

    @property
    def idle_running(self) -> bool:
        """True while something would be reset by the idle timeout (a session, or changed preferences)."""
        return (self.session is not None or self.screen is not Screen.ATTRACT or self.product_status != "idle"
                or self.prefs != self._defaults)

    def remaining(self) -> float | None:
        """Seconds until the idle timeout, or None when nothing times out."""
        if not self.idle_running:
            return None
        return max(0.0, self._last_touch + self.idle_timeout_s - self._clock())

    def countdown(self) -> int | None:
        """Whole seconds left while the countdown is to be shown (last ``countdown_s`` seconds of a
        session), else None."""
        remaining = self.remaining()
        if self.session is None or remaining is None or remaining > self.countdown_s:
            return None
        return math.ceil(remaining)

    # ------------------------------------------------------------------ from the agent

    def on_session(self, payload: SessionPayload) -> list[Request]:
        """A session message from the agent."""
        if payload.state == "ended":
            if self.session is not None and payload.session == self.session.id:
                logger.info("session ended by the agent (%s)", payload.reason or "no reason")
                notices = {"consent-withdrawn": NOTICE_WITHDRAWN, "new-tap": None}
                self.wipe(notices.get(payload.reason or "", NOTICE_GOODBYE))
            return []
        if self.session is not None and self.session.id == payload.session:
            return []  # a duplicate delivery (QoS 1)
        self.wipe(None)
        session = Session.from_payload(payload)
        self.session = session
        if session.language in LANGUAGES:
            self.prefs.language = session.language
        self.screen = SCREENS[session.mode][0]
        self._last_touch = self._clock()
        logger.info("session started: %s -> %s", session.outcome, self.screen.value)
        self._changed()
        if session.mode is Mode.CUSTOMER:
            # Recent purchases and a ready order on Begrijp; the same answer serves Ontzorg and Continueer.
            self.account_status = "loading"
            return [Request("account", session.id)]
        return []

    def on_response(self, command: str, session: str, ok: bool, data: object | None, error: str | None) -> list[Request]:
        """The agent's answer (or a time-out, ``ok`` False) to a request this kiosk sent for ``session``."""
        if session != (self.session.id if self.session else None):
            return []  # for a session that is gone: nothing of it may come back
        if command == "product":
            if self.product_status != "loading":
                return []
            if ok and isinstance(data, ProductResult):
                if _gtin_key(data.product.gtin) != _gtin_key(self.product_gtin or ""):
                    return []  # the answer to an earlier scan
                self.product, self.product_status = data, "loaded"
            else:
                logger.warning("product failed: %s", error)
                self.product, self.product_status = None, "failed"
        elif command == "offers":
            if ok and isinstance(data, OffersResult):
                self.offers, self.offers_status = data, "loaded"
            else:
                logger.warning("offers failed: %s", error)
                self.offers, self.offers_status = None, "failed"
        elif command == "activate-offer":
            offer = next((name for name, step in self.activations.items() if step == "sending"), None)
            if ok and data is not None:
                offer = getattr(data, "offer", offer)
                self.activations.pop(offer, None)
                self._mark_applied(offer)
            elif offer is not None:
                logger.warning("activate-offer failed: %s", error)
                self.activations[offer] = "failed"
        elif command == "check-promo-code":
            if ok and isinstance(data, PromoCodeResult):
                self.promo, self.promo_status = data, "checked"
                if data.valid and data.offer is not None and self.offers is not None:
                    known = {view.offer for view in self.offers.offers}
                    if data.offer.offer in known:
                        self._mark_applied(data.offer.offer)
                    else:
                        self.offers = self.offers.model_copy(update={"offers": [*self.offers.offers, data.offer]})
            else:
                logger.warning("check-promo-code failed: %s", error)
                self.promo, self.promo_status = None, "failed"
        elif command == "account":
            if ok and isinstance(data, AccountResult):
                self.account, self.account_status = data, "loaded"
            else:
                logger.warning("account failed: %s", error)
                self.account, self.account_status = None, "failed"
        elif command == "my-data":
            if ok and isinstance(data, MyDataResult):
                self.my_data, self.my_data_status = data, "loaded"
            else:
                logger.warning("my-data failed: %s", error)
                self.my_data, self.my_data_status = None, "failed"
        elif command == "withdraw-consent":
            if ok:
                self.wipe(NOTICE_WITHDRAWN)
                return []
            logger.warning("withdraw-consent failed: %s", error)
            self.withdrawal.step = "failed"
        elif command == "enrol":
            self.enrol_status = "sent" if ok else "failed"
            if not ok:
                logger.warning("enrol failed: %s", error)
        elif command == "feedback":
            self.feedback_status = "sent" if ok else "failed"
            if not ok:
                logger.warning("feedback failed: %s", error)
        elif command == "staff-assist":
            self.assist_status = "sent" if ok else "failed"
            if not ok:
                logger.warning("staff-assist failed: %s", error)
        self._changed()
        return []

    def on_presence(self, payload: PresenceState) -> None:
        """The camera sees someone (``present``) or nobody any more: Bereik wakes up or goes back to its loop."""
        present = payload.state == "present"
        if present != self.present:
            self.present = present
            self._changed()

    def _mark_applied(self, offer: str | None) -> None:
        if self.offers is None or offer is None:
            return
        views = [view.model_copy(update={"applies": True}) if view.offer == offer else view
                 for view in self.offers.offers]
        self.offers = self.offers.model_copy(update={"offers": views})

    def activate_offer(self, offer: str) -> list[Request]:
        """The customer activates ``offer`` (one that needs it and does not apply yet)."""
        self.touched()
        if self.session is None or self.mode is not Mode.CUSTOMER or self.offers is None:
            return []
        view = next((v for v in self.offers.offers if v.offer == offer), None)
        if view is None or not view.needs_activation or view.applies or self.activations.get(offer) == "sending":
            return []
        self.activations[offer] = "sending"
        self._changed()
        return [Request("activate-offer", self.session.id, offer=offer)]

    def check_promo_code(self, code: str) -> list[Request]:
        """The shopper entered a promo code; the agent checks it (upper case, letters, digits, dashes)."""
        self.touched()
        code = code.strip().upper()
        if self.session is None or self.promo_status == "checking":
            return []
        if not code or len(code) > 32 or not all(c.isascii() and (c.isalnum() or c == "-") for c in code):
            self.promo, self.promo_status = None, "invalid"
            self._changed()
            return []
        self.promo, self.promo_status = None, "checking"
        self._changed()
        return [Request("check-promo-code", self.session.id, self.prefs.language, code=code)]

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
        if self.screen is not Screen.PRODUCT:
            self._product_back = self.screen
        self.screen = Screen.PRODUCT
        self.product, self.product_status, self.product_gtin = None, "loading", gtin
        self._changed()
        return [Request("product", self.session.id if self.session else None, self.prefs.language, gtin)]

    def back(self) -> None:
        """"Terug" on Informeer: the screen before it; the product is forgotten."""
        self.touched()
        back = self._product_back if self._product_back in self.screens else self.screens[0]
        self._drop_product()
        self.screen = back
        self._changed()

    def _drop_product(self) -> None:
        self.product, self.product_status, self.product_gtin = None, "idle", None
        self._product_back = Screen.ATTRACT

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
        if screen is Screen.PRODUCT:
            return []  # opened by a scan or a pickup only
        self.screen = screen
        self.withdrawal.step = "idle"
        self._drop_product()
        self.video = None
        if screen is Screen.LOYALTY:
            self.feedback_status, self.feedback_score, self.assist_status = "idle", None, "idle"
        effects = []
        if screen is Screen.MY_DATA and self.session is not None:
            self.my_data, self.my_data_status = None, "loading"
            effects.append(Request("my-data", self.session.id))
        if screen is Screen.OFFERS and self.session is not None:
            self.offers_status = "loading"
            self.promo, self.promo_status, self.activations = None, "idle", {}
            effects.append(Request("offers", self.session.id, self.prefs.language))
        if screen in (Screen.LOYALTY, Screen.CARE) and self.mode is Mode.CUSTOMER:
            self.account_status = "loading"  # the last answer stays shown until the new one is in
            effects.append(Request("account", self.session.id))
        self._changed()
        return effects

    def play(self, instruction: str) -> None:
        """Play the content pack's instruction video ``instruction`` on Ontzorg (opened when elsewhere)."""
        self.touched()
        if Screen.CARE not in self.screens:
            return
        if self.screen is not Screen.CARE:
            self.screen = Screen.CARE
            self._drop_product()
            self.withdrawal.step = "idle"
        self.video = instruction
        self._changed()

    def stop_video(self) -> None:
        """Close the player: back to Ontzorg's list."""
        self.touched()
        if self.video is not None:
            self.video = None
            self._changed()

    def give_feedback(self, score: int, reason: str | None = None) -> list[Request]:
        """The shopper's answer to the feedback question (1..5, and a fixed reason with a low score)."""
        self.touched()
        if not 1 <= score <= 5 or (reason is not None and reason not in FEEDBACK_REASONS):
            raise ValueError(f"not a feedback answer: {score!r}, {reason!r}")
        if self.feedback_status in ("sending", "sent") or self.mode is Mode.STAFF:
            return []
        self.feedback_status, self.feedback_score = "sending", score
        self._changed()
        return [Request("feedback", self.session.id if self.session else None, score=score, reason=reason,
                        phase=PHASES[self.screen])]

    def call_staff(self, topic: str | None = None) -> list[Request]:
        """"Roep een medewerker": the agent tells the staff where help is wanted (once until it failed)."""
        self.touched()
        if self.assist_status in ("sending", "sent") or self.mode is Mode.STAFF:
            return []
        self.assist_status = "sending"
        self._changed()
        return [Request("staff-assist", self.session.id if self.session else None, phase=PHASES[self.screen],
                        topic=topic)]

    def done(self) -> list[Request]:
        """"Klaar": end the session at the agent and wipe."""
        effects = [Request("end-session", self.session.id)] if self.session else []
        self.wipe(NOTICE_GOODBYE if self.session else None)
        return effects

    def ask_withdraw(self) -> None:
        """First tap of "forget me": show the confirmation."""
        self.touched()
        if self.screen is Screen.MY_DATA and self.session is not None:
            self.withdrawal.step = "confirm"
            self._changed()

    def cancel_withdraw(self) -> None:
        self.touched()
        self.withdrawal.step = "idle"
        self._changed()

    def confirm_withdraw(self) -> list[Request]:
        """The confirmation: ask the agent to withdraw every consent and erase the customer's data."""
        self.touched()
        if self.withdrawal.step not in ("confirm", "failed") or self.session is None:
            return []
        self.withdrawal.step = "sending"
        self._changed()
        return [Request("withdraw-consent", self.session.id)]

    def enrol(self) -> list[Request]:
        """The shopper accepts the invitation to opt in."""
        self.touched()
        if self.session is None or not self.session.invite_to_enrol or self.enrol_status in ("sending", "sent"):
            return []
        self.enrol_status = "sending"
        self._changed()
        return [Request("enrol", self.session.id, self.prefs.language)]

    def set_language(self, language: str) -> None:
        """Switch the language of the screen (until the session ends)."""
        self.touched()
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}")
        self.prefs.language = language
        self._changed()

    def toggle_contrast(self) -> None:
        self.touched()
        self.prefs.high_contrast = not self.prefs.high_contrast
        self._changed()

    def next_text_scale(self) -> None:
        """Cycle the text size through :data:`TEXT_SCALES`."""
        self.touched()
        index = TEXT_SCALES.index(self.prefs.text_scale) if self.prefs.text_scale in TEXT_SCALES else -1
        self.prefs.text_scale = TEXT_SCALES[(index + 1) % len(TEXT_SCALES)]
        self._changed()

    # ------------------------------------------------------------------ time

    @property
    def ticking(self) -> bool:
        """True while :meth:`tick` has something to do."""
        return self.idle_running or self.notice is not None

    def tick(self) -> list[Request]:
        """Called periodically: ends the session when the idle timeout has passed, clears old notices."""
        if self.notice is not None and self._clock() >= self._notice_until:
            self.notice = None
            self._changed()
        remaining = self.remaining()
        if remaining is None or remaining > 0:
            return []
        if self.session is not None:
            logger.info("session idle for %.0f s: ending it", self.idle_timeout_s)
            effects = [Request("end-session", self.session.id)]
            self.wipe(NOTICE_TIMED_OUT)
            return effects
        self.wipe(None)  # preferences or a notice left on the attract screen
        return []

    # ------------------------------------------------------------------ wiping

    def wipe(self, notice: str | None) -> None:
        """Forget everything personal and everything the shopper changed; back to Bereik.

        :param notice: a non-personal message for the attract screen, or None.
        """
        self.session = None
        self.my_data = None
        self.my_data_status = "idle"
        self.withdrawal = Withdrawal()
        self.enrol_status = "idle"
        self.account, self.account_status = None, "idle"
        self.offers, self.offers_status, self.activations = None, "idle", {}
        self.promo, self.promo_status = None, "idle"
        self._drop_product()
        self.video = None
        self.feedback_status, self.feedback_score, self.assist_status = "idle", None, "idle"
        self.prefs = Preferences(**vars(self._defaults))
        self.screen = Screen.ATTRACT
        self.notice = notice
        self._notice_until = self._clock() + self.notice_s
        self._last_touch = self._clock()
        self._changed()

    def _changed(self) -> None:
        self.version += 1


def _gtin_key(gtin: str) -> str:
    """A GTIN without its leading zeros (the agent answers with the 14-digit form)."""
    return gtin.lstrip("0")


@dataclass(frozen=True)
class Intent:
    """A "what brings you here" choice and the screen it opens."""

    label: str
    screen: Screen


# Informeer is not a choice: it opens on a scan, a pickup or a product tapped in Inspireer.
INTENTS: tuple[Intent, ...] = (
    Intent(N_("Inspiratie opdoen"), Screen.INSPIRE),
    Intent(N_("Mijn aanbiedingen"), Screen.OFFERS),
    Intent(N_("Mijn bestellingen en uitleg"), Screen.CARE),
    Intent(N_("Mijn punten en voordelen"), Screen.LOYALTY),
    Intent(N_("Wat weet de winkel van mij?"), Screen.MY_DATA),
)

__all__ = [
    "FEEDBACK_REASONS",
    "INTENTS",
    "LANGUAGES",
    "PHASES",
    "N_",
    "TEXT_SCALES",
    "DeviceInfo",
    "Intent",
    "KioskState",
    "Mode",
    "Preferences",
    "Request",
    "Screen",
    "Session",
]
