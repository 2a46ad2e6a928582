"""Aggregation cost per kiosk event: ``AnalyticsService`` (into hourly buckets) vs a raw SQLite insert of the event.

A kiosk event is one of the kiosk's usage reports as the agent's command handler gets it (the request model,
already validated): a visit's screens (``report-screen``, four screens per visit, the last one ending it) and
attract items (``report-play``), three screen reports to one play report, the day's mix.

Ours: ``AnalyticsService.report_screen`` / ``report_play`` per event (the pure aggregator, under its lock), and
the service's ``flush()`` (fold timed-out visits, upsert the changed buckets in one transaction) after every
``--flush-every`` events (default 100: at the agent's ``[analytics] flush_s`` of 10 s, 10 events a second), its
time included and shared over those events. A diagnostic side flushes after every event (the worst case: no
in-memory summing).

Baseline: plain ``sqlite3`` on a temporary file in the same folder, WAL, ``synchronous=NORMAL`` (as the agent's
non-durable writes), one table with the event's fields as columns, ``BEGIN IMMEDIATE; INSERT; COMMIT`` per event:
the price of keeping each event as it is.

The sides alternate every ``--chunk`` events (rotating order) so they see the same disk. Figures: microseconds
per event, medians over rounds; ratio = median of per-round ratios ours / raw (below 1: aggregating costs less
than writing the event down).

Target: ours <= 1.0x raw per event.

    .venv/bin/python bench/analytics_aggregation.py [--quick] [--rounds N] [--events N]
"""

from __future__ import annotations

import gc
import logging
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import _common as common
from _common import Row

from edge_agent.analytics.config import AnalyticsConfig
from edge_agent.analytics.service import AnalyticsService
from edge_agent.contract import PlayReport, ScreenReport, Topics, VisitKind
from edge_agent.outbox import Outbox
from edge_agent.store import Store

TARGET = 1.0
SCREENS = (("begrijp", "understand"), ("inspireer", "inspire"), ("informeer", "inform"), ("converteer", "convert"))
KINDS = (VisitKind.RECOGNISED, VisitKind.ANONYMOUS, VisitKind.BROWSE, VisitKind.ENROLMENT)
RAW_DDL = """CREATE TABLE usage_events (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, visit TEXT, visit_kind TEXT, screen TEXT, phase TEXT,
    item TEXT, media TEXT, started TEXT NOT NULL, shown_s REAL NOT NULL, touched INTEGER, ends_visit INTEGER)"""
START = datetime(2026, 6, 1, 7, tzinfo=UTC)


def kiosk_events(count: int) -> list[ScreenReport | PlayReport]:
    """``count`` reports: three screen reports (visits of four screens) to one play report, a second apart."""
    events: list[ScreenReport | PlayReport] = []
    screen = 0
    for i in range(count):
        at = START + timedelta(seconds=i)
        if i % 4 == 3:
            events.append(PlayReport(item=f"item-{i % 7}", media="image", started=at, shown_s=8.0))
            continue
        visit = screen // 4
        name, phase = SCREENS[screen % 4]
        events.append(ScreenReport(visit=f"v-{visit:016x}", kind=KINDS[visit % 4], screen=name, phase=phase,
                                   started=at, shown_s=12.5, touched=True, ends_visit=screen % 4 == 3))
        screen += 1
    return events


class Ours:
    """The agent's AnalyticsService on a Store in a temporary file, flushed every ``flush_every`` events."""

    def __init__(self, folder: Path, name: str, events: list, flush_every: int):
        self.store = Store(folder / f"{name}.db")
        outbox = Outbox(self.store, Topics(common.STORE_ID, common.DEVICE_ID), max_rows=1000)
        self.now = START.timestamp()
        self.service = AnalyticsService(self.store, outbox, AnalyticsConfig(), ZoneInfo("Europe/Amsterdam"),
                                        lambda: self.now)
        self.events = events
        self.flush_every = flush_every
        self.i = 0

    def run(self, count: int) -> float:
        service, flush_every = self.service, self.flush_every
        events = self.events[self.i:self.i + count]
        start = time.perf_counter()
        for n, event in enumerate(events, start=1):
            if isinstance(event, ScreenReport):
                service.report_screen(event)
            else:
                service.report_play(event)
            if n % flush_every == 0:
                service.flush()
        if count % flush_every:
            service.flush()
        elapsed = time.perf_counter() - start
        self.i += count
        self.now += count  # the events' second apart: the hours move on as in a day
        return elapsed

    def close(self) -> None:
        self.store.close()


