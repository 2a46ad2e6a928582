"""The edge agent as its own process, for ``ping_under_load.py``: runs until SIGTERM.

    python bench/_ping_agent.py --port 1883 --db agent.db [--old] [--fifo] [--no-yield] [--no-read-buffer]
                                [--no-write-batch] [--no-freeze] [--whole] [--switch-interval S]

``--old`` is the agent before issue 13's changes for commands, which the benchmark measures beside ours in
the same run: ``--fifo`` (the link's command lane off, :attr:`edge_agent.link.Intake.priority`: every
received message waits in one queue in arrival order), ``--no-yield`` (bulk work does not wait while a
command is handled), ``--no-read-buffer`` (paho reads its socket itself), ``--no-write-batch`` (paho
sends each packet with a system call of its own), ``--no-freeze`` (the garbage collector's full passes go
over the heap built at start, :mod:`edge_agent.heap`), ``--whole`` (a push validated in
one go) and Python's default switch interval. Each can be given alone, to see what it is worth. Prints
``ready`` once connected, and when stopped one JSON line: pushes applied and rejected, messages received.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

import _common as common

from edge_agent import link
from edge_agent.agent import Agent
from edge_agent.credentials import Credentials
from edge_agent.heap import freeze_startup_heap


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--fifo", action="store_true", help="one lane in arrival order (no command lane)")
    p.add_argument("--old", action="store_true",
                   help="the agent before issue 13's changes: --fifo --no-yield --no-read-buffer --no-write-batch "
                        "--no-freeze --whole --switch-interval 0.005")
    p.add_argument("--no-yield", action="store_true", help="bulk work does not wait while commands are handled")
    p.add_argument("--no-flush", action="store_true", help="bulk work goes on before a command's answer is written")
    p.add_argument("--no-read-buffer", action="store_true", help="paho reads its socket itself")
    p.add_argument("--no-write-batch", action="store_true", help="paho sends each packet with a call of its own")
    p.add_argument("--no-freeze", action="store_true",
                   help="the garbage collector keeps passing over the heap built at start (edge_agent.heap)")
    p.add_argument("--whole", action="store_true", help="validate each push in one go (not in slices)")
    p.add_argument("--switch-interval", type=float, default=None,
                   help="the interpreter's switch interval in s after the agent started (default: the agent "
                        "process's, edge_agent.link.SWITCH_INTERVAL_S; Python's default: 0.005)")
    args = p.parse_args()
    if args.old:
        args.fifo = args.no_yield = args.no_flush = args.no_read_buffer = args.no_write_batch = True
        args.whole = args.no_freeze = True
        args.switch_interval = 0.005
    logging.basicConfig(level=logging.WARNING)
    agent = Agent(common.agent_config(args.port, args.db), Credentials({}))
    agent.link.intake.priority = not args.fifo
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    agent.inbox.sliced = not args.whole
    link.READ_BUFFER = not args.no_read_buffer
    link.WRITE_BATCH = not args.no_write_batch
    if args.no_flush:
        link.FLUSH_COMMANDS_S = 0.0
    agent.link.intake.yielding = not args.no_yield
    agent.start()
    # As the agent's own process does (Agent.run_forever), unless told otherwise.
    sys.setswitchinterval(link.SWITCH_INTERVAL_S if args.switch_interval is None else args.switch_interval)
    if not args.no_freeze:
        freeze_startup_heap()
    try:
        if not agent.link.wait_connected(20):
            print("not connected", flush=True)
            return 1
        print("ready", flush=True)
        stop.wait()
    finally:
        agent.stop()
    print(json.dumps({"applied": agent.inbox.applied, "rejected": agent.inbox.rejected,
                      "received": agent.link.stats.received}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
