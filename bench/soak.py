"""Months unattended, compressed: an agent under a steady load for half an hour keeps its memory and its
database bounded.

The agent runs as ``edge-agent run`` in a child process (as systemd runs it) against a real Mosquitto, with
nfcpy's UDP reader and an emulated card. The load, ``--rate`` events per second (10 by default), is what
makes its tables grow: every second one customer push from central (an ``inbox_seen`` id, a profile
replaced), and kiosk requests: ``feedback`` (an upstream event through the outbox) and ``account`` naming
the recognised session (an entry in the customer's data-use log); every 10 s the customer's card is tapped
(a tap event, a data-use entry, a new session). The retentions are shortened so that months of pruning
happen within the run: ids of pushes and data-use entries are kept ``--keep-s`` seconds (60), pruned every
``--prune-s`` seconds (15), by the same code and schedule that prunes after 90 days in a store.

Printed, at the end of the warm-up (the baseline of the same run) and at the end: the agent's RSS, the
database's size and its -wal file's, and the rows of the tables that grow, beside the rows the load wrote
(what the tables would hold without pruning). ``run_soak`` is what ``tests/test_soak.py`` runs for about
two minutes, asserting boundedness: rows at most what the retention window can hold at the target rate,
and RSS growth after the warm-up below a generous bound.

    .venv/bin/python bench/soak.py                 # 30 minutes at 10 events/s
    .venv/bin/python bench/soak.py --minutes 3     # a short one
    .venv/bin/python bench/soak.py --quick         # a one-minute smoke run (20 s retention)
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import _common as common  # noqa: E402
from _common import Row  # noqa: E402

from edge_agent.contract import COMMANDS, PUSHES, encode  # noqa: E402
from edge_agent.identity import card_token  # noqa: E402
from edge_agent.nfc.emulator import CardEmulator, Type2Card, free_udp_port  # noqa: E402
from edge_agent.store import WAL_SIZE_LIMIT_BYTES  # noqa: E402
from tests.support.agent import config_text  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.mqtt import Capture, Publisher  # noqa: E402

HMAC_KEY_HEX = "5a" * 32
CUSTOMER = "c-00000000000000000000000000005041"
CARD_UID = bytes.fromhex("04505050505050")
STORE = "soak"
DEVICE = "kiosk-1"
TAP_EVERY_S = 10.0
GROWING = ("data_use", "inbox_seen", "outbox", "customers")
RSS_GROWTH_MB = 20  # after the warm-up: generous, the figures of a 30-minute run are in bench/README.md


@dataclass
class Sample:
    """One look at the agent and its database."""

    at_s: float
    rss_kb: int
    db_bytes: int
    wal_bytes: int
    rows: dict[str, int]


@dataclass
class SoakResult:
    minutes: float
    rate: float
    keep_s: float
    prune_s: float
    samples: list[Sample] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)  # rows the load wrote, per table
    warmup: Sample | None = None
    pruned_log_lines: int = 0
    events: int = 0  # feedback events sent upstream through the outbox (deleted there on PUBACK)

    @property
    def end(self) -> Sample:
        return self.samples[-1]

    def row_bound(self, table: str) -> int:
        """The most rows of ``table`` the retention window can hold at the target rate (with room for a
        pruning interval and a 50% margin)."""
        per_s = {"data_use": self.rate / 2 + 1 / TAP_EVERY_S, "inbox_seen": 1.0}[table]
        return int(per_s * (self.keep_s + self.prune_s) * 1.5) + 50


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def look(pid: int, db: Path, started: float) -> Sample:
    rows: dict[str, int] = {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        for table in GROWING:
            rows[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()
    wal = db.with_name(db.name + "-wal")
    return Sample(round(time.monotonic() - started, 1), rss_kb(pid), db.stat().st_size,
                  wal.stat().st_size if wal.exists() else 0, rows)


def run_soak(minutes: float, rate: float = 10.0, keep_s: float = 60.0, prune_s: float = 15.0,
             warmup_s: float = 60.0, sample_s: float = 10.0, workdir: Path | None = None,
             say=print) -> SoakResult:
    """Run the soak; returns its samples. ``say`` gets a line per sample."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="soak-"))
    result = SoakResult(minutes, rate, keep_s, prune_s)
    broker = Mosquitto(workdir=workdir / "mosquitto").start()
    device = f"udp:127.0.0.1:{free_udp_port()}"
    emulator = CardEmulator(device)
    db = workdir / "agent.db"
    keep_days = keep_s / 86400
    config = workdir / "agent.toml"
    config.write_text(config_text(broker.port, db, STORE, DEVICE, extra=(
        f'[nfc]\ndevice = "{device}"\npoll_interval_s = 0.05\n'
        f'[inbox]\ndedupe_days = {keep_days}\n'
        f'[retention]\ninterval_s = {prune_s}\ndata_use_days = {keep_days}\ncheckpoint_idle_s = 5\n'
        '[logging]\nlevel = "INFO"\n')).replace("interval_s = 0.5", "interval_s = 5", 1))
    env = dict(os.environ, CS_STORE_HMAC_KEY=HMAC_KEY_HEX)
    with open(workdir / "agent.log", "wb") as log:  # the child has its own copy of the descriptor
        agent = subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "-c", str(config)], stdout=log,
                                 stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    sessions = Capture(broker.port, [f"cs/v1/{STORE}/{DEVICE}/local/session"])
    pub = Publisher(broker.port)
    stop = threading.Event()
    try:
        if not emulator.wait_for_reader(30):
            raise RuntimeError(f"the agent's reader never polled; its log: {workdir / 'agent.log'}")
        version = [0]

        def push_customer() -> None:
            version[0] += 1
            until = (datetime.now(UTC) + timedelta(days=365)).isoformat()
            _, payload = encode(PUSHES["customer"], {
                "customer": CUSTOMER, "version": version[0], "first_name": "Sanne", "tier": "goud",
                "points": version[0], "consents": [{"purpose": "recognition", "until": until}]})
            pub.publish(PUSHES["customer"].topic_for(STORE), payload)
            result.written["inbox_seen"] = result.written.get("inbox_seen", 0) + 1

        push_customer()
        _, link = encode(PUSHES["card-link"], {"card": card_token(bytes.fromhex(HMAC_KEY_HEX), CARD_UID),
                                               "version": 1, "kind": "customer", "customer": CUSTOMER})
        pub.publish(PUSHES["card-link"].topic_for(STORE), link)

        def current_session() -> str | None:
            started = [m.json()["data"] for m in sessions.messages if m.json()["data"]["state"] == "started"]
            return started[-1]["session"] if started else None

        def tapper() -> None:
            while not stop.is_set():
                emulator.hold(Type2Card(CARD_UID))
                stop.wait(1.0)
                emulator.remove()
                result.written["data_use"] = result.written.get("data_use", 0) + 1
                stop.wait(TAP_EVERY_S - 1.0)

        threading.Thread(target=tapper, name="soak-taps", daemon=True).start()
        started = time.monotonic()
        next_sample = started
        deadline = started + minutes * 60
        tick = 0
        period = 1.0 / rate
        next_event = started
        while time.monotonic() < deadline:
            if agent.poll() is not None:
                raise RuntimeError(f"the agent exited with {agent.returncode}; its log: {workdir / 'agent.log'}")
            now = time.monotonic()
            if now >= next_sample:
                sample = look(agent.pid, db, started)
                result.samples.append(sample)
                if result.warmup is None and sample.at_s >= warmup_s:
                    result.warmup = sample
                say(f"{sample.at_s:7.1f} s  RSS {sample.rss_kb / 1024:6.1f} MB  db {sample.db_bytes / 1e6:6.2f} MB  "
                    f"wal {sample.wal_bytes / 1e6:5.2f} MB  " + "  ".join(f"{t} {n}" for t, n in sample.rows.items()))
                next_sample += sample_s
            if tick % int(rate) == 0:
                push_customer()
            elif tick % 2 == 0:
                _, payload = encode(COMMANDS["feedback"], {"score": 4, "phase": "inform"}, transaction=f"f-{tick}")
                pub.publish(COMMANDS["feedback"].topic_for(STORE, DEVICE), payload)
                result.events += 1
            else:
                session = current_session()
                if session is not None:
                    _, payload = encode(COMMANDS["account"], {"session": session}, transaction=f"a-{tick}")
                    pub.publish(COMMANDS["account"].topic_for(STORE, DEVICE), payload)
                    result.written["data_use"] = result.written.get("data_use", 0) + 1
            tick += 1
            next_event += period
            time.sleep(max(0.0, next_event - time.monotonic()))
            sessions.messages[:] = sessions.messages[-5:]  # the soak itself must not grow either
        result.samples.append(look(agent.pid, db, started))
    finally:
        stop.set()
        agent.terminate()
        try:
            agent.wait(20)
        except subprocess.TimeoutExpired:
            agent.kill()
        sessions.close()
        pub.close()
        emulator.close()
        broker.close()
    result.pruned_log_lines = (workdir / "agent.log").read_text(errors="replace").count(" pruned ")
    if result.warmup is None:
        result.warmup = result.samples[0]
    return result


