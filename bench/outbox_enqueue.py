"""Outbox enqueue rate: ``Outbox.enqueue("footfall", ...)`` vs raw sqlite3 inserts.

Ours: a ``Store`` on a temporary file and an ``Outbox`` over it; every call
validates the event, encodes its envelope and commits it durably (WAL,
``synchronous=FULL``), one commit per event.

Baseline: plain ``sqlite3`` on another temporary file in the same folder, the
same table and index (the outbox migration's DDL), WAL, ``synchronous=FULL``,
``BEGIN IMMEDIATE; INSERT; COMMIT`` per event, inserting the same encoded
payload bytes (encoded before the clock starts: the baseline is the price of
durability alone).

The sides alternate every 100 events (rotating order) so they see the same
disk. A diagnostic third side, our ``Store.transaction(durable=True)`` with
the same pre-encoded INSERT, splits our cost into the store wrapper and
validation + encoding. Rounds stop early when the run's time budget is spent
(a disk whose fsync takes milliseconds).

Target: ours >= 0.8x raw events/s (median of the per-round ratios).

    .venv/bin/python bench/outbox_enqueue.py [--quick] [--rounds N] [--events N] [--budget-s S]
"""

from __future__ import annotations

import gc
import logging
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import _common as common
from _common import Row

from edge_agent.contract import EVENTS, Topics, encode
from edge_agent.outbox import Outbox
from edge_agent.store import Store

TARGET = 0.8

OUTBOX_DDL = (
    """CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        critical INTEGER NOT NULL,
        created REAL NOT NULL)""",
    "CREATE INDEX outbox_telemetry ON outbox (critical, seq)",
)


def footfall(i: int) -> dict:
    return {"interval_start": "2026-04-01T09:30:00Z", "interval_s": 60.0, "count": i % 50}


class Ours:
    """A Store on a temporary file and an Outbox over it."""

    def __init__(self, folder: Path, events: int):
        self.store = Store(folder / "ours.db")
        self.outbox = Outbox(self.store, Topics(common.STORE_ID, common.DEVICE_ID), max_rows=10 * events + 1000)
        self.i = 0

    def run(self, count: int) -> float:
        enqueue = self.outbox.enqueue
        start = time.perf_counter()
        for i in range(self.i, self.i + count):
            enqueue("footfall", footfall(i))
        elapsed = time.perf_counter() - start
        self.i += count
        return elapsed

    def close(self) -> None:
        self.store.close()


class StoreOnly:
    """Diagnostic: our Store's durable transaction with the INSERT the outbox does, but with
    payloads encoded before the clock starts. Ours minus this is the cost of validation and encoding;
    this minus raw is the cost of the Store's transaction wrapper."""

    def __init__(self, folder: Path, events: int):
        self.topic = Topics(common.STORE_ID, common.DEVICE_ID).event("footfall")
        message = EVENTS["footfall"]
        self.rows = [encode(message, footfall(i)) for i in range(events)]
        self.store = Store(folder / "store-only.db")
        self.i = 0

    def run(self, count: int) -> float:
        store, topic = self.store, self.topic
        sql = "INSERT INTO outbox (id, topic, payload, critical, created) VALUES (?, ?, ?, ?, ?)"
        rows = self.rows[self.i:self.i + count]
        start = time.perf_counter()
        for message_id, payload in rows:
            with store.transaction(durable=True) as conn:
                conn.execute(sql, (message_id, topic, payload, 0, time.time()))
        elapsed = time.perf_counter() - start
        self.i += count
        return elapsed

    def close(self) -> None:
        self.store.close()


class Raw:
    """Plain sqlite3, the outbox's table, the same durability, pre-encoded payloads."""

    def __init__(self, folder: Path, events: int):
        self.topic = Topics(common.STORE_ID, common.DEVICE_ID).event("footfall")
        message = EVENTS["footfall"]
        self.rows = [encode(message, footfall(i)) for i in range(events)]
        self.conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        for ddl in OUTBOX_DDL:
            self.conn.execute(ddl)
        self.i = 0

    def run(self, count: int) -> float:
        conn, topic = self.conn, self.topic
        sql = "INSERT INTO outbox (id, topic, payload, critical, created) VALUES (?, ?, ?, ?, ?)"
        rows = self.rows[self.i:self.i + count]
        start = time.perf_counter()
        for message_id, payload in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, (message_id, topic, payload, 0, time.time()))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        self.i += count
        return elapsed

    def close(self) -> None:
        self.conn.close()


