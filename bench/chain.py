"""A simulated chain: N store brokers (20 by default), each with an agent process and its store's data, bridged
over TLS with client certificates to one central Mosquitto, all provisioned by ``edge-agent broker``
(tests/support/chain.py).

Measured, in this order:

* **Push fan-out**: central pushes the same offer (a new version each time) to every store; the time from
  central's publish until the *last* store's agent has applied it (its database has the version), p50/p95
  over ``--pushes`` pushes. The *first* store's time of the same pushes is shown beside it: the floor of one
  bridge hop and one apply, measured in the same run.
* **Events end to end**: every store's kiosk sends ``--events`` feedback requests at once; each becomes an
  upstream event (outbox, store broker, bridge, central); events per second from the first request until
  central's subscriber has every distinct id.
* **Central restarted mid-stream**: the stores send events at ``--rate`` per store per second for
  ``--stream-s`` seconds, central's broker is restarted (SIGTERM, down, start) a third of the way in; events lost
  end to end (sent minus distinct ids at central, which must be 0), how long after central is back the first
  event arrives (the bridges reconnect) and how long after the stream's end the last one does. Central is
  down for ``--down-s`` seconds (5): the bridges queue meanwhile.
* **RSS per agent** at the end (min, median, max).

    .venv/bin/python bench/chain.py [--stores 20] [--pushes 20] [--quick]
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import _common as common  # noqa: E402
from _common import Row, percentile  # noqa: E402

from tests.support.chain import Chain, catalogue, gtin, wait_until  # noqa: E402

OFFER = "o-chain-wide"
PRODUCTS = 500


class Poller:
    """Each store's database, open read-only, to see when a push was applied."""

    def __init__(self, chain: Chain):
        self._conns = [sqlite3.connect(f"file:{store.db}?mode=ro", uri=True, timeout=5) for store in chain.stores]

    def versions(self) -> list[int]:
        found = []
        for conn in self._conns:
            row = conn.execute("SELECT version FROM offers WHERE offer = ?", (OFFER,)).fetchone()
            found.append(row[0] if row else 0)
        return found

    def close(self) -> None:
        for conn in self._conns:
            conn.close()


def fan_out(chain: Chain, pushes: int, say) -> dict:
    poller = Poller(chain)
    last, first = [], []
    try:
        for version in range(1, pushes + 1):
            sent = chain.push_offers(OFFER, version, gtin(1))
            applied: dict[int, float] = {}
            deadline = sent + 60
            while len(applied) < len(chain.stores) and time.monotonic() < deadline:
                now = time.monotonic()
                for index, seen in enumerate(poller.versions()):
                    if seen >= version and index not in applied:
                        applied[index] = now - sent
                time.sleep(0.002)
            if len(applied) < len(chain.stores):
                raise RuntimeError(f"push {version} reached {len(applied)} of {len(chain.stores)} stores in 60 s")
            last.append(max(applied.values()) * 1000)
            first.append(min(applied.values()) * 1000)
            say(f"  push {version}: first store {first[-1]:.1f} ms, last store {last[-1]:.1f} ms")
            time.sleep(0.2)
    finally:
        poller.close()
    return {"last_p50_ms": percentile(last, 50), "last_p95_ms": percentile(last, 95),
            "first_p50_ms": percentile(first, 50), "first_p95_ms": percentile(first, 95), "pushes": pushes}


def burst(chain: Chain, per_store: int) -> dict:
    before = chain.events_received()
    expected = before + per_store * len(chain.stores)
    started = time.monotonic()
    for n in range(per_store):
        for store in chain.stores:
            chain.send_feedback(store, f"burst-{n}")
    if not wait_until(lambda: chain.events_received() >= expected, 300, 0.01):
        raise RuntimeError(f"burst: {expected - chain.events_received()} events missing at central after 300 s")
    elapsed = chain.event_times[-1] - started
    return {"events": per_store * len(chain.stores), "seconds": elapsed,
            "events_per_s": per_store * len(chain.stores) / elapsed}


def restart_mid_stream(chain: Chain, rate: float, stream_s: float, down_s: float) -> dict:
    before = {store: len(ids) for store, ids in chain.events.items()}
    sent = {store.id: 0 for store in chain.stores}
    stream_end = [0.0]

    def stream() -> None:
        period = 1.0 / rate
        next_at = time.monotonic()
        end = next_at + stream_s
        n = 0
        while time.monotonic() < end:
            for store in chain.stores:
                chain.send_feedback(store, f"stream-{n}")
                sent[store.id] += 1
            stream_end[0] = time.monotonic()  # the last requests' time, once the loop ends
            n += 1
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))

    sender = threading.Thread(target=stream, name="chain-stream")
    sender.start()
    time.sleep(stream_s / 3)
    restart_at = time.monotonic()
    chain.restart_central(down_s)
    back_at = time.monotonic()
    restart_s = back_at - restart_at
    sender.join()
    total = sum(sent.values())

    def arrived(store: str) -> int:
        return len(chain.events.get(store, ())) - before.get(store, 0)

    wait_until(lambda: sum(arrived(store) for store in sent) >= total, 300, 0.05)
    lost = {store: sent[store] - arrived(store) for store in sent if arrived(store) != sent[store]}
    first_back = next((at for at in chain.event_times if at >= back_at), None)
    return {"sent": total, "lost": sum(lost.values()), "per_store_lost": lost, "restart_s": restart_s,
            "first_event_after_back_s": None if first_back is None else first_back - back_at,
            "last_event_after_stream_s": chain.event_times[-1] - stream_end[0]}


