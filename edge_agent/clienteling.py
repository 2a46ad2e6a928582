"""Clienteling by consent: a recognised shopper's call shows staff who they are, for that call only.

When a recognised shopper calls for a member of staff (``request/staff-assist``), the kiosk asks them whether
the member of staff may see who they are for this call, and sends the answer (``request/staff-call-share``).
Nothing is assumed: without a yes the call stays anonymous, and a yes holds for that one call of that session.

With a yes the agent publishes the call on ``local/clienteling`` (store LAN only: never retained, never
bridged, read by the store console's login alone): the shopper's first name and tier, the product or phase
they were on and their recent purchases in that product's category, each only as far as the session may show
it (the assurance policy of :mod:`edge_agent.identity`). The sharing is written to the customer's data-use log,
and so is every time the console shows it to a member of staff (``request/console-clienteling-viewed``, one entry
per view, naming the staff member); the customer reads the log at the kiosk (Mijn gegevens).

When the call is handled (at the kiosk or from the console) or the session ends, the agent publishes the call
again with ``state: ended`` and nothing personal, the console forgets it, and a view reported after that is not
logged (the console is told it is over). What is shared is held here in memory only, never stored.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .commands import CommandError, Commands, Handler
from .contract import (
    CLIENTELING,
    SEEN_USE,
    SHARED_USE,
    CallShareRequest,
    CallShareResult,
    ClientelingCall,
    ClientelingViewed,
    ClientelingViewedResult,
    Phase,
    PurchaseView,
    QueuedResult,
    StaffAssistRequest,
    encode,
)
from .identity import Category, Outcome
from .loyalty import Rules, progress
from .offers import text_in
from .sessions import ActiveSession, SessionService
from .staff.call_answers import CallAnswers
from .staff.calls import StaffCalls
from .store import Store

logger = logging.getLogger(__name__)

SHOWN_PURCHASES = 5  # recent purchases shown to staff at most
CALLS_HELD = 20  # calls of the current session remembered at most (a shopper calls once or twice)


@dataclass
class _Call:
    session: str
    phase: Phase | None
    gtin: str | None
    customer: str | None = None  # set once shared
    categories: tuple[str, ...] = ()


class Clienteling:
    """The calls of recognised shoppers, and what they agreed staff may see.

    :param store: the agent's database (profiles, products, purchases).
    :param sessions: the card sessions (the caller's decision; its end ends the sharing).
    :param calls: this device's calls (a handled call ends the sharing).
    :param answers: the console's answers (who a member of staff named by the console is).
    :param loyalty: the tiers' names.
    :param publish: ``publish(topic, payload) -> bool`` (QoS 1, never retained).
    :param topic: this device's ``local/clienteling`` topic.
    """

    def __init__(self, store: Store, sessions: SessionService, calls: StaffCalls, answers: CallAnswers,
                 loyalty: Rules, publish: Callable[[str, bytes], bool], topic: str):
        self._store = store
        self._answers = answers
        self._sessions = sessions
        self._loyalty = loyalty
        self._publish = publish
        self._topic = topic
        self._lock = threading.Lock()
        self._calls: dict[str, _Call] = {}
        calls.on_closed(self._end_call)
        sessions.add_listener(ended=self._end_session)

    def register(self, commands: Commands) -> None:
        """Answer ``staff-call-share`` and ``console-clienteling-viewed``; remember each call (register after the
        staff service)."""
        commands.register("staff-call-share", self.share)
        commands.register("console-clienteling-viewed", self.viewed)
        assist = commands.handler("staff-assist")
        if assist is not None:
            commands.register("staff-assist", self.wrap(assist))

    def wrap(self, staff_assist: Handler) -> Callable[[StaffAssistRequest], QueuedResult]:
        """The staff-assist handler that also remembers a session's call, so the shopper can share it."""
        def handler(request: StaffAssistRequest) -> QueuedResult:
            result = staff_assist(request)
            assert isinstance(result, QueuedResult), "staff-assist answers with the queued event"
            if request.session is not None:
                with self._lock:
                    for stale in [call for call, held in self._calls.items() if held.session != request.session]:
                        del self._calls[stale]
                    self._calls[result.event] = _Call(request.session, request.phase, request.gtin)
                    while len(self._calls) > CALLS_HELD:
                        del self._calls[next(iter(self._calls))]
            return result
        return handler

    def share(self, request: CallShareRequest) -> CallShareResult:
        """``staff-call-share``: the shopper's yes or no for one call of their session.

        :raises CommandError: for a session that is not the current one or has no recognised customer, or a
            call that is not this session's open call.
        """
        session = self._sessions.current(request.session)
        if session is None:
            raise CommandError("no such session (it ended or was replaced)")
        with self._lock:
            held = self._calls.get(request.call)
            if held is None or held.session != session.id:
                raise CommandError("no open call of this session")
            if not request.share:
                self._calls.pop(request.call, None)
                logger.info("shopper keeps their call anonymous")
                return CallShareResult(call=request.call, shared=False)
        if session.decision.outcome is not Outcome.RECOGNISED or session.decision.customer is None:
            raise CommandError("this session has no recognised customer")
        payload, categories = self._describe(session, request.call, held)
        _, raw = encode(CLIENTELING, payload)
        with self._lock:
            if self._calls.get(request.call) is not held:
                raise CommandError("the call ended meanwhile")
            if not self._publish(self._topic, raw):
                raise CommandError("not shared: the store broker is not connected")
            held.customer, held.categories = session.decision.customer, tuple(categories)
        self._sessions.log_use(session.decision.customer, SHARED_USE, list(categories))
        logger.info("shopper shares who they are with staff for their call")
        return CallShareResult(call=request.call, shared=True)

    def viewed(self, request: ClientelingViewed) -> ClientelingViewedResult:
        """``console-clienteling-viewed``: the console showed a shared call to a member of staff; log it for the
        customer.

        :raises CommandError: for a member of staff this store does not know (audited).
        """
        member = self._answers.member(request.staff, "clienteling-view", request.call)
        with self._lock:
            held = self._calls.get(request.call)
            customer = held.customer if held is not None else None
            categories = list(held.categories) if held is not None else []
        if customer is None:
            return ClientelingViewedResult(call=request.call, logged=False)
        self._sessions.log_use(customer, SEEN_USE + member.display_name, categories)
        return ClientelingViewedResult(call=request.call, logged=True)

    # ------------------------------------------------------------------ what staff see

    def _describe(self, session: ActiveSession, call: str, held: _Call) -> tuple[ClientelingCall, list[str]]:
        allowed = session.decision.may_show
        customer = session.decision.customer
        with self._store.reading() as conn:
            row = conn.execute("SELECT profile FROM customers WHERE customer = ?", (customer,)).fetchone()
            profile = json.loads(row[0]) if row else {}
            product = conn.execute("SELECT category, data FROM products WHERE gtin = ? AND active = 1",
                                   (held.gtin,)).fetchone() if held.gtin else None
            category = product[0] if product else None
            rows: list[tuple[str, str | None]] = []
            if Category.PURCHASE_HISTORY in allowed:
                if category is not None:
                    rows = conn.execute(
                        "SELECT p.data, r.data FROM purchases p JOIN products r ON r.gtin = p.gtin "
                        "WHERE p.customer = ? AND p.active = 1 AND r.category = ? ORDER BY p.at DESC LIMIT ?",
                        (customer, category, SHOWN_PURCHASES)).fetchall()
                else:
                    rows = conn.execute(
                        "SELECT p.data, r.data FROM purchases p LEFT JOIN products r ON r.gtin = p.gtin "
                        "WHERE p.customer = ? AND p.active = 1 ORDER BY p.at DESC LIMIT ?",
                        (customer, SHOWN_PURCHASES)).fetchall()
        language = profile.get("language") or "nl"
        categories: list[str] = []
        first_name = profile.get("first_name") if Category.FIRST_NAME in allowed else None
        if first_name:
            categories.append(Category.FIRST_NAME.value)
        tier = None
        if Category.TIER in allowed and profile:
            standing = progress(self._loyalty, int(profile.get("points") or 0), profile.get("tier"))
            tier = text_in(standing.tier.name, language) or standing.tier.id
            categories.append(Category.TIER.value)
        purchases = []
        for data, record in rows:
            line = json.loads(data)
            name = text_in(json.loads(record).get("name"), language) if record else None
            purchases.append(PurchaseView(gtin=line["gtin"], name=name or line.get("name"), quantity=line["quantity"],
                                          at=line["at"], channel=line["channel"]))
        if purchases:
            categories.append(Category.PURCHASE_HISTORY.value)
        product_name = text_in(json.loads(product[1]).get("name"), language) if product else None
        return ClientelingCall(call=call, state="shared", first_name=first_name, tier=tier, phase=held.phase,
                               gtin=held.gtin if product else None, product=product_name, category=category,
                               purchases=purchases), categories

    # ------------------------------------------------------------------ the end of a sharing

    def _end_call(self, call: str) -> None:
        with self._lock:
            held = self._calls.pop(call, None)
        if held is not None and held.customer is not None:
            self._publish_end(call)

    def _end_session(self, session: ActiveSession, reason: str) -> None:
        with self._lock:
            ended = [call for call, held in self._calls.items() if held.session == session.id]
            shared = [call for call in ended if self._calls[call].customer is not None]
            for call in ended:
                del self._calls[call]
        for call in shared:
            self._publish_end(call)

    def _publish_end(self, call: str) -> None:
        _, raw = encode(CLIENTELING, ClientelingCall(call=call, state="ended"))
        if not self._publish(self._topic, raw):
            logger.warning("the end of a shared call was not published: broker not connected (the console "
                           "forgets it when the call is handled)")