def one_round(folder: Path, r: int, events: int, chunk: int, budget_s: float) -> tuple[dict[str, float], int]:
    """Events/s of each side, interleaved chunk by chunk (rotating the order) so all see the same disk,
    and the events each side wrote: ``events``, or fewer when the round ran out of its time budget
    (a slow disk: fsync in milliseconds)."""
    sides = {"ours": Ours(folder, events + 40), "raw": Raw(folder, events + 40),
             "store-only": StoreOnly(folder, events + 40)}
    names = list(sides)
    try:
        for side in sides.values():  # warm-up: caches, the table's first pages
            side.run(20)
        gc.collect()
        times = dict.fromkeys(sides, 0.0)
        done = 0
        k = r
        deadline = time.monotonic() + budget_s
        while done < events and (done < 2 * chunk or time.monotonic() < deadline):
            count = min(chunk, events - done)
            for j in range(len(names)):
                name = names[(k + j) % len(names)]
                times[name] += sides[name].run(count)
            done += count
            k += 1
    finally:
        for side in sides.values():
            side.close()
    return {name: done / elapsed for name, elapsed in times.items()}, done


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0], rounds=7)
    p.add_argument("--events", type=int, default=None, help="events per side per round (default 4000, quick 200)")
    p.add_argument("--chunk", type=int, default=100, help="events per turn when alternating ours and raw")
    p.add_argument("--budget-s", type=float, default=75.0,
                   help="time budget of the whole run; rounds end early on a slow disk (default 75 s)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    events = args.events or (200 if args.quick else 4000)
    rounds = common.rounds_of(args)
    base = Path(tempfile.mkdtemp(prefix="bench-enqueue-"))
    ours_rates: list[float] = []
    raw_rates: list[float] = []
    store_rates: list[float] = []
    written: list[int] = []
    try:
        for r in range(rounds):
            folder = base / f"round-{r}"
            folder.mkdir()
            rates, done = one_round(folder, r, events, args.chunk, args.budget_s / rounds)
            written.append(done)
            ours_rates.append(rates["ours"])
            raw_rates.append(rates["raw"])
            store_rates.append(rates["store-only"])
            if args.verbose:
                print(f"round {r}: ours {ours_rates[-1]:.0f}/s raw {raw_rates[-1]:.0f}/s", file=sys.stderr)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    ours, raw = common.median(ours_rates), common.median(raw_rates)
    ratios = [o / b for o, b in zip(ours_rates, raw_rates, strict=True)]
    ratio = common.median(ratios)
    rows = [Row("enqueue rate", ours, raw, "events/s", ratio, f">= {TARGET}x raw", ratio >= TARGET,
                ours_rates, raw_rates)]
    # Per-event cost beside the rate: what our code adds to one durable insert.
    rows.append(Row("time per event", 1e6 / ours, 1e6 / raw, "us", None,
                    "(info)", None, [1e6 / v for v in ours_rates], [1e6 / v for v in raw_rates]))
    store = common.median(store_rates)
    rows.append(Row("diag: Store.transaction + INSERT, pre-encoded", store, raw, "events/s",
                    common.median([o / b for o, b in zip(store_rates, raw_rates, strict=True)]), "(info)", None,
                    store_rates, raw_rates))
    rows.append(Row("diag: validate+encode+outbox cost", 1e6 / ours - 1e6 / store, None, "us/event", None,
                    "(info)", None, note="per event: 1/ours - 1/store-only"))
    notes = [(f"{rounds} rounds x {min(written)}-{max(written)} events each side (at most {events}, "
              f"time budget {args.budget_s:g} s), alternating every {args.chunk} events; "
              "medians; ratio = median of the per-round ratios. "
              f"Temp files in {tempfile.gettempdir()}; WAL, synchronous=FULL, one commit per event on both sides.")]
    return common.finish("outbox_enqueue: Outbox.enqueue vs raw sqlite3 insert", args, rows, notes)


if __name__ == "__main__":
    sys.exit(main())
