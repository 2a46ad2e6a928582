"""Every benchmark still runs (a smoke run: --quick figures mean nothing, crashes do)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py")


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_quick(script):
    result = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True, text=True,
                            timeout=300, cwd=BENCH.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ratio" in result.stdout and "baseline" in result.stdout
