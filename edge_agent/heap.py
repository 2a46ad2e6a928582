"""The agent process's heap after start: collected once, then frozen out of the garbage collector's reach.

CPython's cyclic garbage collector now and then examines every container object of the oldest generation
(a "gen2" collection), and holds the interpreter lock from start to end. Once started, the agent holds some
hundred thousand such objects that live as long as the process (modules, classes, pydantic's schemas, the
offer index), and a full collection over them took 50-70 ms under load. It comes when the bulk thread
allocates (a 500-record catalogue push being validated), and meanwhile no other thread runs: paho's network
thread does not read the ``request/ping`` that has arrived (bench/ping_under_load.py: p99 57-63 ms with the
collections, 11-14 ms without).

:func:`freeze_startup_heap` runs one full collection after start (what is garbage by then goes) and moves
what remains to the collector's permanent generation (``gc.freeze``), which later collections skip. They
then examine only what was made since: a fraction of a millisecond for a push's objects. Objects frozen this
way are still freed by reference counting when the last reference goes; only a reference cycle among them
would stay until the process ends, and what start builds (modules, classes, schemas, long-lived services)
stays for the process's life anyway.
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect, then freeze what survives; returns how many objects are frozen (``gc.get_freeze_count``)."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.debug("heap after start: %d objects frozen out of the garbage collector's passes (%.0f ms)", frozen,
                 (time.perf_counter() - started) * 1000)
    return frozen
