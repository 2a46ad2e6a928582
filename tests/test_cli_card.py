"""`edge-agent card verify-sun`: one JSON object, as store staff use it."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZERO = "00" * 16
# AN12196's worked example: both keys zero, UID 04DE5F1EACC040, read counter 61.
GOOD = "https://shop.example/c?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086"


def verify(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_agent", "card", "verify-sun", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env)


def test_valid_sun_url_prints_uid_and_counter():
    result = verify("--url", GOOD, "--meta-read-key", ZERO, "--file-read-key", ZERO)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"valid": True, "uid": "04de5f1eacc040", "counter": 61}


def test_short_parameter_names_and_a_tampered_mac():
    short = GOOD.replace("picc_data=", "e=").replace("cmac=", "c=")
    assert json.loads(verify("--url", short, "--meta-read-key", ZERO, "--file-read-key", ZERO).stdout)["valid"]
    tampered = verify("--url", GOOD[:-1] + "7", "--meta-read-key", ZERO, "--file-read-key", ZERO)
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout) == {"valid": False, "reason": "bad-mac", "uid": None, "counter": None}


def test_replayed_counter_is_reported_with_the_card():
    result = verify("--url", GOOD, "--meta-read-key", ZERO, "--file-read-key", ZERO, "--last-counter", "61")
    assert json.loads(result.stdout)["reason"] == "replayed-counter"


def test_keys_from_credentials_and_a_clear_error_when_missing(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CS_")}
    result = verify("--url", GOOD, env=env)
    assert result.returncode == 1 and "sun-meta-read-key" in result.stderr
    (tmp_path / "sun-meta-read-key").write_text(ZERO)
    (tmp_path / "sun-file-read-master-key").write_text(ZERO)
    result = verify("--url", GOOD, env={**env, "CREDENTIALS_DIRECTORY": str(tmp_path)})
    # With a master key the card's key is derived, so AN12196's all-zero card key does not verify.
    assert json.loads(result.stdout) == {"valid": False, "reason": "bad-mac", "uid": None, "counter": None}
