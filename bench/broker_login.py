"""Broker login time with the provisioning's password hashes vs Mosquitto's own default.

One Mosquitto 2 on loopback with a password file holding three logins, hashed by
:func:`edge_agent.provisioning.passwords.hash_password` (Mosquitto's ``$7$`` PBKDF2-SHA512) at:

- ours: 1,000 iterations (what ``edge-agent broker provision`` writes);
- baseline: 101 iterations (``mosquitto_passwd``'s default in Mosquitto 2.0);
- for information: 210,000 iterations (OWASP's figure for PBKDF2-HMAC-SHA512), the price of a count
  chosen for human passwords, which the provisioning never makes.

Each round connects and disconnects every login in turn (the order rotates), timing CONNECT to CONNACK
with a raw paho client; the table shows the medians of the rounds' medians. The broker hashes on every
connection, on its single thread: this is what a store's reconnect storm (a power cut, every device at
once) costs per login.

Target: ours <= baseline + 5 ms per login (the cost of a connection stays in the noise of a reconnect).

    .venv/bin/python bench/broker_login.py [--quick] [--rounds N] [--logins N]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common as common
import paho.mqtt.client as mqtt
from _common import Row
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.provisioning.passwords import ITERATIONS, hash_password, password_file
from tests.support.mosquitto import Mosquitto

BASELINE_ITERATIONS = 101
OWASP_ITERATIONS = 210_000
TARGET_EXTRA_MS = 5.0
SIDES = {"ours": ITERATIONS, "baseline": BASELINE_ITERATIONS, "owasp": OWASP_ITERATIONS}


def login_ms(port: int, user: str) -> float:
    """Milliseconds from CONNECT to an accepted CONNACK for ``user`` (password = its name)."""
    done = threading.Event()
    result: list[int] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        result.append(reason_code.value)
        done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv311)
    client.username_pw_set(user, user)
    client.on_connect = on_connect
    start = time.perf_counter()
    client.connect("127.0.0.1", port)
    while not done.is_set():
        client.loop(timeout=0.05)
        if time.perf_counter() - start > 30:
            raise TimeoutError(f"no CONNACK for {user}")
    elapsed = (time.perf_counter() - start) * 1000
    client.disconnect()
    if result != [0]:
        raise RuntimeError(f"{user} was refused ({result})")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0], rounds=7)
    p.add_argument("--logins", type=int, default=None, help="connections per side per round (default 20, quick 3)")
    args = p.parse_args(argv)
    rounds = common.rounds_of(args)
    logins = args.logins or (3 if args.quick else 20)
    folder = Path(tempfile.mkdtemp(prefix="bench-login-"))
    passwd = folder / "passwd"
    passwd.write_text(password_file({side: hash_password(side, iterations=count) for side, count in SIDES.items()}))
    broker = Mosquitto(workdir=folder / "broker", extra=f"password_file {passwd}\n")
    broker.config_path.write_text(broker.config_path.read_text().replace("allow_anonymous true",
                                                                         "allow_anonymous false"))
    figures: dict[str, list[float]] = {side: [] for side in SIDES}
    try:
        broker.start()
        order = list(SIDES)
        for index in range(rounds):
            turn = order[index % len(order):] + order[:index % len(order)]
            times: dict[str, list[float]] = {side: [] for side in SIDES}
            for _ in range(logins):
                for side in turn:
                    times[side].append(login_ms(broker.port, side))
            for side in SIDES:
                figures[side].append(common.median(times[side]))
    finally:
        broker.close()
        shutil.rmtree(folder, ignore_errors=True)
    ours, raw, owasp = (common.median(figures[side]) for side in ("ours", "baseline", "owasp"))
    rows = [
        Row(f"login, {ITERATIONS} iterations vs mosquitto_passwd's {BASELINE_ITERATIONS}", ours, raw, "ms",
            ours / raw if raw else None, f"<= baseline + {TARGET_EXTRA_MS:g} ms", ours <= raw + TARGET_EXTRA_MS,
            figures["ours"], figures["baseline"]),
        Row(f"login, OWASP's {OWASP_ITERATIONS:,} iterations (info)", owasp, raw, "ms",
            owasp / raw if raw else None, "-", None, figures["owasp"], figures["baseline"]),
    ]
    return common.finish("broker login (password hash cost)", args, rows,
                         notes=[f"{logins} logins per side per round, {rounds} round(s); medians of round medians"])


if __name__ == "__main__":
    sys.exit(main())
