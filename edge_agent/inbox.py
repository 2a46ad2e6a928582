"""What arrives from the broker: validated, de-duplicated, applied, or rejected with a reason.

Every pushed message is validated against its schema before it touches
state, applied in one transaction together with the record of its id (so a
duplicate is ignored), and acknowledged to the broker only afterwards. A
message that cannot be applied is rejected: a log line naming topic and
reason (never the payload, which may hold personal data), a counter, and an
``event/error`` upstream.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from .central import APPLIERS
from .commands import Commands
from .contract import PUSHES, ErrorEvent, Topics, decode, parse_envelope
from .errors import ContractError
from .link import Received
from .outbox import Outbox
from .store import Store

logger = logging.getLogger(__name__)


class Inbox:
    """Routes received messages: pushes from central, commands, the link's own probe.

    :param on_probe: called with the raw payload of a probe message.
    """

    def __init__(self, store: Store, outbox: Outbox, topics: Topics, commands: Commands,
                 on_probe: Callable[[bytes], None], dedupe_days: float = 7.0):
        self._store = store
        self._outbox = outbox
        self._topics = topics
        self._commands = commands
        self._on_probe = on_probe
        self._dedupe_s = dedupe_days * 86400
        self.rejected = 0
        self.applied = 0
        self.duplicates = 0

    def handle(self, item: Received) -> None:
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
                    self.reject(item.topic, None, error)
        elif kind == "push":
            self._push(item)
        else:
            self.reject(item.topic, None, "topic is not part of the contract")

    def _push(self, item: Received) -> None:
        message = PUSHES.get(item.topic.removeprefix(self._topics.central_root))
        if message is None:
            self.reject(item.topic, None, "unknown kind of push")
            return
        if item.retain and message.personal:
            self.reject(item.topic, None, "personal data must not be retained on the broker")
            return
        try:
            decoded = decode(message, item.payload)
        except ContractError as exc:
            message_id = None
            with contextlib.suppress(ContractError):
                message_id = parse_envelope(item.payload).id
            self.reject(item.topic, message_id, str(exc))
            return
        message_id = decoded.envelope.id
        try:
            # Durable: once acknowledged the broker forgets the message, so it must survive
            # power loss (a batch costs one fsync for up to a thousand records).
            with self._store.transaction(durable=True) as conn:
                if conn.execute("SELECT 1 FROM inbox_seen WHERE id = ?", (message_id,)).fetchone():
                    self.duplicates += 1
                    logger.debug("duplicate %s %s ignored", message.name, message_id)
                    return
                APPLIERS[message.name](conn, decoded.payload, self._outbox)
                conn.execute("INSERT INTO inbox_seen (id, received) VALUES (?, ?)", (message_id, time.time()))
        except ContractError as exc:
            self.reject(item.topic, message_id, str(exc))
            return
        self.applied += 1
        logger.debug("applied %s %s", message.name, message_id)

    def reject(self, topic: str, message_id: str | None, reason: str) -> None:
        """Log, count and report upstream a message that was not applied."""
        self.rejected += 1
        logger.warning("rejected message on %s (id %s): %s", topic, message_id or "unknown", reason)
        try:
            self._outbox.enqueue("error", ErrorEvent(topic=topic[:512], message_id=message_id,
                                                     reason=reason[:1000]))
        except ContractError as exc:  # the topic itself may be unprintable garbage
            logger.error("could not report the rejection upstream: %s", exc)

    def prune(self) -> int:
        """Forget ids of pushes older than the de-duplication window; returns how many."""
        cutoff = time.time() - self._dedupe_s
        with self._store.transaction() as conn:
            return conn.execute("DELETE FROM inbox_seen WHERE received < ?", (cutoff,)).rowcount
