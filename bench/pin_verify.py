"""Checking a staff PIN (edge_agent/staff/pin.py's ``verify_pin``) vs a bare argon2id call with the same
parameters, in the same run; and what it would take on a Raspberry Pi 4.

Ours: ``verify_pin(verifier, pin)`` for the right PIN and for a wrong one (argon2-cffi's ``PasswordHasher.verify``
after our check of the verifier's parameters). Raw: ``argon2.low_level.hash_secret_raw`` with the verifier's
salt and parameters (64 MiB, t=1, p=4, 32-byte hash). Rounds alternate; medians over rounds, wall clock and the
process's CPU time (all lanes' threads: the work a single core would do).

The Raspberry Pi 4 figure is an estimate (there is no Pi here): this machine's CPU time per verification times a
slow-down factor, the larger of (a) this machine's memory copy bandwidth (numpy, 256 MiB arrays) over the Pi 4's
STREAM copy of 5.16 GB/s with a display attached (sci-pi.org.uk/bench/stream.html: 5.53 GB/s headless), and (b)
3.7, the single-core compute ratio of a 2018 desktop x86 core (Mac mini i5) to the Pi 4's Cortex-A72 in a serial
float64 matrix product (66.12 s vs 17.76 s, zhonguncle.github.io, "Performance Record of Raspberry Pi 4B"). Two
estimates: the four lanes on the Pi's four cores (argon2 runs each lane in a thread; a 25 % allowance for their
synchronisation): target <= 0.3 s; and every lane on one core (the other three fully busy), for information. At
64 MiB one pass is the least work there is: only the lanes bring a Pi 4 under 0.3 s.
Memory cost: the parameters' memory, which every guess of an attacker with a copied database needs.

    .venv/bin/python bench/pin_verify.py [--quick] [--rounds N]
"""

from __future__ import annotations

import base64
import time

import _common as common
import numpy as np
from _common import Row
from argon2.low_level import Type, hash_secret_raw

from edge_agent.staff.pin import PARAMETERS, hash_pin, parameters_of, verify_pin

PI4_STREAM_COPY_GBPS = 5.16  # Pi 4 STREAM copy with a display attached (sci-pi.org.uk)
PI4_COMPUTE_RATIO = 3.7  # 2018 x86 desktop core vs Cortex-A72, serial float64 matrix product
LANE_SYNC_ALLOWANCE = 1.25
TARGET_PI4_S = 0.3
TARGET_MEMORY_MIB = 64
PIN, WRONG = "24681357", "24681358"


def timed(function) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def copy_bandwidth_gbps(mib: int, rounds: int) -> float:
    """This machine's memory copy bandwidth (read + write counted once, as STREAM's copy does: bytes moved)."""
    source = np.ones(mib * 1024 * 1024 // 8, dtype=np.float64)
    target = np.empty_like(source)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - started)
    return 2 * source.nbytes / best / 1e9


def main() -> int:
    args = common.parser(__doc__.splitlines()[0], rounds=15).parse_args()
    rounds = common.rounds_of(args)
    verifier = hash_pin(PIN)
    parameters = parameters_of(verifier)
    salt_text = verifier.split("$")[4]
    salt = base64.b64decode(salt_text + "=" * (-len(salt_text) % 4))

    def raw() -> None:
        hash_secret_raw(PIN.encode(), salt, parameters.time_cost, parameters.memory_kib, parameters.parallelism,
                        PARAMETERS.hash_len, Type.ID)

    def ours_right() -> None:
        assert verify_pin(verifier, PIN)

    def ours_wrong() -> None:
        assert not verify_pin(verifier, WRONG)

    results: dict[str, list[tuple[float, float]]] = {"right": [], "wrong": [], "raw": []}
    for index in range(rounds):
        common.alternate(index, lambda: results["right"].append(timed(ours_right)),
                         lambda: results["raw"].append(timed(raw)))
        results["wrong"].append(timed(ours_wrong))
    wall = {name: [w for w, _ in values] for name, values in results.items()}
    cpu = {name: [c for _, c in values] for name, values in results.items()}
    ratio = common.median([a / b for a, b in zip(wall["right"], wall["raw"], strict=True)])
    bandwidth = copy_bandwidth_gbps(32 if args.quick else 256, 3 if args.quick else 7)
    factor = max(bandwidth / PI4_STREAM_COPY_GBPS, PI4_COMPUTE_RATIO)
    one_core = common.median(cpu["right"]) * factor
    four_cores = one_core / min(parameters.parallelism, 4) * LANE_SYNC_ALLOWANCE
    label = f"m={parameters.memory_mib:g} MiB, t={parameters.time_cost}, p={parameters.parallelism}"
    rows: list[Row] = [
        Row(f"verify, right PIN vs hash_secret_raw ({label}), wall", common.median(wall["right"]) * 1000,
            common.median(wall["raw"]) * 1000, "ms", ratio, "<= 1.10x", ratio <= 1.10, wall["right"], wall["raw"]),
        Row("verify, wrong PIN, wall", common.median(wall["wrong"]) * 1000, common.median(wall["raw"]) * 1000, "ms",
            common.median(wall["wrong"]) / common.median(wall["raw"]), "info", None, wall["wrong"]),
        Row("verify, right PIN, CPU (all lanes)", common.median(cpu["right"]) * 1000,
            common.median(cpu["raw"]) * 1000, "ms", common.median(cpu["right"]) / common.median(cpu["raw"]), "info",
            None, cpu["right"], cpu["raw"]),
        Row("memory cost per guess", parameters.memory_mib, None, "MiB", None, f">= {TARGET_MEMORY_MIB}",
            parameters.memory_mib >= TARGET_MEMORY_MIB),
        Row(f"Raspberry Pi 4 estimate, four lanes on four cores (x{factor:.2f})", four_cores * 1000, None, "ms",
            None, f"<= {TARGET_PI4_S * 1000:g}", four_cores <= TARGET_PI4_S),
        Row("Raspberry Pi 4 estimate, every lane on one core", one_core * 1000, None, "ms", None, "info", None),
    ]
    notes = [(f"memory copy here: {bandwidth:.1f} GB/s (Pi 4 STREAM copy {PI4_STREAM_COPY_GBPS} GB/s: "
             f"x{bandwidth / PI4_STREAM_COPY_GBPS:.2f}); compute ratio x{PI4_COMPUTE_RATIO}; the larger is used")]
    return common.finish("PIN verification: verify_pin vs argon2 hash_secret_raw", args, rows, notes)


if __name__ == "__main__":
    raise SystemExit(main())
