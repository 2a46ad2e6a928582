"""``request/ping`` round trip while the agent is saturated with kiosk requests and catalogue pushes.

Ours: the edge agent in its own process (``_ping_agent.py``) as it ships: the link's command lane
(:class:`edge_agent.link.Intake`: device commands are handled by their own thread, and bulk work waits while
one is), batched pushes validated a slice of records at a time (:mod:`edge_agent.sliced_validation`), a read
buffer and a write batch under paho's network thread (:mod:`edge_agent.mqtt_read_buffer`,
:mod:`edge_agent.mqtt_write_batch`) and a 0.5 ms switch interval (:data:`edge_agent.link.SWITCH_INTERVAL_S`).
A load process (``_ping_load.py``) keeps it saturated: 64 anonymous kiosk ``product`` requests outstanding (a
closed loop: each answer sends the next) and 10 ``catalogue`` pushes of 500 records a second (central's pace).
Meanwhile this process sends ``request/ping`` (raw paho, QoS 1, TCP_NODELAY, 20-40 ms apart on a fixed
schedule, so both agents get as many) and times each from the publish to its response.

Baselines, in the same run: the same agent idle (no load: the ping's floor), and the old agent
(``_ping_agent.py --old``: one queue in arrival order, pushes validated in one go, paho reading and
writing its socket itself, no heap freeze, Python's 5 ms switch interval: the behaviour before issue 13)
under the same load. Rounds
alternate the two agents (the order rotates); each round uses a fresh Mosquitto with the shipped limits
(``max_inflight_messages 100``, ``max_queued_messages 100000``, from ``config/mosquitto/store.conf``) and a
fresh copy of a database seeded with a 2,000-product catalogue. p50/p99 are per round; the tables show
medians over rounds.

Targets: ping p99 under saturation <= 50 ms; kiosk requests answered per second under saturation >=
0.9x the old agent's (serving commands first must not cost throughput).

    .venv/bin/python bench/ping_under_load.py [--quick] [--rounds N] [--seconds S] [-v]
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as common
from _common import Row
from _ping_load import catalogue, gtin

from edge_agent.agent import Agent
from edge_agent.contract import COMMANDS, PUSHES, Topics, encode, new_id
from tests.support.mosquitto import Mosquitto
from tests.support.process import terminate

HERE = Path(__file__).resolve().parent
TARGET_P99_MS = 50.0
TARGET_RATE_RATIO = 0.9
PRODUCTS = 2000
SHIPPED_LIMITS = "max_queued_messages 100000\nmax_inflight_messages 100\n"  # config/mosquitto/store.conf


def seed(workdir: Path) -> Path:
    """A database with the seed catalogue applied (version 1 of every product)."""
    broker = Mosquitto(workdir=workdir / "seed-broker", extra=SHIPPED_LIMITS).start()
    path = workdir / "template.db"
    agent = Agent(common.agent_config(broker.port, path))
    publisher = common.raw_client("bench-seed", inflight=10)
    try:
        agent.start()
        if not agent.link.wait_connected(20):
            raise RuntimeError("the seeding agent did not connect")
        common.connect(publisher, broker.port)
        payloads = [catalogue(PRODUCTS, 500, 1, start) for start in range(0, PRODUCTS, 500)]
        for payload in payloads:
            publisher.publish(PUSHES["catalogue"].topic_for(common.STORE_ID), payload, qos=1)
        deadline = time.monotonic() + 120
        while agent.inbox.applied < len(payloads):
            if agent.inbox.rejected or time.monotonic() > deadline:
                raise RuntimeError(f"seed: applied {agent.inbox.applied}, rejected {agent.inbox.rejected}")
            time.sleep(0.01)
    finally:
        common.close(publisher)
        agent.stop()
        broker.close()
    return path


class Pinger:
    """Sends ``request/ping`` on a schedule and times each to its response."""

    def __init__(self, port: int):
        topics = Topics(common.STORE_ID, common.DEVICE_ID)
        self.topic = COMMANDS["ping"].topic_for(common.STORE_ID, common.DEVICE_ID)
        self.arrivals = common.Arrivals(port, topics.response("ping"),
                                        key=lambda payload: json.loads(payload).get("transaction"))
        self.port = port
        self.product_topic = COMMANDS["product"].topic_for(common.STORE_ID, common.DEVICE_ID)
        self.product_responses = topics.response("product")
        # Subscribed only once the load has stopped: under load this process would parse ~1,000 product
        # responses a second, and its paho threads would wait for the interpreter lock, which adds to the pings.
        self.products: common.Arrivals | None = None
        self.client = common.raw_client(f"bench-pinger-{new_id()[-8:]}")
        common.connect(self.client, port)
        self.rng = random.Random(7)

    def bulk_drained(self, timeout: float = 120.0) -> float:
        """Seconds until a kiosk request sent now is answered: the bulk lane's backlog (each lane is in order,
        and every push the load sent was acknowledged by the broker before this request)."""
        self.products = common.Arrivals(self.port, self.product_responses,
                                        key=lambda payload: json.loads(payload).get("transaction"))
        transaction = new_id()
        _, payload = encode(COMMANDS["product"], {"gtin": gtin(0)}, transaction=transaction)
        start = time.perf_counter()
        self.client.publish(self.product_topic, payload, qos=1)
        return self.products.wait(transaction, timeout) - start

    def ping(self, timeout: float = 30.0) -> float:
        """One round trip in ms."""
        transaction = new_id()
        _, payload = encode(COMMANDS["ping"], {}, transaction=transaction)
        start = time.perf_counter()
        self.client.publish(self.topic, payload, qos=1)
        return (self.arrivals.wait(transaction, timeout) - start) * 1000

    def run(self, seconds: float, timeout: float = 120.0) -> list[float]:
        """Round trips in ms of pings sent 20-40 ms apart for ``seconds``, on a schedule of their own (not
        after each answer), so a slower agent gets as many pings as a faster one: the same work on both
        sides, and the requests per second of the two agents compare like with like."""
        sent: dict[str, float] = {}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            transaction = new_id()
            _, payload = encode(COMMANDS["ping"], {}, transaction=transaction)
            sent[transaction] = time.perf_counter()
            self.client.publish(self.topic, payload, qos=1)
            time.sleep(self.rng.uniform(0.02, 0.04))
        return [(self.arrivals.wait(transaction, timeout) - start) * 1000 for transaction, start in sent.items()]

    def close(self) -> None:
        common.close(self.client)
        common.close(self.arrivals.client)
        if self.products is not None:
            common.close(self.products.client)


def start_process(command: list[str], ready: str, timeout: float = 60.0) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=common.ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != ready:
        terminate(process)
        raise RuntimeError(f"{command[1]}: expected {ready!r}, got {line!r} (exit {process.poll()})")
    return process


def one_agent(workdir: Path, template: Path, old: bool, name: str, idle_s: float, load_s: float,
              warmup_s: float, version: int) -> dict:
    """Idle pings, then pings under load, against one agent process."""
    broker = Mosquitto(workdir=workdir / f"{name}-broker", extra=SHIPPED_LIMITS).start()
    db = workdir / f"{name}.db"
    shutil.copy(template, db)
    agent = start_process([sys.executable, str(HERE / "_ping_agent.py"), "--port", str(broker.port), "--db", str(db),
                           *(["--old"] if old else [])], "ready")
    pinger = load = None
    try:
        pinger = Pinger(broker.port)
        for _ in range(5):
            pinger.ping()  # connections warm
        idle = pinger.run(idle_s)
        load = start_process([sys.executable, str(HERE / "_ping_load.py"), "--port", str(broker.port),
                              "--seconds", str(load_s), "--warmup", str(warmup_s), "--products", str(PRODUCTS),
                              "--first-version", str(version)], "loaded")
        loaded = pinger.run(load_s)
        out, _ = load.communicate(timeout=load_s + 60)
        counts = json.loads(out.strip().splitlines()[-1])
        if load.returncode != 0:
            raise RuntimeError(f"load exited {load.returncode}")
        drained = pinger.bulk_drained()
    finally:
        if load is not None and load.poll() is None:
            terminate(load)
        if pinger is not None:
            pinger.close()
        terminate(agent)
        broker.close()
    assert agent.stdout is not None
    agent_counts = json.loads(agent.stdout.read().strip().splitlines()[-1])
    return {"idle": idle, "load": loaded, "counts": counts, "agent": agent_counts, "drained": drained}


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0], rounds=3)
    parser.add_argument("--seconds", type=float, default=None, help="seconds under load per agent and round "
                                                                      "(default 20, quick 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rounds = common.rounds_of(args)
    load_s = args.seconds or (2.0 if args.quick else 20.0)
    idle_s, warmup_s = (1.0, 0.5) if args.quick else (5.0, 2.0)
    workdir = Path(tempfile.mkdtemp(prefix="bench-ping-"))
    results: dict[str, list[dict]] = {"ours": [], "old": []}
    try:
        template = seed(workdir)
        for index in range(rounds):
            def side(kind: str, i: int = index) -> None:
                found = one_agent(workdir, template, kind == "old", f"{kind}-{i}", idle_s, load_s, warmup_s,
                                  version=2 + i * 100_000 + (50_000 if kind == "old" else 0))
                results[kind].append(found)
                if args.verbose:
                    c = found["counts"]
                    print(f"round {i} {kind}: idle p50 {common.percentile(found['idle'], 50):.1f} ms, "
                          f"load p50 {common.percentile(found['load'], 50):.1f} / p99 "
                          f"{common.percentile(found['load'], 99):.1f} ms ({len(found['load'])} pings), "
                          f"{(c['ok'] + c['error']) / c['seconds']:.0f} requests/s, "
                          f"{c['pushes'] / c['seconds']:.1f} pushes/s, {c['error']} errors; backlog "
                          f"{found['drained']:.2f} s; agent {found['agent']}",
                          flush=True)

            common.alternate(index, lambda: side("ours"), lambda: side("old"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def per_round(kind: str, phase: str, q: float) -> list[float]:
        return [common.percentile(r[phase], q) for r in results[kind]]

    def rate(kind: str, key: str, scale: float = 1.0) -> list[float]:
        return [sum(r["counts"][k] for k in key.split("+")) * scale / r["counts"]["seconds"] for r in results[kind]]

    ours_p99, old_p99 = per_round("ours", "load", 99), per_round("old", "load", 99)
    ours_p50, old_p50 = per_round("ours", "load", 50), per_round("old", "load", 50)
    idle_p99 = per_round("ours", "idle", 99) + per_round("old", "idle", 99)
    idle_p50 = per_round("ours", "idle", 50) + per_round("old", "idle", 50)
    ours_rps, old_rps = rate("ours", "ok+error"), rate("old", "ok+error")
    rps_ratio = common.median([a / b for a, b in zip(ours_rps, old_rps, strict=True)])
    def applied(kind: str) -> list[float]:
        return [r["agent"]["applied"] / r["counts"]["pushes_total"] * 100 for r in results[kind]]

    errors = sum(r["counts"]["error"] for kind in results for r in results[kind])
    rows = [
        Row("ping p99 under saturation (vs idle)", common.median(ours_p99), common.median(idle_p99), "ms",
            None, f"<= {TARGET_P99_MS:.0f} ms", common.median(ours_p99) <= TARGET_P99_MS, ours_p99, idle_p99),
        Row("ping p50 under saturation (vs idle)", common.median(ours_p50), common.median(idle_p50), "ms",
            None, "info", None, ours_p50, idle_p50),
        Row("ping p99 under saturation: ours vs old agent", common.median(ours_p99), common.median(old_p99), "ms",
            common.median([a / b for a, b in zip(ours_p99, old_p99, strict=True)]), "info", None, ours_p99, old_p99),
        Row("ping p50 under saturation: ours vs old agent", common.median(ours_p50), common.median(old_p50), "ms",
            common.median([a / b for a, b in zip(ours_p50, old_p50, strict=True)]), "info", None, ours_p50, old_p50),
        Row("kiosk requests answered under saturation", common.median(ours_rps), common.median(old_rps),
            "requests/s", rps_ratio, f">= {TARGET_RATE_RATIO}x old", rps_ratio >= TARGET_RATE_RATIO,
            ours_rps, old_rps),
        Row("bulk backlog left when the load stops", common.median([r["drained"] for r in results["ours"]]),
            common.median([r["drained"] for r in results["old"]]), "s", None, "info", None,
            [r["drained"] for r in results["ours"]], [r["drained"] for r in results["old"]],
            note="a kiosk request sent after the load's last push and request: answered once all bulk work before "
                 "it was done"),
        Row("catalogue pushes applied", common.median(applied("ours")), common.median(applied("old")), "% of sent",
            None, "= 100 %", min(applied("ours")) >= 100, applied("ours"), applied("old"),
            note="bulk work is not starved by commands"),
        Row("pings under saturation (median per round)", common.median([len(r["load"]) for r in results["ours"]]),
            common.median([len(r["load"]) for r in results["old"]]), "pings", None, "info", None),
        Row("error responses to kiosk requests (all rounds)", errors, None, "responses", None, "info", None),
    ]
    notes = [(f"{rounds} rounds x {load_s:.0f} s under load (after {warmup_s:.0f} s of warm-up) and {idle_s:.0f} s "
              "idle per agent; load: 64 kiosk product requests outstanding and 10 catalogue pushes of 500 records "
              f"a second; {PRODUCTS:,} products; Mosquitto with the shipped max_inflight_messages 100"),
             ("ours = the agent as it ships; baselines: the same agent idle, and the old agent (--old: one lane, "
              "whole-push validation, no read buffer, no write batch, no heap freeze, 5 ms switch interval) under the "
              "same load; idle figures pool both agents")]
    return common.finish("ping under load: request/ping round trip while the agent is saturated", args, rows, notes)


if __name__ == "__main__":
    sys.exit(main())
