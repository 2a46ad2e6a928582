"""Retry delays shared by everything that reconnects (broker link, card reader, camera).

Hand-written on purpose: backoff and tenacity are retry decorators that own the loop and the sleep, while
these loops (each with its own stop event and state) need only the next delay, which is one line.
"""

from __future__ import annotations

import random


def backoff_delay(attempt: int, minimum: float, maximum: float, rng: random.Random | None = None) -> float:
    """Delay before retry ``attempt`` (0-based): exponential, capped, with jitter.

    The delay is drawn uniformly from the upper half of ``min(maximum, minimum * 2**attempt)``,
    so a fleet that lost its broker (or a shelf of readers) at once does not come back at once.
    """
    step = min(maximum, minimum * (2 ** min(attempt, 30)))
    return (rng or random).uniform(step / 2, step)
