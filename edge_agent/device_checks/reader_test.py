"""The reader test of the device checks: "tap a card to test the reader".

A staff member arms the test; the next card tapped within :data:`WAIT_S` is a test, not a customer
session. :class:`ReaderTest` stands between the card reader and the session service (the agent starts
the reader with :meth:`ReaderTest.on_tap` and :meth:`ReaderTest.on_removed`): while it is armed, the tap
goes to the test, and that card's removal too, so the staff member's own session is neither replaced by
the card nor ended when it is lifted (``[sessions] end_on_card_removal``). Otherwise both pass straight
to the session service.

The test reads the card the way a tap is read (:meth:`edge_agent.sessions.SessionService.identify`: a SUN
message is verified and its counter recorded, so replaying the test tap fails like any replay) and looks
the card's token up in ``card_links``, but it opens no session, queues no ``tap`` event and writes nothing
to anyone's data-use log. The result says the card type, the assurance and whether the card is linked to a
customer, to staff or to nothing; never its UID, its token or who is behind it, and the log line neither.

The test is armed for one staff-mode session: when that session has ended by the time a card comes (a
customer stepped in), the tap is a customer's tap as usual.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from ..contract.payloads_device_checks import ProductName, ReaderTestResult, ReaderTestState
from ..identity import Assurance
from ..sessions import TRY_AGAIN, UNUSABLE_READS, Identified, is_sun_url
from ..store import Store
from ..transient import describe_fault, fault_of

if TYPE_CHECKING:
    from ..nfc.reader import CardRead

logger = logging.getLogger(__name__)

WAIT_S = 30.0  # how long an armed test waits for its tap
LINKED_KINDS = ("customer", "staff")
_PRODUCT_NAME = TypeAdapter(ProductName)


def product_name(product: str | None) -> str | None:
    """nfcpy's product name when the contract takes it (words, no run of hex digits), else None."""
    if product is None:
        return None
    try:
        return _PRODUCT_NAME.validate_python(product)
    except ValidationError:
        return None


def assurance_of(read: CardRead, identified: Identified) -> tuple[str, str | None]:
    """The test's assurance (``uid-only``, ``sun-verified``, ``sun-failed``, ``unreadable``) and, for a SUN
    message that failed, why (``no-keys`` when this agent has no SUN keys to verify it with)."""
    sun = is_sun_url(read.ndef_uri) and read.problem not in UNUSABLE_READS
    if identified.token is None:
        if sun and identified.reason not in ("odd-uid-length", "no-uid", TRY_AGAIN):
            return "sun-failed", identified.reason
        return "unreadable", None
    if identified.assurance is Assurance.SUN:
        return "sun-verified", None
    return ("sun-failed", "no-keys") if sun else ("uid-only", None)


class ReaderTest:
    """Routes card taps to the reader test while it is armed, to the sessions otherwise.

    :param store: the agent's database (``card_links`` is read).
    :param identify: reads a card as a tap does, a SUN counter's replay check included and the counter
        recorded (``SessionService.identify_checked``).
    :param on_tap: where a tap goes when no test is armed (``SessionService.on_tap``).
    :param on_removed: where that card's removal goes (``SessionService.on_removed``).
    :param alive: whether the staff-mode session that armed the test is still the current one.
    :param wait_s: how long an armed test waits for its tap.
    :param clock: monotonic seconds; :param now: the wall clock (aware).
    """

    def __init__(self, store: Store, identify: Callable[[CardRead], Identified], on_tap: Callable[[CardRead], object],
                 on_removed: Callable[[], None], alive: Callable[[str], bool], wait_s: float = WAIT_S,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._store = store
        self._identify = identify
        self._on_tap = on_tap
        self._on_removed = on_removed
        self._alive = alive
        self._wait_s = wait_s
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._armed_for: str | None = None  # the staff-mode session waiting for a test tap
        self._deadline = 0.0
        self._result: ReaderTestResult | None = None
        self._holding = False  # the card on the reader was a test: its removal is the test's too
        self.tests = 0

    # ------------------------------------------------------------------ what staff asks

    def arm(self, session: str) -> ReaderTestState:
        """The next tap within ``wait_s`` is a test for ``session``; the previous result is forgotten."""
        with self._lock:
            self._armed_for, self._deadline, self._result = session, self._clock() + self._wait_s, None
            logger.info("reader test armed for %.0f s", self._wait_s)
            return self._state()

    def state(self) -> ReaderTestState:
        """Waiting (and for how much longer), done with its result, or idle."""
        with self._lock:
            return self._state()

    def _state(self) -> ReaderTestState:
        if self._armed_for is not None:
            left = self._deadline - self._clock()
            if left > 0:
                return ReaderTestState(state="waiting", waiting_s=round(left, 1))
            self._armed_for = None
        if self._result is not None:
            return ReaderTestState(state="done", result=self._result)
        return ReaderTestState(state="idle")

    # ------------------------------------------------------------------ the reader's callbacks

    def on_tap(self, read: CardRead) -> object:
        """A card entered the field: the test's when armed (and its session is still on), else the sessions'."""
        with self._lock:
            session = self._armed_for
            if session is not None and self._clock() >= self._deadline:
                session = self._armed_for = None
        if session is None or not self._alive(session):
            return self._on_tap(read)
        result = self._test(read)
        with self._lock:
            self._armed_for, self._result, self._holding = None, result, True
            self.tests += 1
        return result

    def on_removed(self) -> None:
        """The card left: the test card's removal ends nothing; any other goes to the sessions."""
        with self._lock:
            holding, self._holding = self._holding, False
        if not holding:
            self._on_removed()

    # ------------------------------------------------------------------ the test itself

    def _test(self, read: CardRead) -> ReaderTestResult:
        try:
            identified = self._identify(read)
        except sqlite3.Error as exc:
            fault = fault_of(exc)
            if fault is None:
                raise
            # The counter could not be recorded (disk full, locked): the test says it could not read the card.
            logger.error("reader test: the card's SUN counter could not be recorded (%s)", describe_fault(fault, exc))
            identified = Identified(None, Assurance.NONE, TRY_AGAIN)
        assurance, sun_failure = assurance_of(read, identified)
        linked = self._linked(identified)
        problem = read.problem if read.problem and read.problem.replace("-", "").isalpha() else None
        result = ReaderTestResult(tag_type=read.tag_type if read.tag_type.startswith("Type") else "unknown",
                                  product=product_name(read.product), assurance=assurance, sun_failure=sun_failure,
                                  problem=problem, linked=linked, at=self._now())
        logger.info("reader test: %s (%s), %s%s, linked: %s", result.tag_type, result.product or "no product name",
                    assurance, f" ({sun_failure})" if sun_failure else "", linked)
        return result

    def _linked(self, identified: Identified) -> str:
        tokens = [token for token in (identified.token, identified.previous_token) if token is not None]
        if not tokens:
            return "unknown"
        with self._store.reading() as conn:
            for token in tokens:
                row = conn.execute("SELECT kind FROM card_links WHERE card = ? AND active = 1", (token,)).fetchone()
                if row is not None and row[0] in LINKED_KINDS:
                    return str(row[0])
        return "unknown"
