"""Kiosk sessions: from a tapped card to what the screen may show, and back to nothing.

The card reader calls :meth:`SessionService.on_tap` for every card presence.
The service turns the read into a pseudonymous token and an assurance level
(UID-only card, or an NTAG 424 DNA card with a verified, fresh SUN message),
looks up what the card stands for and the customer's consents, lets
:func:`edge_agent.identity.decide` choose the outcome, and then

* queues a pseudonymous ``tap`` event upstream through the outbox and
  appends the use of the customer's data to their data-use log
  (:mod:`edge_agent.privacy`, like consent and erasure), in one durable commit
  with everything else the tap writes (a SUN card's read counter, a re-link
  during a key rotation) and the lookups it decides on: one fsync per tap;
* only then publishes the session on the device's local topic for the kiosk
  (never retained, never bridged), with only the data categories the
  assurance allows. When that commit fails (the disk is full, the database
  locked: :mod:`edge_agent.transient`) no use of anyone's data can be
  logged, so none is shown: the kiosk gets a ``rejected`` session with the
  reason ``try-again``, and the log says why, naming no one. A SUN card's
  counter is then not recorded either, so the card is not trusted this time.
  The outbox's drain is woken after the session is published, so sending the
  tap event upstream never delays the screen.

During a store key rotation (:class:`edge_agent.identity.StoreKeys`) a card is
looked up by its token under the new key first, then under the previous key;
found under the previous key, it is re-linked to its new token at once and
central is told (:func:`edge_agent.privacy.relink_card`), so the next tap, and
every tap after the window, finds it under the new key. A staff badge's
wrong PINs and lock move with it; when central linked the badge's new token
first, its lockout still under the old token is moved at its tap.

The kiosk's requests (withdraw consent, my data, end session) name the
session they belong to; a request for any other session is refused.

Sessions end on the agent too, whatever the kiosk does: after ``[sessions]
idle_s`` with no request naming the session (the kiosk sends a ``touch`` request every few seconds while
its screen is used without other requests, so browsing counts), after ``max_s`` in all, and when
the wall clock has moved implausibly far from the session's start (more than
``max_s`` plus an hour either way: the clock was set, not a session that long).
The limits run on the boot clock (monotonic, counting suspend), so setting the
wall clock neither ends a session early nor keeps one late. An ended session
is published as ``ended`` on the local topic, as any end is, and a request
naming it is answered with the error "session ended".
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeGuard
from urllib.parse import parse_qs, urlsplit

from . import privacy
from .commands import CommandError
from .contract import (
    SESSION,
    CustomerView,
    EndSessionResult,
    MyDataResult,
    SessionPayload,
    SessionRequest,
    TapEvent,
    TouchResult,
    WithdrawResult,
    encode,
    new_id,
)
from .identity import DEFAULT_POLICY, Assurance, CardLink, Category, Decision, Outcome, StoreKeys, decide
from .outbox import Outbox
from .store import Store
from .transient import describe_bug, describe_fault, fault_of, locations

if TYPE_CHECKING:
    from .nfc.reader import CardRead

logger = logging.getLogger(__name__)

VALID_UID_LENGTHS = (4, 7, 10)  # ISO/IEC 14443-3 single, double and triple size UIDs
SUN_PARAMETERS = {"picc_data", "e"}
UNUSABLE_READS = {"pulled-away", "random-uid", "unreadable"}
WALL_CLOCK_SLACK_S = 3600.0  # beyond max_s: a wall-clock start this far from now means the clock was set
ENDED_REMEMBERED = 32  # sessions ended by a limit whose late requests get "session ended"


def boot_clock() -> float:
    """Seconds on a monotonic clock that counts time suspended too (CLOCK_BOOTTIME where there is one)."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.monotonic()
TRY_AGAIN = "try-again"  # the reason of a session shown as rejected because the tap could not be recorded


@dataclass(frozen=True)
class Identified:
    """The result of reading a card: its token (None when rejected), assurance and why; during a key
    rotation also its token under the previous key; for a verified SUN message its read counter, to be
    checked against the last one recorded and recorded in the tap's commit."""

    token: str | None
    assurance: Assurance
    reason: str = ""
    previous_token: str | None = None
    counter: int | None = None


