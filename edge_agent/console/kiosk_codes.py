"""Logging in at the console with a one-time code from a kiosk (the second way besides staff id and PIN).

An agent offers a code on ``local/console-code`` when a member in staff mode at its kiosk asks for one
(:mod:`edge_agent.staff.console_code`): the member's id, name and granted role, and the code's salted argon2id
verifier, never the code. The console keeps the offers in memory until they expire (a console restart forgets
them: they last two minutes). A typed code is checked against every offer still valid (argon2id, off the event
loop); the one it matches is used up, so a code logs in once. The member must still be an active member in the
console's own staff records, and is granted the lesser of the offer's role and the record's.

Wrong codes count in :class:`edge_agent.staff.lockout.Lockout` per client address (``console-code:<address>``):
a wrong code names nobody, so the lock is on who types, five wrong codes lock that address for five minutes.
The code is never logged, stored or audited.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..contract import CONSOLE_CODE, ConsoleCodeOffer, StaffRole
from ..staff.pin import verify_pin
from .database import ConsoleDatabase
from .link import decode_data
from .login import LoginResult, Outcome, StaffLogin

logger = logging.getLogger(__name__)

MAX_OFFERS = 50  # pending offers kept at most (each typed code is checked against them all: bounded work)
MAX_VALID_S = 600.0  # an offer claiming a longer validity is held to this, counted from its arrival


@dataclass(frozen=True)
class _Offer:
    offer: str
    device: str
    staff: str
    display_name: str
    role: StaffRole
    verifier: str
    expires: float  # wall-clock seconds


class KioskCodes:
    """The one-time codes offered by the store's agents, and logins with them.

    :param db: the console's database (the lockout).
    :param login: the console's staff records (the member must still be active there).
    :param clock: wall-clock seconds.
    """

    def __init__(self, db: ConsoleDatabase, login: StaffLogin, clock: Callable[[], float] = time.time):
        self._db = db
        self._login = login
        self._clock = clock
        self._lock = threading.Lock()
        self._offers: dict[str, _Offer] = {}
        self.lockout = login.lockout

    def receive(self, device: str, raw: bytes, retained: bool) -> None:
        """Route for ``local/console-code`` (a retained offer is refused: an offer is never retained)."""
        if retained:
            logger.warning("console code offer from %s refused: it was retained", device)
            return
        data = decode_data(CONSOLE_CODE, raw)
        if data is None:
            return
        offer = ConsoleCodeOffer.model_validate(data)
        now = self._clock()
        expires = min(offer.valid_until.timestamp(), now + MAX_VALID_S)
        if expires <= now:
            logger.info("console code offer %s from %s arrived expired: ignored", offer.offer, device)
            return
        with self._lock:
            self._forget_expired(now)
            if len(self._offers) >= MAX_OFFERS:
                oldest = min(self._offers.values(), key=lambda item: item.expires)
                del self._offers[oldest.offer]
            self._offers[offer.offer] = _Offer(offer.offer, device, offer.staff, offer.display_name, offer.role,
                                               offer.verifier, expires)
        logger.info("console code offer %s from %s for %s", offer.offer, device, offer.staff)

    def _forget_expired(self, now: float) -> None:
        for key in [key for key, item in self._offers.items() if item.expires <= now]:
            del self._offers[key]

    def pending(self) -> int:
        """How many offers are still valid."""
        with self._lock:
            self._forget_expired(self._clock())
            return len(self._offers)

    def attempt(self, code: str, address: str) -> tuple[LoginResult, str | None]:
        """Log in with ``code`` typed from ``address``: the result, and the device that offered it (slow on
        purpose: argon2id per pending offer; call it off the event loop)."""
        key = f"console-code:{address}"
        with self._db.reading() as conn:
            state = self.lockout.state(conn, key)
        if state.locked:
            return LoginResult(Outcome.LOCKED, locked_for_s=state.locked_for_s), None
        with self._lock:
            self._forget_expired(self._clock())
            candidates = list(self._offers.values())
        found = next((item for item in candidates if verify_pin(item.verifier, code)), None)
        if found is not None:
            with self._lock:
                found = self._offers.pop(found.offer, None)  # used once: a second login with it finds nothing
        member = self._login.member(found.staff) if found is not None else None
        with self._db.transaction(durable=True) as conn:
            if found is not None and member is not None:
                self.lockout.succeeded(conn, key)
                name, record_role = member
                both_manager = found.role is StaffRole.MANAGER and record_role is StaffRole.MANAGER
                role = StaffRole.MANAGER if both_manager else StaffRole.STAFF
                return LoginResult(Outcome.OK, found.staff, name, role), found.device
            after = self.lockout.failed(conn, key)
        if found is not None:
            logger.warning("console code of %s matched, but they are no active member here: refused", found.staff)
        if after.locked:
            return LoginResult(Outcome.LOCKED, locked_for_s=after.locked_for_s), None
        return LoginResult(Outcome.WRONG, attempts_left=after.attempts_left), None

