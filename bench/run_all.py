"""Run every benchmark, one after the other (never two at once: they would disturb each other).

Every ``bench/*.py`` script except this one and the ``_*.py`` helpers is a
benchmark: the outbox and latency ones first, then the others by name
(``camera_decode``, ``kiosk_idle``, ``ping_under_load`` among them; their
helpers ``_kivy_video_app.py``, ``_ping_agent.py`` and ``_ping_load.py`` are
started by them).

    .venv/bin/python bench/run_all.py [--quick] [--rounds N] [--strict] [--json-dir DIR] [-v] [only ...]

Prints each benchmark's table as it finishes and a summary. Exits 1 when a
benchmark crashed, or, with ``--strict``, when a target was missed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ("outbox_enqueue", "outbox_drain", "latency")
_found = sorted(path.stem for path in HERE.glob("*.py") if not path.stem.startswith("_") and path.stem != "run_all")
BENCHMARKS = tuple(name for name in FIRST if name in _found) + tuple(name for name in _found if name not in FIRST)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("only", nargs="*", help=f"run only these benchmarks ({', '.join(BENCHMARKS)})")
    p.add_argument("--quick", action="store_true", help="smoke run of every script")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--json-dir", type=Path, default=None, help="write each benchmark's results as DIR/<name>.json")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    unknown = [name for name in args.only if name not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    summary = []
    failed = False
    for name in args.only or BENCHMARKS:
        command = [sys.executable, str(HERE / f"{name}.py")]
        if args.quick:
            command.append("--quick")
        if args.rounds is not None:
            command += ["--rounds", str(args.rounds)]
        if args.verbose:
            command.append("-v")
        if args.json_dir is not None:
            command += ["--json", str(args.json_dir / f"{name}.json")]
        start = time.monotonic()
        completed = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        elapsed = time.monotonic() - start
        print(completed.stdout, end="", flush=True)
        results = [line.rsplit("|", 1)[-1].strip() for line in completed.stdout.splitlines() if "|" in line]
        passes, fails = results.count("PASS"), results.count("FAIL")
        if completed.returncode != 0:
            failed = True
        if args.strict and fails:
            failed = True
        state = "ok" if completed.returncode == 0 else f"exit {completed.returncode}"
        summary.append(f"  {name:16s} {state:8s} {elapsed:6.1f} s   targets: {passes} PASS, {fails} FAIL")
    print("\n== summary" + (" (quick: figures not meaningful)" if args.quick else ""))
    print("\n".join(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
