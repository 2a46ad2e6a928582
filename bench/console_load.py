"""A console watching 50 devices with an alert per second: page load p50/p95 of the devices page and the
console's RSS, with baselines measured in the same run.

Real pieces: Mosquitto (tests/support/mosquitto.py), ``store-console run`` as its own process with HTTPS
(tests/support/console.py), a staff login over HTTPS (httpx, the session cookie and CSRF token as a browser has
them), and one live page open (an SSE client on ``/events?channel=devices&channel=alerts``, as a phone would
have).

- Load: 50 simulated devices publish their retained state and birth and a retained content schedule once, then
  health every second each (50 messages/s), and one of them an ``event/staff-assist`` every second (QoS 1).
  (The console subscribes to the alerts once the alerts pages are merged; until then the broker does not send
  them to it, and the figure is the device model's and the pages' cost alone.)
- Ours: ``GET /devices`` (the whole page, 50 devices) under that load, one request after another.
- Baselines in the same run: ``GET /devices`` with one device and no load (before the load starts), and
  ``GET /health`` (the framework, TLS and the login check, no page) under the load. The ratio is ours over the
  one-device page. RSS: the console process's VmRSS with one device, and after the loaded phase.
- Rounds: each round takes N requests of each kind; medians of the rounds' p50 and p95.

    .venv/bin/python bench/console_load.py [--quick] [--rounds N]
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from pathlib import Path

import _common as common
import httpx
from _common import Row

from edge_agent.contract import BIRTH, CONTENT_SCHEDULE, EVENTS, HEALTH, PUSHES, STATE, encode
from tests.support.console import ConsoleProcess, staff_push, write_console_config
from tests.support.mosquitto import Mosquitto

STORE = "store-bench"
DEVICES = 50
TARGET_P95_MS = 1000.0  # a phone on the store LAN: the page within a second, under load
STAFF, PIN = "s-bench", "2468"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Devices:
    """The simulated devices: retained status once, then health every second each and an alert per second."""

    def __init__(self, port: int, count: int):
        self.client = common.raw_client("bench-devices")
        common.connect(self.client, port)
        self.count = count
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="devices", daemon=True)
        self.sent = 0

    def announce(self, count: int) -> None:
        for index in range(count):
            device = f"kiosk-{index + 1:02d}"
            birth = dict(BIRTH.example, device_kind="kiosk")
            for message, data in ((STATE, STATE.example), (BIRTH, birth), (CONTENT_SCHEDULE, CONTENT_SCHEDULE.example)):
                self.client.publish(message.topic_for(STORE, device), encode(message, data)[1], qos=1, retain=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        tick = time.monotonic()
        while not self.stop.is_set():
            for index in range(self.count):
                device = f"kiosk-{index + 1:02d}"
                self.client.publish(HEALTH.topic_for(STORE, device), encode(HEALTH, HEALTH.example)[1], qos=0)
            alert = f"kiosk-{self.sent % self.count + 1:02d}"
            self.client.publish(EVENTS["staff-assist"].topic_for(STORE, alert),
                                encode(EVENTS["staff-assist"], EVENTS["staff-assist"].example)[1], qos=1)
            self.sent += 1
            tick += 1.0
            self.stop.wait(max(0.0, tick - time.monotonic()))

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(5)
        common.close(self.client)


def log_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, verify=False, headers={"Accept": "text/html"}, timeout=30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        if client.post("/login", data={"staff": STAFF, "pin": PIN, "csrf": token}).status_code == 303:
            return client
        time.sleep(0.5)
    raise RuntimeError("could not log in to the console")


def sse_reader(client: httpx.Client, stop: threading.Event, counted: list[int]) -> None:
    with client.stream("GET", "/events?channel=devices&channel=alerts",
                       headers={"Accept": "text/event-stream"}, timeout=None) as response:
        for line in response.iter_lines():
            if line.startswith("event:"):
                counted[0] += 1
            if stop.is_set():
                return


def timings(client: httpx.Client, path: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return out


def main() -> int:
    args = common.parser(__doc__.splitlines()[0], rounds=5).parse_args()
    rounds = common.rounds_of(args)
    requests = 5 if args.quick else 40
    devices = 3 if args.quick else DEVICES
    work = Path(tempfile.mkdtemp(prefix="console-bench-"))
    broker = Mosquitto(workdir=work / "mosquitto").start()
    config, port = write_console_config(work / "console", broker.port, STORE)
    console = ConsoleProcess(config, port, work / "console.log").start()
    load = Devices(broker.port, devices)
    stop = threading.Event()
    try:
        load.client.publish(PUSHES["staff"].topic_for(STORE), staff_push(STAFF, PIN), qos=1).wait_for_publish(10)
        client = log_in(console.url)
        load.announce(1)
        deadline = time.monotonic() + 30
        while "kiosk-01" not in client.get("/devices").text:
            assert time.monotonic() < deadline, "the console never showed the first device"
            time.sleep(0.2)
        timings(client, "/devices", requests)  # warm-up: templates compiled, connections made
        one_rounds = [timings(client, "/devices", requests) for _ in range(rounds)]
        rss_one = rss_kib(console.pid())
        load.announce(devices)
        load.start()
        counted = [0]
        watcher = threading.Thread(target=sse_reader, args=(log_in(console.url), stop, counted), daemon=True)
        watcher.start()
        while client.get("/devices").text.count('class="device ') < devices:
            assert time.monotonic() < deadline + 30, "the console never showed every device"
            time.sleep(0.2)
        time.sleep(2 if args.quick else 10)  # the load settles
        ours_rounds, health_rounds = [], []
        for _ in range(rounds):
            ours_rounds.append(timings(client, "/devices", requests))
            health_rounds.append(timings(client, "/health", requests))
        rss_loaded = rss_kib(console.pid())
    finally:
        stop.set()
        load.close()
        console.stop()
        broker.close()

    def p(rounds_: list[list[float]], q: float) -> list[float]:
        return [common.percentile(values, q) for values in rounds_]

    ours95, one95, health95 = p(ours_rounds, 95), p(one_rounds, 95), p(health_rounds, 95)
    ours50, one50, health50 = p(ours_rounds, 50), p(one_rounds, 50), p(health_rounds, 50)
    ratio95 = common.median([o / b for o, b in zip(ours95, one95, strict=True)])
    ratio50 = common.median([o / b for o, b in zip(ours50, one50, strict=True)])
    rows = [
        Row(f"GET /devices p95, {devices} devices + load vs 1 device idle", common.median(ours95),
            common.median(one95), "ms", ratio95, f"<= {TARGET_P95_MS:.0f} ms", common.median(ours95) <= TARGET_P95_MS,
            ours95, one95),
        Row(f"GET /devices p50, {devices} devices + load vs 1 device idle", common.median(ours50),
            common.median(one50), "ms", ratio50, "info", None, ours50, one50),
        Row("GET /devices p95 vs GET /health p95, both under load", common.median(ours95), common.median(health95),
            "ms", common.median([o / b for o, b in zip(ours95, health95, strict=True)]), "info", None),
        Row("GET /health p50 under load", common.median(health50), None, "ms", None, "info", None),
        Row("console RSS under load vs with 1 device idle", rss_loaded / 1024, rss_one / 1024, "MiB",
            rss_loaded / rss_one, "info", None),
    ]
    notes = [(f"{rounds} rounds x {requests} sequential requests per kind; {load.sent} alert seconds of load; "
              f"{counted[0]} live events reached the open SSE page")]
    return common.finish("Console with 50 devices and an alert per second: page load and RSS", args, rows, notes)


if __name__ == "__main__":
    raise SystemExit(main())
