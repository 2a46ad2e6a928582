"""This device's clock against central's, for the device checks.

How the agent learns central's time: a limited broker login cannot read Mosquitto's ``$SYS/broker/…`` topics,
and those hold no wall-clock time anyway; MQTT 3.1.1 puts no timestamp on a message. What does carry central's
clock is every push from central: its envelope's ``ts`` is the sender's time when it was sent. A push that
arrives live (not a retained copy, not one the broker held while the agent was offline) arrived a transit
time ``delay >= 0`` after it was sent, so ``received - ts = offset + delay``: each sample is an upper bound
of how far this clock is ahead of central's. As NTP's clock filter takes its fastest exchange, the smallest
recent sample is the estimate (``ahead_s``); a negative one means this clock is behind central's by at
least that much. A push the broker kept while the agent was away arrives late and only raises its own
sample, which the minimum ignores.

Beside it, the kernel's own view (``adjtimex(2)`` in read-only mode): whether the system clock is
synchronised (NTP, chrony, systemd-timesyncd) and its maximum error. Read where Linux offers it; None
elsewhere.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from ..clock import kernel_timex
from ..contract.payloads_device_checks import ClockCheck

logger = logging.getLogger(__name__)

SAMPLES_KEPT = 32
SAMPLE_MAX_AGE_S = 3600.0  # older samples no longer say much about the clock now
_HEAD_BYTES = 256  # the envelope's ts is near its start (edge_agent.contract.codec.encode writes it second)
_TS = re.compile(rb'"ts"\s*:\s*"([0-9T:.+\-Z]{20,40})"')
TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


def envelope_ts(payload: bytes) -> datetime | None:
    """The ``ts`` of an envelope, read from its first bytes without parsing the rest; None when absent."""
    match = _TS.search(payload[:_HEAD_BYTES])
    if match is None:
        return None
    try:
        ts = datetime.fromisoformat(match.group(1).decode())
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else None


class CentralClock:
    """Samples of this clock against central's, from live pushes (see the module docstring).

    :param central_root: the store's central topic prefix (``cs/v1/central/<store>/``).
    :param wall: the wall clock (Unix seconds); :param clock: monotonic seconds (ages).
    """

    def __init__(self, central_root: str, wall: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic):
        self._root = central_root
        self._wall = wall
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque(maxlen=SAMPLES_KEPT)  # (monotonic at, received - ts)
        self._lock = threading.Lock()

    def observe(self, topic: str, payload: bytes, retained: bool) -> None:
        """A message arrived: a live push from central gives a sample (anything else is ignored)."""
        if retained or not topic.startswith(self._root):
            return
        received = self._wall()
        ts = envelope_ts(payload)
        if ts is None:
            return
        with self._lock:
            self._samples.append((self._clock(), received - ts.timestamp()))

    def wrap(self, handler: Callable):
        """``handler`` (the link's message handler) with :meth:`observe` before it."""
        def observed(item):
            try:
                self.observe(item.topic, item.payload, item.retain)
            except Exception:  # a clock sample must never cost a push
                logger.exception("reading a push's timestamp failed")
            return handler(item)
        return observed

    def check(self) -> ClockCheck:
        """The estimate now, with the kernel's synchronisation state."""
        now = self._clock()
        with self._lock:
            recent = [(at, sample) for at, sample in self._samples if now - at <= SAMPLE_MAX_AGE_S]
        synchronised, max_error_ms = kernel_clock()
        if not recent:
            return ClockCheck(samples=0, synchronised=synchronised, max_error_ms=max_error_ms)
        return ClockCheck(ahead_s=round(min(sample for _, sample in recent), 3), samples=len(recent),
                          last_sample_age_s=round(max(0.0, now - recent[-1][0]), 3), synchronised=synchronised,
                          max_error_ms=max_error_ms)


def kernel_clock() -> tuple[bool | None, float | None]:
    """(synchronised, maximum error in ms) from ``adjtimex(2)`` (:func:`edge_agent.clock.kernel_timex`);
    (None, None) where it cannot be asked (not Linux, no libc)."""
    read = kernel_timex()
    if read is None:
        return None, None
    state, max_error_us = read
    return state != TIME_ERROR, round(max_error_us / 1000.0, 3)
