"""Outbox drain: a 10k and a 100k backlog to a real Mosquitto, vs raw paho QoS 1.

Ours: the outbox is prefilled with N footfall events while no link runs (one
template database per size, built through ``Outbox.enqueue`` and copied for
every round), then an ``Agent`` is started on it; the clock runs from
``Agent.start()`` until a raw paho subscriber (QoS 1, its own process) has
received all N distinct envelope ids.

Baseline: one raw paho client publishes the same N topic/payload pairs (read
from the template) with QoS 1, the same ``max_inflight_messages_set`` as the
link's window, TCP_NODELAY set in ``on_socket_open``; the clock runs from
``connect()`` until the same kind of subscriber has received all N ids. Two
variants: "paho queue" hands paho everything and lets its memory queue feed
the window (at most 50,000 outstanding, because paho's message ids wrap at
65,535); "windowed publisher" waits for PUBACKs itself so that at most a
window is unacknowledged, as our drain thread does.

Each round starts a fresh Mosquitto (tests/support, persistence on, as in
production) and runs both sides on it, alternating which goes first. "Lost"
is N minus the distinct ids the subscriber got (it gives up after 5 s without
a new message).

Target: ours >= 0.8x raw messages/s (median of the per-round ratios; judged
against each raw variant), 0 lost.

    .venv/bin/python bench/outbox_drain.py [--quick] [--rounds N] [--sizes 10000,100000]
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common as common
from _common import Row

from edge_agent.agent import Agent
from edge_agent.config import OutboxConfig
from edge_agent.contract import Topics
from edge_agent.outbox import Outbox
from edge_agent.store import Store
from tests.support.mosquitto import Mosquitto

TARGET = 0.8
MAX_OUTSTANDING = 50_000
IDLE_TIMEOUT_S = 5.0
SUBSCRIBER = Path(__file__).resolve().parent / "_subscriber.py"


def footfall(i: int) -> dict:
    return {"interval_start": "2026-04-01T09:30:00Z", "interval_s": 60.0, "count": i % 50}


def build_template(path: Path, size: int) -> list[tuple[str, bytes]]:
    """Prefill an outbox with ``size`` events through the real enqueue path; return its rows."""
    store = Store(path)
    outbox = Outbox(store, Topics(common.STORE_ID, common.DEVICE_ID), max_rows=max(size + 1000, 200_000))
    with store.transaction(durable=True):  # one commit for the prefill; each enqueue joins it
        for i in range(size):
            outbox.enqueue("footfall", footfall(i))
    with store.reading() as conn:
        rows = [(topic, bytes(payload)) for topic, payload in
                conn.execute("SELECT topic, payload FROM outbox ORDER BY seq")]
    store.close()  # the last connection checkpoints and removes the WAL
    for suffix in ("-wal", "-shm"):
        if Path(str(path) + suffix).exists():
            raise RuntimeError(f"template {path} still has {suffix}")
    return rows


class Subscriber:
    """The subscriber process of one measurement."""

    def __init__(self, port: int, topic: str, expected: int):
        overall = 60 + expected / 500
        self.process = subprocess.Popen(
            [sys.executable, str(SUBSCRIBER), str(port), topic, str(expected), str(IDLE_TIMEOUT_S), str(overall)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()
        if line != "ready":
            self.process.kill()
            raise RuntimeError(f"subscriber did not start: {line!r}")

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict:
        line = self.process.stdout.readline()
        self.process.stdin.close()
        self.process.wait(10)
        if not line:
            raise RuntimeError("subscriber died without a result")
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def measure_ours(broker: Mosquitto, template: Path, folder: Path, size: int, window: int) -> dict:
    db = folder / "agent.db"
    shutil.copyfile(template, db)
    config = common.agent_config(broker.port, db, window=window)
    topic = Topics(common.STORE_ID, common.DEVICE_ID).event("footfall")
    subscriber = Subscriber(broker.port, topic, size)
    agent = None
    try:
        agent = Agent(config)
        gc.collect()
        subscriber.go()
        start = time.perf_counter()
        agent.start()
        result = subscriber.result()
        # Everything the subscriber got was PUBACKed or is about to be: the outbox must empty.
        deadline = time.monotonic() + 10
        while agent.outbox.depth().total and time.monotonic() < deadline:
            time.sleep(0.05)
        result["left_in_outbox"] = agent.outbox.depth().total
    finally:
        if agent is not None:
            agent.stop()
        subscriber.close()
    result["start"] = start
    return result


def measure_raw(broker: Mosquitto, rows: list[tuple[str, bytes]], window: int, cap: int) -> dict:
    """Publish ``rows`` with one raw paho client, keeping at most ``cap`` unacknowledged.

    ``cap`` > window: paho's own memory queue holds what exceeds its inflight window (the plain way).
    ``cap`` == window: the publisher itself waits for PUBACKs, as our drain thread does.
    """
    topic = rows[0][0]
    subscriber = Subscriber(broker.port, topic, len(rows))
    client = common.raw_client(f"bench-raw-{cap}", nodelay=True, inflight=window)
    acked = 0
    cond = threading.Condition()
    step = 1 if cap <= window else 1000

    def on_publish(client, userdata, mid, reason_code, properties):
        nonlocal acked
        with cond:
            acked += 1
            if acked % step == 0:
                cond.notify()

    client.on_publish = on_publish
    failed = 0
    gc.collect()
    try:
        subscriber.go()
        start = time.perf_counter()
        common.connect(client, broker.port)
        publish = client.publish
        for sent, (topic_, payload) in enumerate(rows):
            if sent - acked >= cap:
                with cond:
                    while sent - acked >= cap:
                        cond.wait(1)
            if publish(topic_, payload, qos=1).rc != 0:
                failed += 1
        result = subscriber.result()
    finally:
        common.close(client)
        subscriber.close()
    result["start"] = start
    result["publish_failed"] = failed
    return result


def rate(result: dict) -> float:
    """Distinct messages per second from the start to the last new id (an incomplete run also shows as lost)."""
    if not result["last"]:
        return 0.0
    return result["received"] / (result["last"] - result["start"])


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0], rounds=5)
    p.add_argument("--sizes", default=None, help="comma-separated backlog sizes (default 10000,100000; quick 1000)")
    p.add_argument("--big-rounds", type=int, default=3, help="rounds for sizes of 50,000 and more (default 3)")
    p.add_argument("--window", type=int, default=OutboxConfig().window,
                   help="outbox window = raw max_inflight (default: the config default)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sizes = [int(s) for s in (args.sizes or ("1000" if args.quick else "10000,100000")).split(",")]
    base = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    rows_out: list[Row] = []
    notes = []
    sides = ("ours", "raw", "raw-windowed")
    try:
        for size in sizes:
            rounds = common.rounds_of(args)
            if size >= 50_000 and args.rounds is None and not args.quick:
                rounds = args.big_rounds
            template = base / f"template-{size}.db"
            t = time.perf_counter()
            payloads = build_template(template, size)
            notes.append(f"size {size:,}: {rounds} rounds; prefill took {time.perf_counter() - t:.1f} s "
                         "(enqueue inside one outer durable transaction)")
            rates = {side: [] for side in sides}
            lost = {side: [] for side in sides}
            for r in range(rounds):
                folder = base / f"{size}-{r}"
                folder.mkdir()
                broker = Mosquitto(workdir=folder / "mosquitto").start()
                extra = []
                try:
                    runs = {
                        "ours": functools.partial(measure_ours, broker, template, folder, size, args.window),
                        "raw": functools.partial(measure_raw, broker, payloads, args.window, MAX_OUTSTANDING),
                        "raw-windowed": functools.partial(measure_raw, broker, payloads, args.window, args.window),
                    }
                    for j in range(len(sides)):
                        side = sides[(r + j) % len(sides)]
                        result = runs[side]()
                        rates[side].append(rate(result))
                        lost[side].append(size - result["received"])
                        extra.append(f"{side} {rates[side][-1]:.0f}/s lost {lost[side][-1]} "
                                     f"dup {result['duplicates']} "
                                     + (f"left {result['left_in_outbox']}" if side == "ours"
                                        else f"publish-failed {result['publish_failed']}"))
                finally:
                    broker.close()
                    shutil.rmtree(folder, ignore_errors=True)
                if args.verbose:
                    print(f"size {size} round {r}: " + "; ".join(extra), file=sys.stderr, flush=True)
            ours = common.median(rates["ours"])
            worst_lost = max(lost["ours"])
            for side, label in (("raw", "paho queue"), ("raw-windowed", "windowed publisher")):
                ratio = common.median([o / b if b else 0.0 for o, b in zip(rates["ours"], rates[side], strict=True)])
                rows_out.append(Row(f"drain {size:,} vs raw ({label})", ours, common.median(rates[side]), "msg/s",
                                    ratio, f">= {TARGET}x raw", ratio >= TARGET, rates["ours"], rates[side]))
            rows_out.append(Row(f"lost of {size:,} (worst round; raw: paho queue)", worst_lost,
                                max(lost["raw"]), "msgs", None, "ours = 0", worst_lost == 0,
                                [float(v) for v in lost["ours"]], [float(v) for v in lost["raw"]]))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    notes.insert(0, "fresh Mosquitto per round; ours / raw / raw-windowed in rotating order; medians; "
                    f"ratio = median of per-round ratios; window = raw max_inflight = {args.window}.")
    return common.finish("outbox_drain: backlog -> Mosquitto -> subscriber, Agent vs raw paho", args, rows_out, notes)


if __name__ == "__main__":
    sys.exit(main())
