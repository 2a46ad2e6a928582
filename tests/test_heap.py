"""The agent process freezes the heap its start built out of the garbage collector's passes
(:mod:`edge_agent.heap`); bench/ping_under_load.py measures what that is worth."""

from __future__ import annotations

import gc
import signal
import sys
import threading
import weakref

from edge_agent import agent as agent_module
from edge_agent.agent import Agent
from edge_agent.heap import freeze_startup_heap


class Survivor:
    """A container the collector tracks (a class instance with a __dict__)."""


def test_what_survives_start_is_frozen_and_later_objects_are_still_collected():
    before = Survivor()
    dropped = [Survivor() for _ in range(100)]
    gc.unfreeze()
    try:
        frozen = freeze_startup_heap()
        assert frozen > 100
        # Frozen objects are still freed by reference counting (so the count also drops whenever one of the
        # suite's other threads lets go of an object it made before the freeze).
        dropped.clear()
        assert 0 < gc.get_freeze_count() <= frozen - 100
        assert not any(each is before for each in gc.get_objects())  # out of every generation's passes
        after = Survivor()
        assert any(each is after for each in gc.get_objects())
        # Garbage made after the freeze (a reference cycle) is still found and freed, by whichever collection
        # comes first (other threads of this process allocate too, and may set off one before ours).
        cycle = Survivor()
        cycle.self = cycle  # type: ignore[attr-defined]
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()


def test_the_agents_own_process_freezes_its_heap_once_started(monkeypatch):
    calls: list[str] = []
    agent = Agent.__new__(Agent)  # the process's steps only: start and stop are recorded, not run
    agent._stopping = threading.Event()
    agent._stopping.set()  # stops at once
    monkeypatch.setattr(agent, "start", lambda: calls.append("start"), raising=False)
    monkeypatch.setattr(agent, "stop", lambda: calls.append("stop"), raising=False)
    monkeypatch.setattr(agent_module, "freeze_startup_heap", lambda: calls.append("freeze") or 0)
    interval = sys.getswitchinterval()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        agent.run_forever()
    finally:
        sys.setswitchinterval(interval)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert calls == ["start", "freeze", "stop"]
