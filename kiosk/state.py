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
* Mijn gegevens asks the agent for the customer's data; withdrawing consent
  takes two taps and a confirmation.

Personal data (the customer view of the session, the answer of ``my-data``,
the language of the profile) lives only in :attr:`KioskState.session` and
:attr:`KioskState.my_data`; :meth:`KioskState.wipe` drops both and resets
everything a shopper may have changed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from edge_agent.contract import (
    BirthPayload,
    HealthPayload,
    MyDataResult,
    SessionPayload,
    StatePayload,
)

logger = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("nl", "en", "fr")


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it (the screen translates it)."""
    return message


class Screen(StrEnum):
    """The screens, named by their phase of the Store Sales Cycle."""

    ATTRACT = "bereik"
    WELCOME = "begrijp"
    ENROL = "enrolment"
    MY_DATA = "mijn-gegevens"
    LOYALTY = "continueer"
    STAFF = "staff"


class Mode(StrEnum):
    """Who is at the kiosk."""

    NOBODY = "nobody"
    CUSTOMER = "customer"  # recognised: personal screens
    ANONYMOUS = "anonymous"  # anonymous, unknown card, rejected card
    STAFF = "staff"


# Screens a shopper may open in each mode; the first is where a session starts.
SCREENS: dict[Mode, tuple[Screen, ...]] = {
    Mode.NOBODY: (Screen.ATTRACT,),
    Mode.CUSTOMER: (Screen.WELCOME, Screen.LOYALTY, Screen.MY_DATA),
    Mode.ANONYMOUS: (Screen.ENROL,),
    Mode.STAFF: (Screen.STAFF,),
}

# Notices shown after a session (never personal). Message ids, translated by the screen.
NOTICE_WITHDRAWN = N_("Uw toestemming is ingetrokken en uw gegevens zijn gewist.")
NOTICE_GOODBYE = N_("Tot ziens!")
NOTICE_TIMED_OUT = N_("De sessie is gestopt omdat het scherm even niet is gebruikt.")


@dataclass(frozen=True)
class Request:
    """An effect: send local request ``command`` for ``session`` to the agent (in ``language`` when the
    request carries one)."""

    command: str
    session: str
    language: str | None = None


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


@dataclass(frozen=True)
class Tier:
    """A loyalty tier: reached from ``threshold`` points."""

    id: str
    threshold: int


@dataclass(frozen=True)
class Progress:
    """Where a customer stands; ``next`` is None at the top tier."""

    tier: Tier | None
    points: int
    next: Tier | None
    points_to_next: int | None
    euros_to_next: int | None
    fraction: float


def tier_progress(tiers: Sequence[Tier], points: int, tier_id: str | None, points_per_euro: float) -> Progress:
    """Progress of a customer with ``points`` in tier ``tier_id`` (central's; from the points when unknown).

    :param tiers: lowest first; the first starts at 0.
    """
    points = max(0, points)
    tier = next((t for t in tiers if t.id == tier_id), None)
    if tier is None and tiers:
        tier = [t for t in tiers if t.threshold <= points][-1]
    higher = [t for t in tiers if tier is not None and t.threshold > tier.threshold]
    if not higher:
        return Progress(tier, points, None, None, None, 1.0)
    following = higher[0]
    to_go = max(0, following.threshold - points)
    span = following.threshold - tier.threshold
    fraction = min(1.0, max(0.0, (points - tier.threshold) / span))
    return Progress(tier, points, following, to_go, math.ceil(to_go / points_per_euro), round(fraction, 4))


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
        self.prefs = Preferences(**vars(self._defaults))
        self.notice: str | None = None
        self._notice_until = 0.0
        self.device = DeviceInfo()
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
        return self.session is not None or self.prefs != self._defaults

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
        return []

    def on_response(self, command: str, session: str, ok: bool, data: object | None, error: str | None) -> list[Request]:
        """The agent's answer (or a time-out, ``ok`` False) to a request this kiosk sent for ``session``."""
        if self.session is None or session != self.session.id:
            return []  # for a session that is gone: nothing of it may come back
        if command == "my-data":
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
        self._changed()
        return []

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
        self.screen = screen
        self.withdrawal.step = "idle"
        effects = []
        if screen is Screen.MY_DATA and self.session is not None:
            self.my_data, self.my_data_status = None, "loading"
            effects.append(Request("my-data", self.session.id))
        self._changed()
        return effects

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
        self.prefs = Preferences(**vars(self._defaults))
        self.screen = Screen.ATTRACT
        self.notice = notice
        self._notice_until = self._clock() + self.notice_s
        self._last_touch = self._clock()
        self._changed()

    def _changed(self) -> None:
        self.version += 1


@dataclass(frozen=True)
class Intent:
    """A "what brings you here" choice and the screen it opens."""

    label: str
    screen: Screen


# Only choices whose screen exists; Inspireer, Informeer, Converteer and Ontzorg join as they land.
INTENTS: tuple[Intent, ...] = (
    Intent(N_("Mijn punten en voordelen"), Screen.LOYALTY),
    Intent(N_("Wat weet de winkel van mij?"), Screen.MY_DATA),
)

__all__ = [
    "INTENTS",
    "LANGUAGES",
    "N_",
    "TEXT_SCALES",
    "DeviceInfo",
    "Intent",
    "KioskState",
    "Mode",
    "Preferences",
    "Progress",
    "Request",
    "Screen",
    "Session",
    "Tier",
    "tier_progress",
]