def rows(results: dict) -> list[Row]:
    """The chain's figures as result rows, each beside its reference from the same run."""
    fan, events, restart, rss = results["fan_out"], results["burst"], results["restart"], results["rss_mb"]
    stores = results["stores"]
    return [
        Row(f"offers push applied by the last of {stores} stores vs the first, p50", fan["last_p50_ms"],
            fan["first_p50_ms"], "ms", fan["last_p50_ms"] / fan["first_p50_ms"], "info", None),
        Row(f"offers push applied by the last of {stores} stores vs the first, p95", fan["last_p95_ms"],
            fan["first_p95_ms"], "ms", fan["last_p95_ms"] / fan["first_p95_ms"], "info", None),
        Row("events end to end (kiosk request to central) vs the burst size", events["events_per_s"],
            events["events"], "events/s", None, "info", None),
        Row("events lost across a central restart vs sent", restart["lost"], restart["sent"], "events",
            None, "0", restart["lost"] == 0),
        Row("first event at central once it is back vs central down", restart["first_event_after_back_s"],
            restart["restart_s"], "s", None, "info", None),
        Row("last event at central after the stream ended vs central down", restart["last_event_after_stream_s"],
            restart["restart_s"], "s", None, "info", None),
        Row("agent RSS, median vs largest", rss["median"], rss["max"], "MB", rss["median"] / rss["max"], "info",
            None),
    ]


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0], rounds=1)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--pushes", type=int, default=20, help="chain-wide offers pushes for p50/p95")
    parser.add_argument("--events", type=int, default=200, help="events per store in the burst")
    parser.add_argument("--rate", type=float, default=5.0, help="events per store per second in the stream")
    parser.add_argument("--stream-s", type=float, default=30.0, help="length of the stream with the restart")
    parser.add_argument("--down-s", type=float, default=5.0, help="how long central is down in the restart")
    args = parser.parse_args()
    if args.quick:
        args.stores, args.pushes, args.events, args.stream_s, args.down_s = 3, 3, 20, 6.0, 2.0
    workdir = Path(tempfile.mkdtemp(prefix="bench-chain-"))
    print(f"chain: {args.stores} stores under {workdir}")
    started = time.monotonic()
    chain = Chain(workdir, args.stores)
    results: dict = {"stores": args.stores}
    say = print if args.verbose or not args.quick else (lambda line: None)
    try:
        chain.start(timeout=300)
        results["start_s"] = time.monotonic() - started
        for store in chain.stores:
            chain.push(store.id, "catalogue", catalogue(PRODUCTS))
        if not wait_until(lambda: all(store.count("products") == PRODUCTS for store in chain.stores), 300, 0.2):
            raise RuntimeError("the catalogues did not reach every store")
        results["data_s"] = time.monotonic() - started - results["start_s"]
        print(f"  every agent online at central after {results['start_s']:.1f} s; "
              f"{PRODUCTS} products in every store {results['data_s']:.1f} s later")
        results["fan_out"] = fan_out(chain, args.pushes, say)
        results["burst"] = burst(chain, args.events)
        results["restart"] = restart_mid_stream(chain, args.rate, args.stream_s, args.down_s)
        rss = sorted(store.rss_kb() / 1024 for store in chain.stores)
        results["rss_mb"] = {"min": rss[0], "median": statistics.median(rss), "max": rss[-1]}
    finally:
        chain.close()
    restart = results["restart"]
    notes = [(f"{args.stores} stores, each a provisioned Mosquitto with an agent process and {PRODUCTS} products, "
             "bridged over TLS with client certificates to one central Mosquitto on this host"),
             (f"stream: {args.rate:g} events/s per store for {args.stream_s:g} s, central stopped a third of the way "
             f"in and started {args.down_s:g} s later; {restart['sent']} sent, {restart['lost']} lost"),
             f"agent RSS min {results['rss_mb']['min']:.1f} MB, max {results['rss_mb']['max']:.1f} MB"]
    code = common.finish(f"simulated chain of {args.stores} stores", args, rows(results), notes)
    if args.json:  # the whole record beside finish()'s rows
        args.json.with_suffix(".raw.json").write_text(json.dumps(results, indent=1))
    return code if restart["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
