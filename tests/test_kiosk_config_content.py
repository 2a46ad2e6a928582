"""The kiosk's configuration and attract content: mistakes are named with their key path, file and line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiosk.config import ConfigError, parse_config
from kiosk.content import ContentError, attract_slides, load_slides

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "kiosk.example.toml"

# A 1x1 PNG.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082")


def test_the_example_configuration_is_valid():
    result = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(EXAMPLE), "--validate-config"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_options_override_the_file_and_mistakes_name_their_key(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text('[store]\nid = "store-1"\n[device]\nid = "kiosk-1"\n[session]\nidle_timout_s = 30\n')
    result = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "--validate-config"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 2 and "session.idle_timout_s: Extra inputs are not permitted" in result.stderr
    result = subprocess.run([sys.executable, "-m", "kiosk", "--store", "Store 1", "--device", "kiosk-1",
                             "--validate-config"], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 2 and "store.id" in result.stderr


@pytest.mark.parametrize("document, key", [
    ({"store": {"id": "s"}, "device": {"id": "d"}, "session": {"idle_timeout_s": 5, "countdown_s": 10}}, "session"),
    ({"store": {"id": "s"}, "device": {"id": "d"}, "display": {"text_scale": 3}}, "display.text_scale"),
    ({"store": {"id": "s"}}, "device"),
])
def test_inconsistent_settings_are_refused(document, key):
    with pytest.raises(ConfigError, match=key):
        parse_config(document)


def test_attract_slides_from_the_manifest(tmp_path):
    (tmp_path / "attract").mkdir()
    (tmp_path / "attract" / "lente.png").write_bytes(PNG)
    (tmp_path / "attract.yaml").write_text(textwrap.dedent("""\
        slides:
          - image: attract/lente.png
            seconds: 5
            caption: {nl: Het voorjaar is begonnen, en: Spring has started}
        """))
    [slide] = load_slides(tmp_path)
    assert slide.image == tmp_path / "attract" / "lente.png" and slide.seconds == 5
    assert slide.caption.text("fr") == "Het voorjaar is begonnen" and slide.caption.text("en") == "Spring has started"


@pytest.mark.parametrize("manifest, problem", [
    ("slides:\n  - image: attract/lente.png\n    seconds: 1\n", "attract.yaml:3: slides.0.seconds"),
    ("slides:\n  - image: ../geheim.png\n", "attract.yaml:2: slides.0.image"),
    ("slides:\n  - image: attract/missing.png\n", "attract.yaml:2: slides.0.image: attract/missing.png does not exist"),
    ("slides:\n  - image: attract/lente.png\n    colour: red\n", "attract.yaml:3: slides.0.colour"),
    ("slides: [\n", "attract.yaml:2: not valid YAML"),
])
def test_a_broken_manifest_names_file_line_and_problem_and_falls_back(tmp_path, manifest, problem, caplog):
    (tmp_path / "attract").mkdir()
    (tmp_path / "attract" / "lente.png").write_bytes(PNG)
    (tmp_path / "attract.yaml").write_text(manifest)
    with pytest.raises(ContentError) as raised:
        load_slides(tmp_path)
    assert problem in str(raised.value)
    assert attract_slides(tmp_path) == [] and "attract content not used" in caplog.text
    assert attract_slides(None) == []