class Raw:
    """Plain sqlite3: each event inserted as it is, one commit per event."""

    def __init__(self, folder: Path, events: list):
        self.rows = [(("screen", e.visit, e.kind.value, e.screen, e.phase.value, None, None, e.started.isoformat(),
                       e.shown_s, int(e.touched), int(e.ends_visit)) if isinstance(e, ScreenReport) else
                      ("play", None, None, None, None, e.item, e.media, e.started.isoformat(), e.shown_s, None, None))
                     for e in events]
        self.conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(RAW_DDL)
        self.i = 0

    def run(self, count: int) -> float:
        conn = self.conn
        sql = ("INSERT INTO usage_events (kind, visit, visit_kind, screen, phase, item, media, started, shown_s, "
               "touched, ends_visit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        rows = self.rows[self.i:self.i + count]
        start = time.perf_counter()
        for row in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, row)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        self.i += count
        return elapsed

    def close(self) -> None:
        self.conn.close()


def one_round(folder: Path, r: int, events: int, chunk: int, flush_every: int) -> dict[str, float]:
    """Microseconds per event of each side, interleaved chunk by chunk in a rotating order."""
    stream = kiosk_events(events + 40)
    sides = {"ours": Ours(folder, "ours", stream, flush_every), "raw": Raw(folder, stream),
             "flush-each": Ours(folder, "flush-each", stream, 1)}
    names = list(sides)
    try:
        for side in sides.values():  # warm-up: caches, the tables' first pages
            side.run(40)
        gc.collect()
        times = dict.fromkeys(sides, 0.0)
        done = 0
        k = r
        while done < events:
            count = min(chunk, events - done)
            for j in range(len(names)):
                name = names[(k + j) % len(names)]
                times[name] += sides[name].run(count)
            done += count
            k += 1
    finally:
        for side in sides.values():
            side.close()
    return {name: 1e6 * elapsed / done for name, elapsed in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0], rounds=7)
    p.add_argument("--events", type=int, default=None, help="kiosk events per side per round (default 4000, "
                                                            "quick 200)")
    p.add_argument("--chunk", type=int, default=200, help="events per turn when alternating the sides")
    p.add_argument("--flush-every", type=int, default=100, help="events between our flushes (default 100)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    events = args.events or (200 if args.quick else 4000)
    rounds = common.rounds_of(args)
    base = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    per_side: dict[str, list[float]] = {"ours": [], "raw": [], "flush-each": []}
    try:
        for r in range(rounds):
            folder = base / f"round-{r}"
            folder.mkdir()
            for name, value in one_round(folder, r, events, args.chunk, args.flush_every).items():
                per_side[name].append(value)
            if args.verbose:
                print(f"round {r}: " + ", ".join(f"{name} {values[-1]:.1f} us" for name, values in per_side.items()),
                      file=sys.stderr)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    ours, raw, each = per_side["ours"], per_side["raw"], per_side["flush-each"]
    ratio = common.median([o / b for o, b in zip(ours, raw, strict=True)])
    rows = [Row("aggregation per kiosk event", common.median(ours), common.median(raw), "us/event", ratio,
                f"<= {TARGET}x raw", ratio <= TARGET, ours, raw),
            Row("diag: flushed after every event", common.median(each), common.median(raw), "us/event",
                common.median([o / b for o, b in zip(each, raw, strict=True)]), "(info)", None, each, raw)]
    notes = [(f"{rounds} rounds x {events} kiosk events each side (3 screen reports : 1 play report), alternating "
              f"every {args.chunk} events; ours flushes every {args.flush_every} events (its time included); "
              "raw = one INSERT + COMMIT per event, WAL, synchronous=NORMAL; medians; ratio = median of the "
              f"per-round ratios. Temp files in {tempfile.gettempdir()}.")]
    return common.finish("analytics_aggregation: AnalyticsService per kiosk event vs raw sqlite3 insert", args,
                         rows, notes)


if __name__ == "__main__":
    sys.exit(main())
