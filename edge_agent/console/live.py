"""Live updates for the pages: server-sent events fed by what the console hears on MQTT.

:class:`Live` is a fan-out from the MQTT thread to every open ``EventSource`` of the browsers: a publisher
calls :meth:`Live.notify` with a channel name (``devices``; the alerts and analytics pages add their own) and
a small JSON-able payload; each subscriber is an :class:`asyncio.Queue` on the web server's event loop, fed
with ``call_soon_threadsafe``. A subscriber too slow to read drops the oldest (the page re-reads what it shows
on each event, so losing an intermediate one loses nothing). :func:`stream` is the body of an SSE response:
``event: <channel>`` and ``data: <json>`` per event, and a comment every 15 s so proxies keep it open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterable
from typing import Any

logger = logging.getLogger(__name__)

QUEUE = 100  # events a subscriber may lag behind
KEEPALIVE_S = 15.0


class Live:
    """Channels of live events for the browsers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[tuple[str, Any]], frozenset[str]]] = []

    def subscribe(self, channels: Iterable[str]) -> asyncio.Queue[tuple[str, Any]]:
        """A queue that gets the events of ``channels`` (call on the event loop)."""
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE)
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue, frozenset(channels)))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        with self._lock:
            self._subscribers = [entry for entry in self._subscribers if entry[1] is not queue]

    def notify(self, channel: str, data: Any = None) -> None:
        """Send ``data`` on ``channel`` to every subscriber of it (from any thread)."""
        with self._lock:
            targets = [(loop, queue) for loop, queue, channels in self._subscribers if channel in channels]
        for loop, queue in targets:
            try:
                loop.call_soon_threadsafe(_put, queue, (channel, data))
            except RuntimeError:  # the loop is closed: the server is stopping
                pass

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)


def _put(queue: asyncio.Queue[tuple[str, Any]], item: tuple[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


async def stream(live: Live, channels: Iterable[str]) -> AsyncIterator[bytes]:
    """The body of a ``text/event-stream`` response for ``channels``, until the browser goes away."""
    queue = live.subscribe(channels)
    try:
        yield b": connected\n\n"
        while True:
            try:
                channel, data = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            yield f"event: {channel}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
    finally:
        live.unsubscribe(queue)
