"""The linters run inside the test suite: ruff and mypy report nothing on the tree.

The README's test command (which `.ci/run` calls) runs only pytest; these tests make that one command
run the checks as well, so a finding fails the build like a failing test. Both tools come from the
environment the tests run in (`sys.executable -m ...`, installed by the `test` extra) and read their
configuration from pyproject.toml at the repository root: ruff checks every Python file there, mypy
the packages `[tool.mypy] files` names, with the pydantic plugin.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_ruff_reports_no_finding_in_the_tree():
    result = _run("ruff", "check", "--output-format", "concise", ".", timeout=120)
    if result.returncode != 0:
        pytest.fail(f"ruff check . found:\n{result.stdout}{result.stderr}", pytrace=False)


def test_mypy_reports_no_error_and_no_note():
    # A note fails too: warn_unused_configs reports a [tool.mypy] section that no longer matches anything.
    result = _run("mypy", timeout=600)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0 or not all(line.startswith("Success:") for line in lines):
        pytest.fail(f"mypy found:\n{result.stdout}{result.stderr}", pytrace=False)