def report(result: SoakResult) -> str:
    start, end = result.warmup, result.end
    assert start is not None
    lines = [(f"soak: {result.minutes:g} min at {result.rate:g} events/s; retention {result.keep_s:g} s, "
              f"pruned every {result.prune_s:g} s ({result.pruned_log_lines} prunings that deleted rows)"),
             f"{'':24}{'after warm-up':>16}{'end':>12}{'max':>12}",
             (f"{'agent RSS (MB)':24}{start.rss_kb / 1024:16.1f}{end.rss_kb / 1024:12.1f}"
              f"{max(s.rss_kb for s in result.samples) / 1024:12.1f}"),
             (f"{'database (MB)':24}{start.db_bytes / 1e6:16.2f}{end.db_bytes / 1e6:12.2f}"
              f"{max(s.db_bytes for s in result.samples) / 1e6:12.2f}"),
             (f"{'-wal file (MB)':24}{start.wal_bytes / 1e6:16.2f}{end.wal_bytes / 1e6:12.2f}"
              f"{max(s.wal_bytes for s in result.samples) / 1e6:12.2f}")]
    for table in GROWING:
        written = result.written.get(table)
        lines.append(f"{table + ' rows':24}{start.rows[table]:16d}{end.rows[table]:12d}"
                     f"{max(s.rows[table] for s in result.samples):12d}"
                     + (f"   (written: {written}; without pruning it would hold them all)" if written else ""))
    lines.append(f"upstream events through the outbox: {result.events} (deleted on PUBACK, the outbox stays empty)")
    return "\n".join(lines)


