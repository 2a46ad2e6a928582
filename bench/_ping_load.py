"""The saturating load of ``ping_under_load.py``, as its own process: kiosk requests and catalogue pushes.

    python bench/_ping_load.py --port 1883 --seconds 20 [--requests 64] [--push-rate 10] [--batch 500]

``--requests`` anonymous ``local/request/product`` requests are outstanding at any time (each response
sends the next, for a random listed product; a closed loop, so the agent is always busy and never
flooded beyond what it can catch up with), and ``catalogue`` pushes of ``--batch`` records at
``--push-rate`` per second (QoS 1; every push raises the records' version, so each is applied for
real). Both with raw paho (TCP_NODELAY). Runs ``--warmup`` seconds, prints ``loaded``, runs
``--seconds`` more, then prints one JSON line of what those ``--seconds`` saw: responses (ok and
error), pushes sent, elapsed seconds, and the pushes sent in all (``pushes_total``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time

import _common as common

from edge_agent.contract import COMMANDS, PUSHES, Topics, encode, gtin_check_digit, new_id

MARK = 987654321987  # the version in the push templates, replaced in each push


def gtin(n: int) -> str:
    body = f"8712{n:08d}"
    return "0" + body + str(gtin_check_digit(body))


def record(n: int, version: int) -> dict:
    code = gtin(n)
    return {"gtin": code, "version": version, "name": {"nl": f"Gazonmest {n} kg", "en": f"Lawn fertiliser {n} kg"},
            "description": {"nl": "Voor een groen en dicht gazon, 100 dagen werking."},
            "price_cents": 100 + (n * 7919) % 20000, "category": f"cat-{n % 50:03d}",
            "images": [f"products/{code}.jpg"], "stock": n % 50, "shelf": f"Gang {n % 12}, schap {n % 6}"}


def catalogue(products: int, batch: int, version: int, start: int = 0) -> bytes:
    return encode(PUSHES["catalogue"], {"products": [record((start + i) % products, version)
                                                     for i in range(batch)]})[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--products", type=int, default=2000, help="listed products (the seed catalogue)")
    p.add_argument("--requests", type=int, default=64, help="kiosk requests outstanding")
    p.add_argument("--push-rate", type=float, default=10.0, help="catalogue pushes per second")
    p.add_argument("--batch", type=int, default=500, help="records per push")
    p.add_argument("--warmup", type=float, default=0.0, help="seconds of load before the counted ones")
    p.add_argument("--first-version", type=int, default=2)
    args = p.parse_args()
    topics = Topics(common.STORE_ID, common.DEVICE_ID)
    request_topic = COMMANDS["product"].topic_for(common.STORE_ID, common.DEVICE_ID)
    push_topic = PUSHES["catalogue"].topic_for(common.STORE_ID)
    lock = threading.Lock()
    counts = {"ok": 0, "error": 0, "pushes": 0}
    running = threading.Event()
    running.set()
    rng = random.Random(1)
    # Pushes are spliced from a few templates (new envelope id, new version): encoding 500 records with the
    # contract's models for every push would load this process more than the agent.
    templates = [catalogue(args.products, args.batch, MARK, start) for start in range(0, args.products, args.batch)]

    kiosk = common.raw_client(f"bench-load-kiosk-{new_id()[-8:]}")
    central = common.raw_client(f"bench-load-central-{new_id()[-8:]}", inflight=100)

    def send_request() -> None:
        _, payload = encode(COMMANDS["product"], {"gtin": gtin(rng.randrange(args.products)), "language": "nl"},
                            transaction=new_id())
        kiosk.publish(request_topic, payload, qos=1)

    def on_response(client, userdata, message) -> None:
        status = json.loads(message.payload).get("status")
        with lock:
            counts["ok" if status == "ok" else "error"] += 1
        if running.is_set():
            send_request()

    def pusher() -> None:
        # Central's pace, not a closed loop: the broker acknowledges a push at once, long before the agent
        # has applied it, so a PUBACK cannot pace the pushes.
        due = time.monotonic()
        for version in range(args.first_version, 1 << 62):  # in order: each push is newer than the last
            due += 1 / args.push_rate
            time.sleep(max(0.0, due - time.monotonic()))
            if not running.is_set():
                return
            template = templates[version % len(templates)]
            payload = (template.replace(template[7:43], new_id().encode(), 1)
                       .replace(b'"version":%d' % MARK, b'"version":%d' % version))
            central.publish(push_topic, payload, qos=1)

    def on_pushed(client, userdata, mid, reason_code, properties) -> None:
        with lock:
            counts["pushes"] += 1

    kiosk.on_message = on_response
    central.on_publish = on_pushed
    common.connect(kiosk, args.port)
    common.subscribe(kiosk, topics.response("product"), qos=1)
    common.connect(central, args.port)
    for _ in range(args.requests):
        send_request()
    pushing = threading.Thread(target=pusher, name="pusher")
    pushing.start()
    time.sleep(args.warmup)
    with lock:
        before = dict(counts)
    start = time.perf_counter()
    print("loaded", flush=True)
    time.sleep(args.seconds)
    with lock:
        result = {key: counts[key] - before[key] for key in counts}
    result["seconds"] = time.perf_counter() - start
    running.clear()
    pushing.join()
    with lock:
        result["pushes_total"] = counts["pushes"]
    common.close(kiosk)
    common.close(central)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
