"""The README's first command: the demo runs the agent against the embedded broker."""

import subprocess
import sys
from pathlib import Path

from tests.support.mosquitto import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_demo_starts_embedded_broker_and_agent_and_pushes_the_example_fixtures(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "edge_agent", "demo", "--duration", "3", "--broker-port", str(free_port()),
         "--state-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for schema in ("state/1", "birth/1", "catalogue/1", "offers/1", "order/1", "card-link/1"):
        assert schema in out, f"{schema} missing from demo output:\n{out}"
    assert "Traceback" not in result.stderr
    assert (tmp_path / "agent.db").exists()
