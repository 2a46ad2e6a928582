"""Ingest of 100k pushed catalogue records through MQTT: records/s of the agent vs raw sqlite3 inserts.

Ours: a running Agent on a fresh database; a raw paho client publishes the catalogue as central would,
500 products per ``catalogue`` message (about 180 KB each), QoS 1, all at once; the clock runs from the
first publish until the agent has applied every message (validated, version-checked, one durable
transaction each, acknowledged to the broker after the commit). The messages are encoded before the clock
starts. A diagnostic row runs the agent's Inbox directly on the same payloads, without the broker.

Raw: a plain sqlite3 connection on a fresh file with the same products table and index, WAL and
``synchronous=FULL`` like ours, inserting the same rows (pre-encoded JSON) with executemany, one
transaction per 500 records.

Rounds alternate; medians over rounds. Target: >= 10,000 records/s through MQTT (a 50k-product catalogue
in at most 5 s).

    .venv/bin/python bench/central_ingest.py [--quick] [--rounds N] [--records N]
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import _common as common
from _common import Row

from edge_agent.agent import Agent
from edge_agent.commands import Commands
from edge_agent.contract import PUSHES, Topics, encode, gtin_check_digit
from edge_agent.inbox import Inbox
from edge_agent.link import Received
from edge_agent.outbox import Outbox
from edge_agent.store import Store
from tests.support.mosquitto import Mosquitto

BATCH = 500
TARGET_RATE = 10_000.0
PRODUCTS_DDL = ("""CREATE TABLE products (
            gtin TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            active INTEGER NOT NULL,
            price_cents INTEGER NOT NULL,
            category TEXT NOT NULL,
            data TEXT NOT NULL,
            updated REAL NOT NULL)""",
                "CREATE INDEX products_category ON products (category, active, gtin, price_cents)")


def record(n: int) -> dict:
    body = f"8712{n:08d}"
    gtin = "0" + body + str(gtin_check_digit(body))
    return {"gtin": gtin, "version": 1, "name": {"nl": f"Gazonmest {n} kg", "en": f"Lawn fertiliser {n} kg"},
            "description": {"nl": "Voor een groen en dicht gazon, 100 dagen werking. Strooien in voorjaar en zomer."},
            "price_cents": 100 + (n * 7919) % 20000, "category": f"cat-{n % 200:03d}",
            "images": [f"products/{gtin}.jpg"], "stock": n % 50, "shelf": f"Gang {n % 12}, schap {n % 6}",
            "video": "videos/gazon-bemesten.mp4"}


def run_ours(workdir: Path, port: int, payloads: list[bytes], round_index: int) -> float:
    config = common.agent_config(port, workdir / f"ours-{round_index}.db", device=f"kiosk-{round_index}")
    topic = PUSHES["catalogue"].topic_for(config.store.id)
    agent = Agent(config)
    agent.start()
    publisher = common.raw_client(f"bench-central-{round_index}", inflight=100)
    try:
        if not agent.link.wait_connected(10):
            raise RuntimeError("the agent did not connect")
        common.connect(publisher, port)
        start = time.perf_counter()
        for payload in payloads:
            publisher.publish(topic, payload, qos=1)
        deadline = time.monotonic() + 600
        while agent.inbox.applied < len(payloads):
            if agent.inbox.rejected or time.monotonic() > deadline:
                raise RuntimeError(f"applied {agent.inbox.applied}, rejected {agent.inbox.rejected}")
            time.sleep(0.002)
        elapsed = time.perf_counter() - start
        with agent.store.reading() as conn:
            stored = conn.execute("SELECT count(*) FROM products").fetchone()[0]
        return stored / elapsed
    finally:
        common.close(publisher)
        agent.stop()


def run_inbox(workdir: Path, payloads: list[bytes], round_index: int) -> float:
    store = Store(workdir / f"inbox-{round_index}.db")
    topics = Topics(common.STORE_ID, common.DEVICE_ID)
    outbox = Outbox(store, topics, 10_000)
    config = common.agent_config(1883, workdir / "unused.db")
    inbox = Inbox(store, outbox, topics, Commands(config, lambda *a: None), on_probe=lambda raw: None)
    topic = PUSHES["catalogue"].topic_for(common.STORE_ID)
    start = time.perf_counter()
    for payload in payloads:
        inbox.handle(Received(None, topic, payload, 0, 1, False))
    elapsed = time.perf_counter() - start
    with store.reading() as conn:
        stored = conn.execute("SELECT count(*) FROM products").fetchone()[0]
    store.close()
    return stored / elapsed


def run_raw(workdir: Path, rows: list[tuple], round_index: int) -> float:
    conn = sqlite3.connect(workdir / f"raw-{round_index}.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for statement in PRODUCTS_DDL:
        conn.execute(statement)
    start = time.perf_counter()
    for offset in range(0, len(rows), BATCH):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO products (gtin, version, active, price_cents, category, data, updated) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", rows[offset:offset + BATCH])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    stored = conn.execute("SELECT count(*) FROM products").fetchone()[0]
    conn.close()
    return stored / elapsed


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0], rounds=3)
    parser.add_argument("--records", type=int, default=None, help="records per round (default 100k, quick 5k)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rounds = common.rounds_of(args)
    count = args.records or (5_000 if args.quick else 100_000)
    records = [record(n) for n in range(count)]
    payloads = [encode(PUSHES["catalogue"], {"products": records[offset:offset + BATCH]})[1]
                for offset in range(0, count, BATCH)]
    now = time.time()
    rows = [(r["gtin"], 1, 1, r["price_cents"], r["category"], json.dumps(r, separators=(",", ":")), now)
            for r in records]
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    broker = Mosquitto(workdir=workdir / "mosquitto").start()
    results: dict[str, list[float]] = {"ours": [], "raw": [], "inbox": []}
    try:
        for round_index in range(rounds):
            common.alternate(round_index,
                             lambda i=round_index: results["ours"].append(run_ours(workdir, broker.port, payloads, i)),
                             lambda i=round_index: results["raw"].append(run_raw(workdir, rows, i)))
            results["inbox"].append(run_inbox(workdir, payloads, round_index))
            if args.verbose:
                print(f"round {round_index}: ours {results['ours'][-1]:,.0f}/s, raw {results['raw'][-1]:,.0f}/s, "
                      f"inbox alone {results['inbox'][-1]:,.0f}/s")
    finally:
        broker.close()
        shutil.rmtree(workdir, ignore_errors=True)

    ours, raw, inbox = (common.median(results[k]) for k in ("ours", "raw", "inbox"))
    ratio = common.median([a / b for a, b in zip(results["ours"], results["raw"], strict=True)])
    rows_out = [
        Row(f"ingest {count:,} records via MQTT", ours, raw, "records/s", ratio, f">= {TARGET_RATE:,.0f}/s",
            ours >= TARGET_RATE, results["ours"], results["raw"]),
        Row("diag: Inbox.handle alone (no broker)", inbox, raw, "records/s",
            common.median([a / b for a, b in zip(results["inbox"], results["raw"], strict=True)]), "info", None,
            results["inbox"]),
        Row(f"time for {count:,} records via MQTT", count / ours, count / raw, "s", None, "info", None),
    ]
    notes = [(f"{rounds} rounds; {len(payloads)} messages of {BATCH} products, "
              f"{common.median([len(p) for p in payloads]) / 1024:.0f} KiB each; raw: same rows pre-encoded, "
              f"executemany, {BATCH} per transaction, WAL + synchronous=FULL")]
    return common.finish("central ingest: catalogue pushes through MQTT vs raw sqlite3 inserts", args, rows_out,
                         notes)


if __name__ == "__main__":
    raise SystemExit(main())
