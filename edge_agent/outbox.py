"""The durable outbox: every upstream event is in SQLite before it is sent.

Events are appended with a never-reused sequence number, committed with
``synchronous=FULL``, handed to the MQTT link in sequence order and deleted
only after the broker's PUBACK. A crash or a broker outage loses nothing; a
PUBACK lost with the connection means the event is sent again, so consumers
de-duplicate by the envelope ``id``.

The outbox is bounded by ``max_rows``. When it is full, the oldest telemetry
event is dropped (and counted) to make room; critical events (consent,
erasure, orders) are never dropped, even beyond the bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .contract import EVENTS, DeliveryClass, Topics, encode
from .store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    """One event waiting to be sent."""

    seq: int
    topic: str
    payload: bytes


@dataclass(frozen=True)
class Depth:
    total: int
    critical: int
    oldest_age_s: float | None


class Outbox:
    """Durable, bounded, ordered queue of upstream events.

    :param store: the agent's database.
    :param topics: the device's topics (events are published under them).
    :param max_rows: the bound beyond which telemetry is dropped oldest-first.
    """

    def __init__(self, store: Store, topics: Topics, max_rows: int):
        self._store = store
        self._topics = topics
        self.max_rows = max_rows
        self.dropped_telemetry = 0
        self._listeners: list[Callable[[], None]] = []
        self._observers: list[Callable[[str, str, BaseModel | dict[str, Any]], None]] = []
        with store.reading() as conn:
            # An estimate kept in memory so enqueue needs no COUNT(*); it can
            # only overestimate (a rolled-back outer transaction), and is
            # recounted before anything is dropped.
            self._rows = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        self._rows_lock = threading.Lock()
        self._local = threading.local()  # .held: the wake-ups :meth:`wake_later` holds on this thread

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (without arguments, quickly) after every enqueue."""
        self._listeners.append(callback)

    def add_observer(self, callback: Callable[[str, str, BaseModel | dict[str, Any]], None]) -> None:
        """Call ``callback(name, message_id, data)`` for every event enqueued from now on, once its transaction
        has committed (the analytics count what the agent sends: :mod:`edge_agent.analytics`). It runs on the
        enqueueing thread, so it must be quick; an exception in it is logged, never raised to the sender."""
        self._observers.append(callback)

    def _observed(self, name: str, message_id: str, data: BaseModel | dict[str, Any]) -> None:
        for observer in self._observers:
            try:
                observer(name, message_id, data)
            except Exception:  # an observer's fault must not fail an event already committed
                logger.exception("an observer of the outbox failed on event %s", name)

    def enqueue(self, name: str, data: BaseModel | dict[str, Any]) -> str:
        """Validate, encode and durably store the event ``name``; return its message id.

        May be called inside an outer ``store.transaction(durable=True)`` so the
        event commits atomically with a state change.

        :raises KeyError: for an event name the contract does not define.
        :raises ContractError: when ``data`` does not fit the event's schema.
        """
        message = EVENTS[name]
        message_id, payload = encode(message, data)
        critical = message.delivery is DeliveryClass.CRITICAL
        topic = self._topics.event(name)
        with self._store.transaction(durable=True) as conn:
            if self._rows >= self.max_rows and not self._make_room(conn, critical):
                return message_id
            conn.execute(
                "INSERT INTO outbox (id, topic, payload, critical, created) VALUES (?, ?, ?, ?, ?)",
                (message_id, topic, payload, int(critical), time.time()),
            )
            with self._rows_lock:
                self._rows += 1
            if self._observers:
                self._store.after_commit(lambda: self._observed(name, message_id, data))
        held = getattr(self._local, "held", None)
        if held is not None:
            self._store.after_commit(lambda: held.append(message_id))
        else:
            for callback in self._listeners:
                self._store.after_commit(callback)
        return message_id

    @contextmanager
    def wake_later(self) -> Iterator[None]:
        """Hold the listeners' wake-up for events this thread enqueues in the block until the block ends.

        For a caller with something more urgent to do right after its commit: the tap path publishes the
        session for the kiosk first, and a drain woken at the commit would publish the tap event on the same
        connection ahead of it. Durability is unchanged (each event is committed at ``synchronous=FULL``
        as always); only events whose transaction committed wake the listeners, once, at the end.
        """
        if getattr(self._local, "held", None) is not None:  # nested: the outer block wakes them
            yield
            return
        held: list[str] = []
        self._local.held = held
        try:
            yield
        finally:
            self._local.held = None
            if held:
                for callback in self._listeners:
                    callback()

    def _make_room(self, conn, critical: bool) -> bool:
        """Drop the oldest telemetry event if the outbox is full; False when the
        new event itself is the telemetry to drop."""
        rows = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        with self._rows_lock:
            self._rows = rows
        if rows < self.max_rows:
            return True
        oldest = conn.execute("SELECT seq FROM outbox WHERE critical = 0 ORDER BY seq LIMIT 1").fetchone()
        if oldest is None and not critical:
            self._count_drop(rows)
            return False
        if oldest is None:
            # Only critical events are waiting: they are never dropped, so the
            # outbox grows past its bound and says so.
            logger.warning("outbox holds %d critical events, over its bound of %d; keeping all",
                           rows, self.max_rows)
            return True
        conn.execute("DELETE FROM outbox WHERE seq = ?", (oldest[0],))
        with self._rows_lock:
            self._rows -= 1
        self._count_drop(rows)
        return True

    def _count_drop(self, rows: int) -> None:
        self.dropped_telemetry += 1
        if self.dropped_telemetry == 1 or self.dropped_telemetry % 1000 == 0:
            logger.warning("outbox full (%d events): dropped the oldest telemetry event (%d dropped so far)",
                           rows, self.dropped_telemetry)

    def after(self, seq: int, limit: int) -> list[Pending]:
        """Up to ``limit`` waiting events with a sequence number above ``seq``, in order."""
        with self._store.reading() as conn:
            rows = conn.execute(
                "SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
        return [Pending(seq, topic, bytes(payload)) for seq, topic, payload in rows]

    def delete(self, seqs: Iterable[int]) -> int:
        """Forget events the broker acknowledged; returns how many rows went.

        Not a durable commit on purpose: if power fails before it reaches the
        disk the events are sent again, which the consumers' de-duplication absorbs.
        """
        seqs = list(seqs)
        deleted = 0
        with self._store.transaction() as conn:
            for start in range(0, len(seqs), 500):
                chunk = seqs[start:start + 500]
                marks = ",".join("?" * len(chunk))
                deleted += conn.execute(f"DELETE FROM outbox WHERE seq IN ({marks})", chunk).rowcount
            with self._rows_lock:
                self._rows -= deleted
        return deleted

    def depth(self) -> Depth:
        with self._store.reading() as conn:
            total, critical, oldest = conn.execute(
                "SELECT count(*), coalesce(sum(critical), 0), min(created) FROM outbox").fetchone()
        age = None if oldest is None else max(0.0, time.time() - oldest)
        return Depth(total, critical, age)
