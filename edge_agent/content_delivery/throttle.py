"""A token bucket: the bandwidth cap shared by every file a :class:`~.download.Downloader` fetches at once.

Each read from the network takes its size in tokens; the bucket fills at the
cap's rate and holds at most one second of it, so after an idle moment a
download bursts for at most a second's worth and then keeps to the rate.
Waiting is on the caller's cancel event, so a cancelled download does not sit
out its throttle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Bytes per second, shared between threads.

    :param rate: bytes per second (> 0).
    :param burst: the most bytes that pass without waiting (default: one second's worth).
    :param monotonic: the clock (seconds).
    """

    def __init__(self, rate: float, burst: float | None = None, monotonic: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError(f"bandwidth cap {rate!r} bytes/s must be > 0")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else rate)
        self._monotonic = monotonic
        self._tokens = self.burst
        self._stamp = monotonic()
        self._lock = threading.Lock()

    def take(self, amount: int, cancel: threading.Event) -> bool:
        """Wait until ``amount`` bytes may pass; False when ``cancel`` was set first.

        An amount above the burst is let through once the bucket is full, leaving it in debt, so a large
        read does not wait forever and the average still keeps to the rate.
        """
        while True:
            with self._lock:
                now = self._monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                need = min(float(amount), self.burst)
                if self._tokens >= need:
                    self._tokens -= amount
                    return True
                wait = (need - self._tokens) / self.rate
            if cancel.wait(wait):
                return False
