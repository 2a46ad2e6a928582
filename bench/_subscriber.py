"""A raw paho subscriber (QoS 1) in its own process, counting distinct envelope ids.

The drain benchmark starts it as a child process so the subscriber's work does
not share the publisher's GIL::

    python bench/_subscriber.py PORT TOPIC EXPECTED IDLE_TIMEOUT OVERALL_TIMEOUT

It prints ``ready`` once subscribed, reads ``go`` or ``stop`` lines on stdin
and finally prints one JSON line ``{received, duplicates, first, last,
complete}``. Time stamps are ``time.perf_counter()``, which on Linux is
CLOCK_MONOTONIC, one clock for every process of the machine. It imports no
project code, only paho.
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main(port: int, topic: str, expected: int, idle_timeout: float, overall_timeout: float) -> None:
    ids: set[bytes] = set()
    state = {"dups": 0, "first": None, "last": None}
    done = threading.Event()
    ready = threading.Event()

    def on_message(client, userdata, message):
        payload = message.payload
        key = payload[7:43] if payload[:7] == b'{"id":"' else json.loads(payload)["id"].encode()
        if key in ids:
            state["dups"] += 1
            return
        now = time.perf_counter()
        ids.add(key)
        if state["first"] is None:
            state["first"] = now
        state["last"] = now
        if len(ids) >= expected:
            done.set()

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe(topic, 1)

    def on_socket_open(client, userdata, sock):
        import socket
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{os.getpid()}", clean_session=True,
                         protocol=mqtt.MQTTv311)
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_socket_open = on_socket_open
    client.on_subscribe = lambda *a: ready.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not ready.wait(10):
        raise SystemExit("no SUBACK")
    print("ready", flush=True)

    started = None
    deadline = time.monotonic() + overall_timeout
    last_count, last_change = 0, time.monotonic()
    while not done.wait(0.05):
        if select.select([sys.stdin], [], [], 0)[0]:
            command = sys.stdin.readline().strip()
            if command in ("stop", ""):
                break
            if command == "go":
                started = last_change = time.monotonic()
        now = time.monotonic()
        if len(ids) != last_count:
            last_count, last_change = len(ids), now
        if started is not None and now - last_change > idle_timeout:
            break
        if now > deadline:
            break
    print(json.dumps({"received": len(ids), "duplicates": state["dups"], "first": state["first"],
                      "last": state["last"], "complete": done.is_set()}), flush=True)
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
