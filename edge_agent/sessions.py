"""Kiosk sessions: from a tapped card to what the screen may show, and back to nothing.

The card reader calls :meth:`SessionService.on_tap` for every card presence.
The service turns the read into a pseudonymous token and an assurance level
(UID-only card, or an NTAG 424 DNA card with a verified, fresh SUN message),
looks up what the card stands for and the customer's consents, lets
:func:`edge_agent.identity.decide` choose the outcome, and then

* queues a pseudonymous ``tap`` event upstream through the outbox and
  appends the use of the customer's data to their data-use log
  (:mod:`edge_agent.privacy`, like consent and erasure), in one durable commit;
* only then publishes the session on the device's local topic for the kiosk
  (never retained, never bridged), with only the data categories the
  assurance allows. When that commit fails (the disk is full, the database
  locked: :mod:`edge_agent.transient`) no use of anyone's data can be
  logged, so none is shown: the kiosk gets a ``rejected`` session with the
  reason ``try-again``, and the log says why, naming no one.

The kiosk's requests (withdraw consent, my data, end session) name the
session they belong to; a request for any other session is refused.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
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
    WithdrawResult,
    encode,
    new_id,
)
from .identity import DEFAULT_POLICY, Assurance, CardLink, Category, Decision, Outcome, card_token, decide
from .outbox import Outbox
from .store import Store
from .transient import describe_bug, describe_fault, fault_of, locations

if TYPE_CHECKING:
    from .nfc.reader import CardRead

logger = logging.getLogger(__name__)

VALID_UID_LENGTHS = (4, 7, 10)  # ISO/IEC 14443-3 single, double and triple size UIDs
SUN_PARAMETERS = {"picc_data", "e"}
UNUSABLE_READS = {"pulled-away", "random-uid", "unreadable"}
TRY_AGAIN = "try-again"  # the reason of a session shown as rejected because the tap could not be recorded


@dataclass(frozen=True)
class Identified:
    """The result of reading a card: its token (None when rejected), assurance and why."""

    token: str | None
    assurance: Assurance
    reason: str = ""


@dataclass
class ActiveSession:
    id: str
    decision: Decision
    token: str | None = None  # the card's token, for an enrolment request


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
    :param hmac_key: the store key that turns UIDs into card tokens.
    :param sun_keys: keys to verify SUN messages, or None when the store has none.
    :param policy: data categories per assurance.
    :param now: the clock (aware datetimes); replaceable in tests.
    """

    def __init__(self, store: Store, outbox: Outbox, publish: Callable[[str, bytes], bool], device: str,
                 session_topic: str, hmac_key: bytes, sun_keys=None,
                 policy: dict[Assurance, frozenset[Category]] | None = None, end_on_removal: bool = False,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._store = store
        self._outbox = outbox
        self._publish = publish
        self._device = device
        self._topic = session_topic
        self._key = hmac_key
        self._sun_keys = sun_keys
        self._policy = policy if policy is not None else DEFAULT_POLICY
        self._end_on_removal = end_on_removal
        self._now = now
        self._lock = threading.RLock()
        self._session: ActiveSession | None = None
        self._warned_no_sun_keys = False
        self.taps = 0

    # ------------------------------------------------------------------ reading a card

    def identify(self, read: CardRead) -> Identified:
        """Token and assurance of a card read; never raises for a bad card."""
        if not read.uid:
            return Identified(None, Assurance.NONE, read.problem or "no-uid")
        if len(read.uid) not in VALID_UID_LENGTHS:
            return Identified(None, Assurance.NONE, "odd-uid-length")
        if read.problem in UNUSABLE_READS:
            # Pulled away: the card left before it was read completely; ask for
            # another tap rather than settle for a lower assurance than the card
            # can give. A random UID changes every tap, so it identifies nothing.
            return Identified(None, Assurance.NONE, read.problem)
        token = card_token(self._key, read.uid)
        url = read.ndef_uri
        if not is_sun_url(url):
            return Identified(token, Assurance.UID)
        if self._sun_keys is None:
            if not self._warned_no_sun_keys:
                logger.warning("a SUN card was read but no SUN keys are configured: treating it as UID-only")
                self._warned_no_sun_keys = True
            return Identified(token, Assurance.UID)
        return self._verify_sun(read, token, url)

    def _verify_sun(self, read: CardRead, token: str, url: str) -> Identified:
        from .nfc.sun import SunError, verify_sun

        try:
            result = verify_sun(url, self._sun_keys, last_counter=None)
        except SunError as exc:
            return Identified(None, Assurance.NONE, exc.reason)
        if result.uid != read.uid:
            return Identified(None, Assurance.NONE, "uid-mismatch")
        try:
            with self._store.transaction(durable=True) as conn:
                row = conn.execute("SELECT counter FROM sun_counters WHERE card = ?", (token,)).fetchone()
                if row is not None and result.counter <= row[0]:
                    return Identified(None, Assurance.NONE, "replayed-counter")
                conn.execute("INSERT INTO sun_counters (card, counter) VALUES (?, ?) "
                             "ON CONFLICT (card) DO UPDATE SET counter = excluded.counter", (token, result.counter))
        except sqlite3.Error as exc:
            fault = fault_of(exc)
            if fault is None:
                raise
            # Without the counter on disk a replay of this tap would pass later: not this time.
            logger.error("SUN counter not recorded (%s): shown as try-again", describe_fault(fault, exc))
            return Identified(None, Assurance.NONE, TRY_AGAIN)
        return Identified(token, Assurance.SUN)

    def _lookup(self, conn: sqlite3.Connection, token: str) -> tuple[CardLink | None, dict[str, datetime]]:
        row = conn.execute("SELECT kind, subject FROM card_links WHERE card = ? AND active = 1", (token,)).fetchone()
        if row is None:
            return None, {}
        link = CardLink(row[0], row[1])
        if link.kind != "customer":
            return link, {}
        return link, privacy.stored_consents(conn, link.subject)

    # ------------------------------------------------------------------ reader callbacks

    def on_tap(self, read: CardRead) -> Decision:
        """A card entered the field: decide, publish the session, log the use. Never raises for bad cards."""
        identified = self.identify(read)
        now = self._now()
        with self._lock:
            self.taps += 1
            if identified.token is None:
                decision = decide(None, {}, Assurance.NONE, now, reason=identified.reason)
                logger.info("card rejected (%s, %s)", read.tag_type, identified.reason)
            else:
                with self._store.reading() as conn:
                    link, consents = self._lookup(conn, identified.token)
                decision = decide(link, consents, identified.assurance, now, self._policy)
                logger.info("card tap: %s at assurance %s", decision.outcome.value, identified.assurance.value)
            self._start(decision, identified.token)
        return decision

    def on_app(self, customer: str | None, reason: str | None = None) -> Decision:
        """A customer's app QR code was read (verified by the camera pipeline): the same
        consent rules as a card, at assurance ``app``; ``customer`` None when it was refused."""
        now = self._now()
        with self._lock:
            self.taps += 1
            if customer is None:
                decision = decide(None, {}, Assurance.NONE, now, reason=reason or "bad-app-code")
                logger.info("app code rejected (%s)", decision.reason)
            else:
                with self._store.reading() as conn:
                    consents = privacy.stored_consents(conn, customer)
                decision = decide(CardLink("customer", customer), consents, Assurance.APP, now, self._policy)
                logger.info("app code: %s", decision.outcome.value)
            self._start(decision, None)
        return decision

    def _start(self, decision: Decision, token: str | None) -> None:
        if self._session is not None:
            self._publish_end(self._session, "new-tap")
            self._session = None
        session = ActiveSession(new_id(), decision, token)
        try:
            # Before the kiosk has its session: the event and the data-use entry in one commit, so
            # nothing of a customer is shown that their data-use log would not hold.
            with self._store.transaction(durable=True):
                self._outbox.enqueue("tap", TapEvent(session=session.id, outcome=decision.outcome,
                                                     assurance=decision.assurance, customer=decision.customer))
                if decision.outcome is Outcome.RECOGNISED and decision.customer is not None:
                    self.log_use(decision.customer, "recognised", sorted(decision.may_show))
            profile = self._profile(decision.customer) if decision.customer else None
        except Exception as exc:  # noqa: BLE001 - whatever failed, nothing personal is shown unrecorded
            fault = fault_of(exc)
            logger.error("tap not recorded (%s, outcome %s): shown as try-again", describe_fault(fault, exc)
                         if fault else describe_bug(exc), decision.outcome.value)
            if fault is None:
                logger.error("where:\n%s", locations(exc))
            session = ActiveSession(session.id, Decision(Outcome.REJECTED, Assurance.NONE, reason=TRY_AGAIN))
            profile = None
        self._session = session
        self._publish_session(session, "started", profile)

    def on_removed(self) -> None:
        if self._end_on_removal:
            self.end("card-removed")

    def end(self, reason: str, session_id: str | None = None) -> bool:
        """End the current session (only if it is ``session_id`` when given); True when one ended."""
        with self._lock:
            session = self._session
            if session is None or (session_id is not None and session.id != session_id):
                return False
            self._session = None
            self._publish_end(session, reason)
            return True

    # ------------------------------------------------------------------ the kiosk's requests

    def _recognised(self, request: SessionRequest) -> tuple[ActiveSession, str]:
        """The request's session and its customer.

        :raises CommandError: when the session is not the current one or has no recognised customer.
        """
        session = self._session
        if session is None or session.id != request.session:
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

    def current(self, session_id: str) -> ActiveSession | None:
        """The current session when it is ``session_id``, else None (it ended or was replaced)."""
        session = self._session
        return session if session is not None and session.id == session_id else None

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

    def log_use(self, customer: str, use: str, categories: list[str]) -> None:
        """Add a use of ``customer``'s data, now and at this device, to the log they can see at the kiosk."""
        at = self._now()
        with self._store.transaction() as conn:
            privacy.log_use(conn, customer, at, self._device, use, categories)
