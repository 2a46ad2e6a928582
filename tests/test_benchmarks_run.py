"""Every benchmark still runs (a smoke run: --quick figures mean nothing, crashes do)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py")
# Rows a smoke run must print: the comparisons issue 13 made like with like.
EXPECTED_ROWS = {
    "camera_decode.py": ["vs raw zxingcpp.read_barcodes, same formats", "raw searching every format"],
    "kiosk_idle.py": ["kiosk, video attract loop vs bare video player: CPU"],
    "ping_under_load.py": ["ping p99 under saturation (vs idle)", "ping p99 under saturation: ours vs old agent",
                           "kiosk requests answered under saturation"],
}


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_quick(script):
    result = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True, text=True,
                            timeout=300, cwd=BENCH.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ratio" in result.stdout and "baseline" in result.stdout
    for row in EXPECTED_ROWS.get(script, []):
        assert row in result.stdout, f"{script} printed no {row!r}"


def test_issue_13_benchmarks_are_run_by_run_all():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run_all", BENCH / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert {"camera_decode", "kiosk_idle", "ping_under_load"} <= set(module.BENCHMARKS)
