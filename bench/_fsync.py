"""The disk's fsync time during a benchmark, for the ones whose path waits for a durable commit.

The agent commits a tap durably before it publishes the session (one fsync), and the raw baselines write
nothing, so those benchmarks' ratios move with the fsync time, which on a shared machine depends on what
the other processes write. :func:`fsync_times` samples it between rounds, for an info row beside the figures.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def fsync_times(folder: Path, count: int = 20) -> list[float]:
    """``count`` fsyncs of a fresh 4 KiB write to a file in ``folder`` (where the database is), 20 ms
    apart, in ms."""
    path = folder / "fsync-probe"
    times = []
    with open(path, "ab") as probe:
        for _ in range(count):
            probe.write(b"\0" * 4096)
            probe.flush()
            start = time.perf_counter()
            os.fsync(probe.fileno())
            times.append((time.perf_counter() - start) * 1000)
            time.sleep(0.02)
    path.unlink()
    return times
