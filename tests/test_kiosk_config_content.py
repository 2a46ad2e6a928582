"""The kiosk's configuration: mistakes are named with their key path (content packs: test_kiosk_content.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "kiosk.example.toml"

def test_the_example_configuration_is_valid():
    result = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(EXAMPLE), "--validate-config"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_options_override_the_file_and_mistakes_name_their_key(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text('[store]\nid = "store-1"\n[device]\nid = "kiosk-1"\n[session]\nidle_timout_s = 30\n')
    result = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "--validate-config"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 2 and f"{config}:6: session.idle_timout_s: unknown key" in result.stderr
    result = subprocess.run([sys.executable, "-m", "kiosk", "--store", "Store 1", "--device", "kiosk-1",
                             "--validate-config"], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 2 and "options: store.id: String should match pattern" in result.stderr


@pytest.mark.parametrize("document, key", [
    ({"store": {"id": "s"}, "device": {"id": "d"}, "session": {"idle_timeout_s": 5, "countdown_s": 10}}, "session"),
    ({"store": {"id": "s"}, "device": {"id": "d"}, "display": {"text_scale": 3}}, "display.text_scale"),
    ({"store": {"id": "s"}}, "device"),
    ({"store": {"id": "s"}, "device": {"id": "d"}, "content": {"folder": "/srv/c", "last_good": "/srv/c/copy"}},
     "content"),
    ({"store": {"id": "s"}, "device": {"id": "d"}, "content": {"check_s": 0}}, "content.check_s"),
])
def test_inconsistent_settings_are_refused(document, key):
    with pytest.raises(ConfigError, match=key):
        parse_config(document)
