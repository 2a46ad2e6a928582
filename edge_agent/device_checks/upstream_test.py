"""The managers' test event: ``event/device-test`` through the real outbox, and when the broker had it.

The event is queued like every upstream event (:class:`edge_agent.outbox.Outbox`: durable first, sent with
QoS 1, deleted after the broker's PUBACK), so it tests the very way the store's events take. It is a
critical event, never dropped from a full outbox: its row leaving the outbox then means one thing only, the
broker acknowledged it, and a watcher thread notes when (it looks the row up by its sequence number every
:data:`POLL_S`). Central recognises it by its topic and its ``test`` field; it names no one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import __version__
from ..contract.payloads_device_checks import DeviceTestEvent, DeviceTestState
from ..outbox import Outbox
from ..store import Store

logger = logging.getLogger(__name__)

POLL_S = 0.05
WATCH_MAX_S = 86400.0  # a broker away for a day: the screen says "not delivered" until the event is


@dataclass
class _Sent:
    event: str
    seq: int
    queued: float  # monotonic
    delivered: float | None = None


class UpstreamTest:
    """Sends the test event and watches for its PUBACK.

    :param store: the agent's database; :param outbox: its outbox.
    :param clock: monotonic seconds.
    """

    def __init__(self, store: Store, outbox: Outbox, clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: _Sent | None = None
        self._stop = threading.Event()

    def send(self) -> str:
        """Queue ``event/device-test``; its message id. The previous test is no longer watched.

        :raises sqlite3.Error: when it could not be queued (the storage fault says why).
        """
        event = self._outbox.enqueue("device-test", DeviceTestEvent(agent_version=__version__))
        queued = self._clock()
        with self._store.reading() as conn:
            row = conn.execute("SELECT seq FROM outbox WHERE id = ?", (event,)).fetchone()
        sent = _Sent(event, row[0] if row else -1, queued)
        if row is None:  # delivered already, between the commit and this look-up: by now, at the latest
            sent.delivered = self._clock()
        with self._lock:
            self._sent = sent
        logger.info("test event %s queued upstream", event)
        if sent.delivered is None:
            threading.Thread(target=self._watch, args=(sent,), name="device-test-watch", daemon=True).start()
        return event

    def _watch(self, sent: _Sent) -> None:
        deadline = sent.queued + WATCH_MAX_S
        while not self._stop.wait(POLL_S):
            with self._lock:
                if self._sent is not sent:
                    return  # a newer test is watched instead
            with self._store.reading() as conn:
                waiting = conn.execute("SELECT 1 FROM outbox WHERE seq = ?", (sent.seq,)).fetchone() is not None
            if not waiting:
                with self._lock:
                    sent.delivered = self._clock()
                logger.info("test event %s delivered to the broker after %.3f s", sent.event,
                            sent.delivered - sent.queued)
                return
            if self._clock() > deadline:
                return

    def state(self) -> DeviceTestState | None:
        """The last test event: how long ago it was queued and whether (and after how long) it was delivered."""
        with self._lock:
            sent = self._sent
            if sent is None:
                return None
            delivered = sent.delivered
        now = self._clock()
        return DeviceTestState(event=sent.event, queued_age_s=round(max(0.0, now - sent.queued), 3),
                               delivered=delivered is not None,
                               delivered_after_s=None if delivered is None else round(delivered - sent.queued, 3))

    def stop(self) -> None:
        """Stop watching (the agent is stopping)."""
        self._stop.set()
