"""What arrives from the broker: validated, de-duplicated, applied, or rejected with a reason.

Every pushed message is validated against its schema before it touches
state, applied in one transaction together with the record of its id (so a
duplicate is ignored), and acknowledged to the broker only afterwards. A
message that cannot be applied is rejected: a log line naming topic and
reason (never the payload, which may hold personal data), a counter, and an
``event/error`` upstream. A failure inside a handler is never silent: a bug
is rejected the same way, its reason the exception's type and place
(:func:`edge_agent.transient.describe_bug`).

A push that could not be applied because of a transient storage condition
(:mod:`edge_agent.transient`: disk full, database locked, I/O error) is
neither rejected nor acknowledged: it is held, with every push that arrives
after it (pushes are applied in arrival order), and applied again with
jittered exponential backoff until the condition has passed; each is
acknowledged once it is applied. If the agent stops or the connection drops
meanwhile, the broker delivers the unacknowledged pushes again (the session
is persistent), and what was applied already is a duplicate by id.
An invalid push whose rejection cannot be reported (its ``event/error`` cannot
be written for the same reasons) is held the same way and rejected again once
it can be: it will never apply, but acknowledged unreported, central would
never learn that it was refused. Requests are not held: they are answered at
once, with an error saying why (``storage full: …``) when they could not be
carried out.

Batched pushes are validated a slice of records at a time
(:mod:`edge_agent.sliced_validation`), yielding to device commands between
slices, so a ``request/ping`` does not wait for a whole catalogue.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from .backoff import backoff_delay
from .central import APPLIERS, Applier
from .commands import Commands
from .contract import PUSHES, ErrorEvent, Topics, decode, parse_envelope
from .errors import ContractError
from .link import Received
from .outbox import Outbox
from .sliced_validation import validate_in_slices
from .store import Store
from .transient import Fault, describe_bug, describe_fault, fault_of, locations

logger = logging.getLogger(__name__)


class Inbox:
    """Routes received messages: pushes from central, commands, the link's own probe.

    :param on_probe: called with the raw payload of a probe message.
    :param retry_min_s: first delay before a held push is tried again (doubling up to ``retry_max_s``).
    :param appliers: appliers of pushes a service of this agent takes (e.g. ``content-pack``), beside
        :data:`edge_agent.central.APPLIERS`; a push without an applier is rejected.
    """

    def __init__(self, store: Store, outbox: Outbox, topics: Topics, commands: Commands,
                 on_probe: Callable[[bytes], None],
                 retry_min_s: float = 0.2, retry_max_s: float = 5.0, appliers: Mapping[str, Applier] | None = None):
        # The agent's own services' appliers, looked up before central's table (read at each push, not copied).
        self._appliers: dict[str, Applier] = dict(appliers or {})
        self._store = store
        self._outbox = outbox
        self._topics = topics
        self._commands = commands
        self._on_probe = on_probe
        self.rejected = 0
        # The link serves device commands on a thread of their own: rejections come from both.
        self._count_lock = threading.Lock()
        self.applied = 0
        self.duplicates = 0
        self._held: deque[Received] = deque()  # pushes not applied for now, in arrival order
        # What the first held push met last: kept while any is held (health shows it as the storage fault).
        self.held_fault: tuple[Fault, str] | None = None
        self._attempt = 0
        self._retry_at = 0.0
        self._retry_min_s = retry_min_s
        self._retry_max_s = retry_max_s
        # Batched pushes validated a slice of records at a time (edge_agent.sliced_validation), so the other
        # threads (a device command's) do not wait for a whole catalogue; False validates each in one go (the
        # behaviour before, what bench/ping_under_load.py compares with).
        self.sliced = True

    @property
    def held(self) -> int:
        """Pushes waiting for a transient storage condition to pass."""
        return len(self._held)

    def receive(self, item: Received) -> bool:
        """The link's handler: :meth:`handle`, and any exception reported instead of raised.

        :returns: False when the push is held (the inbox acknowledges it once it is applied), else True.
        """
        try:
            return self.handle(item) is not False
        except Exception as exc:  # noqa: BLE001 - never silent: reported as a rejection
            self._bug(item.topic, None, exc)
            return True

    def handle(self, item: Received) -> bool | None:
        """Route one message; False when it is a push held for a transient storage condition."""
        kind, message = self._topics.classify(item.topic)
        if kind == "probe":
            self._on_probe(item.payload)
        elif kind == "command":
            if message is None:
                self.reject(item.topic, None, "unknown command")
            else:
                error = self._commands.handle(message.name.removeprefix("request-"), item.payload,
                                              retained=item.retain)
                if error is not None:
                    self.reject(item.topic, _id_of(item.payload), error)
        elif kind == "push":
            if self._held:  # behind the held ones, in order
                self._held.append(item)
                return False
            return self._push(item)
        else:
            self.reject(item.topic, None, "topic is not part of the contract")
        return None

    def _push(self, item: Received) -> bool:
        """Apply a push, or reject it; False when it was held for a transient storage condition."""
        try:
            return self._apply(item)
        except Exception as exc:  # noqa: BLE001 - storage faults are held, anything else rejected
            message_id = _id_of(item.payload)
            fault = fault_of(exc)
            if fault is None:
                self._bug(item.topic, message_id, exc)
                return True
            self._hold(item, message_id, fault, describe_fault(fault, exc))
            return False

    def _hold(self, item: Received, message_id: str | None, fault: Fault, reason: str) -> None:
        self.held_fault = (fault, reason)
        if not self._held:
            self._attempt = 0
            logger.warning("push on %s (id %s) not applied for now, held and retried: %s", item.topic,
                           message_id or "unknown", reason)
        self._held.append(item)
        self._schedule()

    def _schedule(self) -> float:
        delay = backoff_delay(self._attempt, self._retry_min_s, self._retry_max_s)
        self._attempt += 1
        self._retry_at = time.monotonic() + delay
        return delay

    def retry(self) -> float | None:
        """The link's retry hook: apply the held pushes in order, acknowledging each once applied.

        :returns: seconds until it should be called again; None when nothing is held.
        """
        if not self._held:
            return None
        due_in = self._retry_at - time.monotonic()
        if due_in > 0:
            return due_in
        tries = self._attempt
        while self._held:
            item = self._held[0]
            if not item.client.is_connected():
                # The broker delivers it again on the next connection (persistent session).
                self._held.popleft()
                continue
            try:
                done = self._apply(item)
            except Exception as exc:  # noqa: BLE001 - as in _push
                fault = fault_of(exc)
                if fault is not None:
                    self.held_fault = (fault, describe_fault(fault, exc))
                    logger.debug("held push on %s still not applied: %s", item.topic, self.held_fault[1])
                    return self._schedule()
                self._bug(item.topic, _id_of(item.payload), exc)
                done = True
            if done:
                self._held.popleft()
                item.acknowledge()
        self.held_fault = None
        logger.info("held pushes applied after %d retries", tries)
        return None

    def _bug(self, topic: str, message_id: str | None, exc: BaseException) -> None:
        reason = describe_bug(exc)
        logger.error("failure while handling a message on %s (id %s): %s\n%s", topic, message_id or "unknown",
                     reason, locations(exc))
        self.reject(topic, message_id, reason)

    def _apply(self, item: Received) -> bool:
        """Validate and apply a push, or reject it; raises what is not the message's fault."""
        message = PUSHES.get(item.topic.removeprefix(self._topics.central_root))
        if message is None:
            self.reject(item.topic, None, "unknown kind of push", hold=True)
            return True
        applier = self._appliers.get(message.name) or APPLIERS.get(message.name)
        if applier is None:
            self.reject(item.topic, _id_of(item.payload), f"this device does not take {message.name} pushes "
                                                           "(not configured)", hold=True)
            return True
        if item.retain and message.personal:
            self.reject(item.topic, None, "personal data must not be retained on the broker", hold=True)
            return True
        try:
            sliced = functools.partial(validate_in_slices, between=item.yield_to_commands) if self.sliced else None
            decoded = decode(message, item.payload, validate=sliced)
        except ContractError as exc:
            self.reject(item.topic, _id_of(item.payload), str(exc), hold=True)
            return True
        message_id = decoded.envelope.id
        try:
            # Durable: once acknowledged the broker forgets the message, so it must survive
            # power loss (a batch costs one fsync for up to a thousand records).
            with self._store.transaction(durable=True) as conn:
                if conn.execute("SELECT 1 FROM inbox_seen WHERE id = ?", (message_id,)).fetchone():
                    self.duplicates += 1
                    logger.debug("duplicate %s %s ignored", message.name, message_id)
                    return True
                report = applier(conn, decoded.payload, self._outbox)
                conn.execute("INSERT INTO inbox_seen (id, received) VALUES (?, ?)", (message_id, time.time()))
        except ContractError as exc:
            self.reject(item.topic, message_id, str(exc), hold=True)
            return True
        if report:  # committed now: "erased" is true only from here on
            logger.info("%s", report)
        self.applied += 1
        logger.debug("applied %s %s", message.name, message_id)
        return True

    def reject(self, topic: str, message_id: str | None, reason: str, *, hold: bool = False) -> None:
        """Log, count and report upstream a message that was not applied.

        :param hold: for a push: when its report (``event/error``) cannot be written for a transient storage
            condition (a full disk), raise that error instead, so the push is held, not acknowledged, and
            rejected again once the condition has passed. An invalid push will never apply, but acknowledged
            without its report central would never learn that it was refused, nor why. A request's rejection
            (``hold`` False) is answered at once, so only the log line and the counter remain.
        :raises sqlite3.Error: with ``hold``, the transient storage error that kept the report from being written.
        """
        try:
            self._outbox.enqueue("error", ErrorEvent(topic=topic[:512], message_id=message_id,
                                                     reason=reason[:1000]))
        except ContractError as exc:  # the topic itself may be unprintable garbage
            logger.error("could not report the rejection upstream: %s", exc)
        except sqlite3.Error as exc:  # a full or locked disk
            fault = fault_of(exc)
            if hold and fault is not None:
                raise
            logger.error("could not report the rejection upstream: %s",
                         describe_fault(fault, exc) if fault else describe_bug(exc))
        with self._count_lock:
            self.rejected += 1
        logger.warning("rejected message on %s (id %s): %s", topic, message_id or "unknown", reason)


def _id_of(payload: bytes) -> str | None:
    """The envelope id of a message, when it has a readable one."""
    with contextlib.suppress(ContractError):
        return parse_envelope(payload).id
    return None