def rows(result: SoakResult) -> list[Row]:
    """The soak's figures as result rows: each end figure beside the same run's figure after the warm-up
    (or, for the tables, beside the rows the load wrote: what they would hold without pruning)."""
    start, end = result.warmup, result.end
    assert start is not None
    growth_mb = (end.rss_kb - start.rss_kb) / 1024
    wal_max = max(sample.wal_bytes for sample in result.samples)
    table_rows = []
    for table in ("data_use", "inbox_seen"):
        peak = max(sample.rows[table] for sample in result.samples if sample.at_s >= start.at_s)
        written = result.written.get(table, 0)
        table_rows.append(Row(f"{table} rows at the end vs written", end.rows[table], written, "rows",
                              end.rows[table] / written if written else None,
                              f"peak <= {result.row_bound(table)}", peak <= result.row_bound(table)))
    return [
        Row("agent RSS at the end vs after warm-up", end.rss_kb / 1024, start.rss_kb / 1024, "MB",
            end.rss_kb / start.rss_kb, f"growth < {RSS_GROWTH_MB} MB", growth_mb < RSS_GROWTH_MB),
        Row("database file at the end vs after warm-up", end.db_bytes / 1e6, start.db_bytes / 1e6, "MB",
            end.db_bytes / start.db_bytes if start.db_bytes else None, "info", None),
        Row("-wal file, largest vs its size limit", wal_max / 1e6, WAL_SIZE_LIMIT_BYTES / 1e6, "MB",
            wal_max / WAL_SIZE_LIMIT_BYTES, "<= 2x the limit", wal_max <= 2 * WAL_SIZE_LIMIT_BYTES),
        *table_rows,
        Row("outbox rows at the end (events sent)", end.rows["outbox"], result.events, "rows", None, "info", None),
    ]


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0], rounds=1)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--keep-s", type=float, default=60.0, help="retention of push ids and data-use entries")
    parser.add_argument("--prune-s", type=float, default=15.0, help="seconds between prunings")
    args = parser.parse_args()
    minutes = 1.0 if args.quick else args.minutes
    keep_s, prune_s = (20.0, 5.0) if args.quick else (args.keep_s, args.prune_s)
    result = run_soak(minutes, args.rate, keep_s, prune_s, warmup_s=min(120.0, minutes * 60 / 3),
                      say=print if args.verbose or not args.quick else (lambda line: None))
    print(report(result))
    return common.finish(f"soak: {minutes:g} min at {args.rate:g} events/s, an agent process", args, rows(result),
                         [(f"retention {keep_s:g} s, pruned every {prune_s:g} s: the baseline of each row is the "
                          "same run after its warm-up, or what the load wrote")])


if __name__ == "__main__":
    raise SystemExit(main())