@dataclass
class ActiveSession:
    id: str
    decision: Decision
    token: str | None = None  # the card's token, for an enrolment request
    started: float = 0.0  # boot clock
    active: float = 0.0  # boot clock of the last request that named it
    started_wall: datetime | None = None
    idle_s: float | None = None  # this session's own limits (staff mode), else the service's
    max_s: float | None = None


def is_sun_url(url: str | None) -> TypeGuard[str]:
    """True when ``url`` carries SUN parameters (picc_data/cmac or e/c)."""
    if not url:
        return False
    keys = {key.lower() for key in parse_qs(urlsplit(url).query, keep_blank_values=True)}
    return bool(keys & SUN_PARAMETERS)


class SessionService:
    """Turns card reads into sessions; answers the kiosk's session requests.

    :param store: the agent's database.
    :param outbox: for the upstream tap and consent events.
    :param publish: ``publish(topic, payload) -> bool`` straight to the broker (QoS 1, not retained).
    :param device: this device's id (for the data-use log).
    :param session_topic: the local session topic.
    :param hmac_key: the store key that turns UIDs into card tokens, or the store keys during a rotation.
    :param sun_keys: keys to verify SUN messages, or None when the store has none.
    :param policy: data categories per assurance.
    :param idle_s: end a session no request has named for this long.
    :param max_s: end a session this long after it began.
    :param now: the wall clock (aware datetimes); replaceable in tests.
    :param clock: the monotonic clock of the limits (seconds); replaceable in tests.
    :param consent_now: the time consents are judged by, None while the wall clock is not trusted
        (:meth:`edge_agent.clock.WallClock.trusted_now`: a customer then gets an anonymous session);
        ``now`` by default.
    """

    def __init__(self, store: Store, outbox: Outbox, publish: Callable[[str, bytes], bool], device: str,
                 session_topic: str, hmac_key: bytes | StoreKeys, sun_keys=None,
                 policy: dict[Assurance, frozenset[Category]] | None = None, end_on_removal: bool = False,
                 idle_s: float = 60.0, max_s: float = 600.0,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), clock: Callable[[], float] = boot_clock,
                 consent_now: Callable[[], datetime | None] | None = None):
        self._store = store
        self._outbox = outbox
        self._publish = publish
        self._device = device
        self._topic = session_topic
        self._keys = hmac_key if isinstance(hmac_key, StoreKeys) else StoreKeys(hmac_key)
        self.relinked = 0
        self._sun_keys = sun_keys
        self._policy = policy if policy is not None else DEFAULT_POLICY
        self._end_on_removal = end_on_removal
        self._now = now
        self._consent_now = consent_now or now
        self._clock = clock
        self._idle_s = idle_s
        self._max_s = max_s
        self._lock = threading.RLock()
        self._session: ActiveSession | None = None
        self._timer: threading.Timer | None = None
        self._ended_by_limit: dict[str, str] = {}  # session id -> why, described; the latest ENDED_REMEMBERED
        self._warned_no_sun_keys = False
        self.taps = 0
        self._started_listeners: list[Callable[[ActiveSession], None]] = []
        self._ended_listeners: list[Callable[[ActiveSession, str], None]] = []

    # ------------------------------------------------------------------ reading a card

    def identify(self, read: CardRead) -> Identified:
        """Token and assurance of a card read, before the replay check of a SUN counter (that needs the
        database: :meth:`_check_counter`); never raises for a bad card."""
        if not read.uid:
            return Identified(None, Assurance.NONE, read.problem or "no-uid")
        if len(read.uid) not in VALID_UID_LENGTHS:
            return Identified(None, Assurance.NONE, "odd-uid-length")
        if read.problem in UNUSABLE_READS:
            # Pulled away: the card left before it was read completely; ask for
            # another tap rather than settle for a lower assurance than the card
            # can give. A random UID changes every tap, so it identifies nothing.
            return Identified(None, Assurance.NONE, read.problem)
        token = self._keys.token(read.uid)
        previous = self._keys.previous_token(read.uid, self._now())
        url = read.ndef_uri
        if not is_sun_url(url):
            return Identified(token, Assurance.UID, previous_token=previous)
        if self._sun_keys is None:
            if not self._warned_no_sun_keys:
                logger.warning("a SUN card was read but no SUN keys are configured: treating it as UID-only")
                self._warned_no_sun_keys = True
            return Identified(token, Assurance.UID, previous_token=previous)
        return self._verify_sun(read, token, url, previous)

    def identify_checked(self, read: CardRead) -> Identified:
        """:meth:`identify` and a SUN counter's replay check, the counter recorded in a durable commit of its
        own: for a tap that opens no session (the device checks' reader test), so that a replayed message is
        reported as one and the tested message cannot be replayed later."""
        identified = self.identify(read)
        if identified.counter is None:
            return identified
        with self._store.transaction(durable=True) as conn:
            return self._check_counter(conn, identified)

    def _verify_sun(self, read: CardRead, token: str, url: str, previous: str | None) -> Identified:
        from .nfc.sun import SunError, verify_sun

        try:
            result = verify_sun(url, self._sun_keys, last_counter=None)
        except SunError as exc:
            return Identified(None, Assurance.NONE, exc.reason)
        if result.uid != read.uid:
            return Identified(None, Assurance.NONE, "uid-mismatch")
        return Identified(token, Assurance.SUN, previous_token=previous, counter=result.counter)

    @staticmethod
    def _check_counter(conn: sqlite3.Connection, identified: Identified) -> Identified:
        """Refuse a SUN message whose counter is not above the card's last one; record it otherwise (in the
        tap's transaction: if that commit fails the card is shown as try-again, so a replay of this
        message cannot pass later)."""
        token, counter = identified.token, identified.counter
        if token is None or counter is None:
            return identified
        # During a rotation the card's counter may still be under its old token.
        cards = (token,) if identified.previous_token is None else (token, identified.previous_token)
        row = conn.execute(f"SELECT max(counter) FROM sun_counters WHERE card IN ({','.join('?' * len(cards))})",
                           cards).fetchone()
        if row[0] is not None and counter <= row[0]:
            return Identified(None, Assurance.NONE, "replayed-counter")
        conn.execute("INSERT INTO sun_counters (card, counter) VALUES (?, ?) "
                     "ON CONFLICT (card) DO UPDATE SET counter = excluded.counter", (token, counter))
        return identified

    def _lookup(self, conn: sqlite3.Connection, token: str) -> tuple[CardLink | None, dict[str, datetime]]:
        row = conn.execute("SELECT kind, subject FROM card_links WHERE card = ? AND active = 1", (token,)).fetchone()
        if row is None:
            return None, {}
        link = CardLink(row[0], row[1])
        if link.kind != "customer":
            return link, {}
        return link, privacy.stored_consents(conn, link.subject)

    def _relink(self, conn: sqlite3.Connection, token: str,
                previous: str) -> tuple[CardLink | None, dict[str, datetime]]:
        """Look the card up by its token under the previous key; when found, move it to ``token`` and queue
        the ``card-relink`` event, in the tap's durable transaction (``conn``)."""
        link, consents = self._lookup(conn, previous)
        if link is not None and privacy.relink_card(conn, previous, token, self._outbox):
            self._store.after_commit(self._relinked)
        return link, consents

    def _relinked(self) -> None:
        self.relinked += 1
        logger.info("card re-linked from the previous store key to the current one")

    @staticmethod
    def _carry_lockout(conn: sqlite3.Connection, token: str, previous: str) -> None:
        """A staff badge central already linked under its new token: move a lockout still kept under its
        previous token (:func:`edge_agent.staff.lockout.move_lockout`) in the tap's durable transaction, so
        the rotation resets no guesses; when that write fails the whole tap does, shown as try-again."""
        from .staff.lockout import move_lockout

        if move_lockout(conn, previous, token):
            logger.info("staff badge's lockout moved to its new token")

    # ------------------------------------------------------------------ reader callbacks

    def on_tap(self, read: CardRead) -> Decision:
        """A card entered the field: decide, log the use, publish the session. Never raises for bad cards."""
        identified = self.identify(read)
        now = self._consent_now()

        def decide_in(conn: sqlite3.Connection) -> tuple[Decision, str | None]:
            checked = self._check_counter(conn, identified)
            if checked.token is None:
                logger.info("card rejected (%s, %s)", read.tag_type, checked.reason)
                return decide(None, {}, Assurance.NONE, now, reason=checked.reason), None
            link, consents = self._lookup(conn, checked.token)
            if link is None and checked.previous_token is not None:
                link, consents = self._relink(conn, checked.token, checked.previous_token)
            elif link is not None and link.kind == "staff" and checked.previous_token is not None:
                self._carry_lockout(conn, checked.token, checked.previous_token)
            decision = decide(link, consents, checked.assurance, now, self._policy)
            logger.info("card tap: %s at assurance %s", decision.outcome.value, checked.assurance.value)
            return decision, checked.token

        with self._lock:
            self.taps += 1
            return self._start(decide_in)

    def on_app(self, customer: str | None, reason: str | None = None) -> Decision:
        """A customer's app QR code was read (verified by the camera pipeline): the same
        consent rules as a card, at assurance ``app``; ``customer`` None when it was refused."""
        now = self._consent_now()

        def decide_in(conn: sqlite3.Connection) -> tuple[Decision, str | None]:
            if customer is None:
                decision = decide(None, {}, Assurance.NONE, now, reason=reason or "bad-app-code")
                logger.info("app code rejected (%s)", decision.reason)
                return decision, None
            consents = privacy.stored_consents(conn, customer)
            decision = decide(CardLink("customer", customer), consents, Assurance.APP, now, self._policy)
            logger.info("app code: %s", decision.outcome.value)
            return decision, None

        with self._lock:
            self.taps += 1
            return self._start(decide_in)

    def _start(self, decide_in: Callable[[sqlite3.Connection], tuple[Decision, str | None]]) -> Decision:
        """Decide with ``decide_in`` (lookups and writes on the tap's connection) and record the tap, in one
        durable transaction; then publish the session (a try-again one when that failed). Under the lock."""
        if self._session is not None:
            self._publish_end(self._session, "new-tap")
            self._session = None
        started = self._clock()
        session_id = new_id()
        decision: Decision | None = None
        token = profile = None
        # The drain is woken once the session is out: the tap event's sending does not delay the screen.
        with self._outbox.wake_later():
            try:
                # Before the kiosk has its session: the decision's lookups and writes (a SUN counter, a
                # re-link), the tap event and the data-use entry in one commit (one fsync), so nothing of
                # a customer is shown that their data-use log would not hold.
                with self._store.transaction(durable=True) as conn:
                    decision, token = decide_in(conn)
                    self._outbox.enqueue("tap", TapEvent(session=session_id, outcome=decision.outcome,
                                                         assurance=decision.assurance, customer=decision.customer))
                    if decision.outcome is Outcome.RECOGNISED and decision.customer is not None:
                        self.log_use(decision.customer, "recognised", sorted(decision.may_show))
                    profile = self._profile(decision.customer) if decision.customer else None
            except Exception as exc:  # noqa: BLE001 - whatever failed, nothing personal is shown unrecorded
                fault = fault_of(exc)
                logger.error("tap not recorded (%s, outcome %s): shown as try-again",
                             describe_fault(fault, exc) if fault else describe_bug(exc),
                             decision.outcome.value if decision is not None else "not decided")
                if fault is None:
                    logger.error("where:\n%s", locations(exc))
                decision, token, profile = Decision(Outcome.REJECTED, Assurance.NONE, reason=TRY_AGAIN), None, None
            session = ActiveSession(session_id, decision, token, started=started, active=started,
                                    started_wall=self._now())
            self._session = session
            self._publish_session(session, "started", profile)
        # After the publish: starting the limits' timer thread is no part of what the kiosk waits for.
        self._arm()
        for listener in self._started_listeners:
            listener(session)
        return decision

    def on_removed(self) -> None:
        session = self._session
        # A staff badge is taken off the reader to type the PIN: staff mode ends by Klaar, its idle timeout
        # or a customer's card, never by the badge leaving the field.
        if self._end_on_removal and not (session is not None and session.decision.outcome is Outcome.STAFF):
            self.end("card-removed")

    # ------------------------------------------------------------------ limits

    def _over_limit(self, session: ActiveSession) -> str | None:
        """Why ``session`` is over a limit now ("idle", "max-duration", "clock-jump"), or None."""
        now = self._clock()
        idle_s, max_s = self._limits(session)
        if now - session.active >= idle_s:
            return "idle"
        if now - session.started >= max_s:
            return "max-duration"
        if session.started_wall is not None:
            wall_age = (self._now() - session.started_wall).total_seconds()
            if abs(wall_age) > max_s + WALL_CLOCK_SLACK_S:
                return "clock-jump"
        return None

    def _describe(self, reason: str, session: ActiveSession) -> str:
        """What ended ``session`` by a limit, with the limit that applied to it (staff mode has its own)."""
        idle_s, max_s = self._limits(session)
        return {"idle": f"no request for {idle_s:g} s", "max-duration": f"open for {max_s:g} s",
                "clock-jump": "the wall clock moved implausibly far since it began"}.get(reason, reason)

    def _arm(self) -> None:
        """Wake :meth:`expire` when the current session reaches its next limit (under the lock)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        session = self._session
        if session is None:
            return
        idle_s, max_s = self._limits(session)
        deadline = min(session.active + idle_s, session.started + max_s)
        timer = threading.Timer(max(0.0, deadline - self._clock()) + 0.01, self.expire)
        timer.name, timer.daemon = "session-limits", True
        self._timer = timer
        timer.start()

    def expire(self) -> bool:
        """End the current session when it is over a limit (published like any end); True when it ended.

        Runs on the ``session-limits`` timer; a request naming the session checks the limits too.
        """
        with self._lock:
            session = self._session
            if session is None:
                return False
            reason = self._over_limit(session)
            if reason is None:
                self._arm()
                return False
            self._end_by_limit(session, reason)
            return True

    def _end_by_limit(self, session: ActiveSession, reason: str) -> None:
        self._session = None
        described = self._describe(reason, session)
        self._ended_by_limit[session.id] = described
        while len(self._ended_by_limit) > ENDED_REMEMBERED:
            del self._ended_by_limit[next(iter(self._ended_by_limit))]
        logger.info("session ended by the agent: %s", described)
        self._publish_end(session, reason)
        self._arm()

    def _live(self, session_id: str) -> ActiveSession | None:
        """The current session when it is ``session_id`` and within its limits, marked active; else None.

        :raises CommandError: "session ended" when it is over a limit (it is ended now) or ended by one.
        """
        with self._lock:
            session = self._session
            if session is not None and session.id == session_id:
                reason = self._over_limit(session)
                if reason is None:
                    session.active = self._clock()
                    return session
                self._end_by_limit(session, reason)
            described = self._ended_by_limit.get(session_id)
            if described is not None:
                raise CommandError(f"session ended ({described})")
            return None

    def close(self) -> None:
        """Stop the limits' timer (the agent is stopping)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def end(self, reason: str, session_id: str | None = None) -> bool:
        """End the current session (only if it is ``session_id`` when given); True when one ended."""
        with self._lock:
            session = self._session
            if session is None or (session_id is not None and session.id != session_id):
                return False
            self._session = None
            self._arm()
            self._publish_end(session, reason)
            return True

    # ------------------------------------------------------------------ the kiosk's requests

    def _recognised(self, request: SessionRequest) -> tuple[ActiveSession, str]:
        """The request's session and its customer.

        :raises CommandError: when the session is not the current one, ended by a limit or has no
            recognised customer.
        """
        session = self._live(request.session)
        if session is None:
            raise CommandError("no such session (it ended or was replaced)")
        customer = session.decision.customer
        if session.decision.outcome is not Outcome.RECOGNISED or customer is None:
            raise CommandError("this session has no recognised customer")
        return session, customer

    def withdraw_consent(self, request: SessionRequest) -> WithdrawResult:
        """Withdraw every consent of the session's customer and erase their local data at once."""
        with self._lock:
            session, customer = self._recognised(request)
            # Durable, one transaction: once the data is gone the consent
            # events are certain to go upstream, and never dropped.
            with self._store.transaction(durable=True) as conn:
                purposes, erased = privacy.withdraw_consents(conn, customer, self._outbox, source="kiosk")
            logger.info("consent withdrawn at the kiosk: %d records erased", erased)
            self._session = None
            self._arm()
            self._publish_end(session, "consent-withdrawn")
            return WithdrawResult(withdrawn=sorted(purposes), erased_records=erased)

    def my_data(self, request: SessionRequest) -> MyDataResult:
        """What the store knows about the session's customer, their consents and data-use log."""
        with self._lock:
            session, customer = self._recognised(request)
            self.log_use(customer, "viewed own data", sorted(session.decision.may_show))
            with self._store.reading() as conn:
                consents = privacy.consent_views(conn, customer)
                uses = privacy.data_use(conn, customer)
            return MyDataResult(customer=self._view(session.decision, self._profile(customer)),
                                consents=consents, data_use=uses)

    def end_session(self, request: SessionRequest) -> EndSessionResult:
        return EndSessionResult(ended=self.end("ended-by-kiosk", request.session))

    def touch(self, request: SessionRequest) -> TouchResult:
        """The kiosk says its screen is in use (touched, browsed, a video watched): the session's idle limit
        starts again; its absolute limit does not move.

        :raises CommandError: "session ended" when a limit ended it (now or before).
        """
        return TouchResult(active=self._live(request.session) is not None)

    def current(self, session_id: str) -> ActiveSession | None:
        """The current session when it is ``session_id``, else None (it ended or was replaced); a request
        naming it counts as activity.

        :raises CommandError: "session ended" when it ended by a limit (now or before).
        """
        return self._live(session_id)

    # ------------------------------------------------------------------ staff mode (edge_agent.staff)

    @property
    def lock(self) -> threading.RLock:
        """The lock every session change holds; staff mode (:mod:`edge_agent.staff`) changes under it too."""
        return self._lock

    def add_listener(self, started: Callable[[ActiveSession], None] | None = None,
                     ended: Callable[[ActiveSession, str], None] | None = None) -> None:
        """Call ``started(session)`` after a session is published as started and ``ended(session, reason)``
        after one is published as ended (every end: a limit, a new tap, Klaar…). Both run under :attr:`lock`
        and must not block."""
        if started is not None:
            self._started_listeners.append(started)
        if ended is not None:
            self._ended_listeners.append(ended)

    def set_limits(self, session_id: str, idle_s: float, max_s: float) -> bool:
        """Give the current session ``session_id`` its own limits from now (staff mode's); False when it is not
        the current one."""
        with self._lock:
            session = self._session
            if session is None or session.id != session_id:
                return False
            session.idle_s, session.max_s = idle_s, max_s
            session.active = self._clock()
            self._arm()
            return True

    def _limits(self, session: ActiveSession) -> tuple[float, float]:
        return (session.idle_s if session.idle_s is not None else self._idle_s,
                session.max_s if session.max_s is not None else self._max_s)

    # ------------------------------------------------------------------ helpers

    def _profile(self, customer: str) -> dict | None:
        with self._store.reading() as conn:
            row = conn.execute("SELECT profile FROM customers WHERE customer = ?", (customer,)).fetchone()
        return json.loads(row[0]) if row else None

    @staticmethod
    def _view(decision: Decision, profile: dict | None) -> CustomerView | None:
        if decision.outcome is not Outcome.RECOGNISED or profile is None:
            return None
        allowed = decision.may_show
        return CustomerView(
            first_name=profile.get("first_name") if Category.FIRST_NAME in allowed else None,
            language=profile.get("language", "nl"),
            tier=profile.get("tier") if Category.TIER in allowed else None,
            points=profile.get("points") if Category.POINTS in allowed else None,
        )

    def _publish_session(self, session: ActiveSession, state: str, profile: dict | None,
                         reason: str | None = None) -> None:
        decision = session.decision
        payload = SessionPayload(
            session=session.id, state=state, outcome=decision.outcome, assurance=decision.assurance,
            may_show=sorted(decision.may_show) if state == "started" else [],
            invite_to_enrol=decision.invite_to_enrol and state == "started",
            customer=self._view(decision, profile) if state == "started" else None,
            staff=decision.staff if state == "started" else None,
            reason=reason if reason is not None else (decision.reason or None),
        )
        _, raw = encode(SESSION, payload)
        if not self._publish(self._topic, raw):
            logger.warning("session %s not published: broker not connected", state)

    def _publish_end(self, session: ActiveSession, reason: str) -> None:
        self._publish_session(session, "ended", None, reason)
        for on_ended in self._ended_listeners:
            on_ended(session, reason)

    def log_use(self, customer: str, use: str, categories: list[str]) -> None:
        """Add a use of ``customer``'s data, now and at this device, to the log they can see at the kiosk."""
        at = self._now()
        with self._store.transaction() as conn:
            privacy.log_use(conn, customer, at, self._device, use, categories)
