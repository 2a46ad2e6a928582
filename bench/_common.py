"""Shared helpers of the benchmarks: arguments, medians, result tables, brokers, raw paho clients.

Every benchmark compares our code with a raw baseline measured in the same
run, interleaved round by round (the order alternates), and reports medians
over the rounds, because the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

STORE_ID = "bench"
DEVICE_ID = "kiosk-1"


# --------------------------------------------------------------------------- arguments and results


def parser(description: str, rounds: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, one round (figures are not meaningful)")
    p.add_argument("--rounds", type=int, default=None, help=f"rounds of ours + baseline (default {rounds}, quick 1)")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON to this file")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("-v", "--verbose", action="store_true", help="print every round's figures")
    p.set_defaults(default_rounds=rounds)
    return p


def rounds_of(args: argparse.Namespace) -> int:
    if args.rounds is not None:
        return max(1, args.rounds)
    return 1 if args.quick else args.default_rounds


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` (0..100) percentile by linear interpolation (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class Row:
    """One line of a result table. ``passed`` is None for lines shown for information only."""

    label: str
    ours: float | None
    raw: float | None
    unit: str
    ratio: float | None
    target: str
    passed: bool | None
    ours_rounds: list[float] = field(default_factory=list)
    raw_rounds: list[float] = field(default_factory=list)
    note: str = ""


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 100):
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3f}"


def machine() -> str:
    return (f"nproc={os.cpu_count()}, python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}, load {os.getloadavg()[0]:.2f}")


def print_table(title: str, rows: list[Row], notes: Sequence[str] = (), verbose: bool = False) -> None:
    header = ("metric", "ours", "raw baseline", "ratio", "target", "result")
    lines = []
    for row in rows:
        result = "info" if row.passed is None else ("PASS" if row.passed else "FAIL")
        lines.append((f"{row.label} [{row.unit}]", _fmt(row.ours), _fmt(row.raw),
                      "-" if row.ratio is None else f"{row.ratio:.2f}x", row.target, result))
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    rule = "-+-".join("-" * w for w in widths)
    print(f"\n== {title}")
    print(f"   {time.strftime('%Y-%m-%d %H:%M:%S')}  {machine()}")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(rule)
    for line in lines:
        print(" | ".join(str(cell).ljust(w) if i == 0 else str(cell).rjust(w)
                         for i, (cell, w) in enumerate(zip(line, widths, strict=True))))
    for row in rows:
        if row.note:
            print(f"   note: {row.label}: {row.note}")
        if verbose and (row.ours_rounds or row.raw_rounds):
            print(f"   rounds {row.label}: ours {[round(v, 3) for v in row.ours_rounds]} "
                  f"raw {[round(v, 3) for v in row.raw_rounds]}")
    for note in notes:
        print(f"   {note}")
    sys.stdout.flush()


def finish(name: str, args: argparse.Namespace, rows: list[Row], notes: Sequence[str] = ()) -> int:
    print_table(name, rows, notes, verbose=args.verbose)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                         "machine": machine(), "quick": args.quick,
                                         "rows": [asdict(row) for row in rows], "notes": list(notes)},
                                        indent=2))
    missed = any(row.passed is False for row in rows)
    return 1 if (missed and args.strict) else 0


def alternate(round_index: int, ours: Callable[[], None], raw: Callable[[], None]) -> None:
    """Run both, ours first in even rounds and the baseline first in odd ones."""
    for step in ((ours, raw) if round_index % 2 == 0 else (raw, ours)):
        step()


# --------------------------------------------------------------------------- agent configuration


def agent_config(port: int, db_path: Path, store: str = STORE_ID, device: str = DEVICE_ID,
                 window: int | None = None):
    """An agent configuration for a loopback broker, as the tests write it."""
    from edge_agent.config import parse_config  # here, not at the top: keeps _common light
    outbox = f"[outbox]\nwindow = {window}\n" if window is not None else ""
    text = (f'[store]\nid = "{store}"\n[device]\nid = "{device}"\n'
            f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nreconnect_min_s = 0.1\nreconnect_max_s = 1.0\n'
            f'[database]\npath = "{db_path}"\n{outbox}[logging]\nlevel = "WARNING"\n')
    return parse_config(text, "<bench>")


# --------------------------------------------------------------------------- raw paho


def set_nodelay(client, userdata, sock) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def raw_client(client_id: str, *, nodelay: bool = True, inflight: int | None = None,
               clean_session: bool = True) -> mqtt.Client:
    """A plain paho 2.x client (MQTT 3.1.1), with TCP_NODELAY unless told otherwise."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         protocol=mqtt.MQTTv311)
    if inflight is not None:
        client.max_inflight_messages_set(inflight)
        client.max_queued_messages_set(0)
    if nodelay:
        client.on_socket_open = set_nodelay
    return client


def connect(client: mqtt.Client, port: int, timeout: float = 10.0) -> None:
    """Connect, start the network thread and wait for the CONNACK."""
    connected = threading.Event()
    previous = client.on_connect

    def on_connect(c, userdata, flags, reason_code, properties):
        if previous is not None:
            previous(c, userdata, flags, reason_code, properties)
        if not reason_code.is_failure:
            connected.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(timeout):
        raise TimeoutError(f"no CONNACK from 127.0.0.1:{port}")


def subscribe(client: mqtt.Client, topic: str, qos: int = 1, timeout: float = 10.0) -> None:
    done = threading.Event()
    client.on_subscribe = lambda *a: done.set()
    client.subscribe(topic, qos)
    if not done.wait(timeout):
        raise TimeoutError(f"no SUBACK for {topic}")


class Arrivals:
    """A subscriber in this process: the arrival time of each message (by ``clock``), by a key taken from its
    payload (``key`` returns None for messages to ignore), and the sizes of the kept ones."""

    def __init__(self, port: int, topic: str, key: Callable[[bytes], str | None],
                 clock: Callable[[], float] = time.perf_counter):
        self._key, self._clock = key, clock
        self._cond = threading.Condition()
        self.times: dict[str, float] = {}
        self.sizes: list[int] = []
        self.client = raw_client(f"bench-sub-{os.getpid()}-{id(self):x}")
        self.client.on_message = self._on_message
        connect(self.client, port)
        subscribe(self.client, topic, qos=1)

    def _on_message(self, client, userdata, message) -> None:
        at = self._clock()
        key = self._key(message.payload)
        if key is not None:
            with self._cond:
                self.times[key] = at
                self.sizes.append(len(message.payload))
                self._cond.notify_all()

    def wait(self, key: str, timeout: float = 10.0) -> float:
        """The arrival time of the message with ``key``, waiting up to ``timeout`` seconds for it."""
        with self._cond:
            if not self._cond.wait_for(lambda: key in self.times, timeout):
                raise TimeoutError(f"no message for {key} after {timeout} s")
            return self.times[key]


def close(client: mqtt.Client) -> None:
    try:
        client.disconnect()
    finally:
        client.loop_stop()


def message_id(payload: bytes) -> bytes:
    """The envelope id of a payload as bytes; cheap for our own encoder's layout."""
    if payload[:7] == b'{"id":"':
        return payload[7:43]
    return json.loads(payload)["id"].encode()
