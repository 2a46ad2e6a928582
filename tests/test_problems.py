"""One way to say what is wrong: every validator reports ``file:line: key.path: what is wrong``, and both command
lines exit 2 for input that is invalid (edge_agent/problems.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from edge_agent import problems
from edge_agent.problems import (
    EXIT_FAILURE,
    EXIT_INVALID,
    Problem,
    toml_line,
    validation_problems,
    yaml_line,
    yaml_node,
)

ROOT = Path(__file__).resolve().parent.parent
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def run(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, env=env)


# --------------------------------------------------------------------------- every validator, one format


def test_a_bad_agent_config_names_file_line_and_key_and_exits_2(tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text('[store]\nid = "s"\n[device]\nid = "d"\n[[loyalty.tiers]]\nid = "a"\nthreshold = 0\n'
                    '[[loyalty.tiers]]\nid = "b"\nthreshold = 5\nkleur = "goud"\n')
    result = run("edge_agent", "validate-config", str(path))
    assert result.returncode == EXIT_INVALID
    assert result.stderr.splitlines() == [f"{path}:11: loyalty.tiers.1.kleur: unknown key", f"{path}: 1 problem(s)"]


def test_a_bad_kiosk_config_names_file_line_and_key_and_exits_2(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[store]\nid = "s"\n[device]\nid = "d"\n\n[display]\nlanguage = "de"\n')
    result = run("kiosk", "--config", str(path), "--validate-config")
    assert result.returncode == EXIT_INVALID
    assert result.stderr.splitlines()[-2:] == [
        f"{path}:7: display.language: Input should be 'nl', 'en' or 'fr'", f"{path}: 1 problem(s)"]


def test_a_kiosk_option_that_is_wrong_is_named_as_an_option():
    result = run("kiosk", "--store", "s", "--device", "Kiosk 1", "--validate-config")
    assert result.returncode == EXIT_INVALID
    assert "options: device.id: String should match pattern" in result.stderr


def test_a_bad_content_pack_names_file_line_and_key_and_exits_2(tmp_path):
    pack = tmp_path / "pack"
    (pack / "attract").mkdir(parents=True)
    (pack / "attract" / "lente.png").write_bytes(PNG)
    manifest = pack / "content.yaml"
    manifest.write_text('pack: test\nversion: "1"\nattract:\n'
                        '  - image: attract/lente.png\n    id: lente\n    seconds: 1\n')
    result = run("kiosk", "--store", "s", "--device", "d", "--content", str(pack), "--validate-config")
    assert result.returncode == EXIT_INVALID
    assert result.stderr.splitlines()[-2:] == [
        f"{manifest}:6: attract.0.seconds: Input should be greater than or equal to 2", f"{manifest}: 1 problem(s)"]


def test_a_bad_push_file_names_file_line_and_key_and_exits_2(tmp_path):
    path = tmp_path / "push.yaml"
    path.write_text("customers:\n  - customer: klant-1\n    version: 1\n    first_name: Sanne\n    kleur: rood\n")
    result = run("edge_agent", "central", "push", str(path), "--store", "store-1", "--check")
    assert result.returncode == EXIT_INVALID
    assert f"{path}:5: customers.0.kleur: unknown key" in result.stderr.splitlines()


def test_a_valid_request_that_fails_while_running_exits_1(tmp_path):
    # The file is fine; no broker listens on the port: a runtime failure, not invalid input.
    example = ROOT / "config" / "central-fixtures.example.yaml"
    result = run("edge_agent", "central", "push", str(example), "--store", "store-1", "--port", "1",
                 "--timeout", "2", env={"PATH": "/usr/bin:/bin", "CS_STORE_HMAC_KEY": "ab" * 32})
    assert result.returncode == EXIT_FAILURE
    assert "error: cannot reach the broker" in result.stderr


def test_options_that_do_not_go_together_are_a_usage_error_with_exit_2():
    result = run("edge_agent", "card", "emulate")
    assert result.returncode == EXIT_INVALID
    assert "usage: edge-agent card emulate" in result.stderr and "give --uid, --url or both" in result.stderr


def test_broken_syntax_is_reported_at_its_line(tmp_path):
    toml = tmp_path / "agent.toml"
    toml.write_text('[store]\nid = "s"\n[device\n')
    result = run("edge_agent", "validate-config", str(toml))
    assert result.returncode == EXIT_INVALID and result.stderr.startswith(f"{toml}:3: not valid TOML")
    push = tmp_path / "push.yaml"
    push.write_text("catalogue:\n  - {gtin: 1\n")
    result = run("edge_agent", "central", "push", str(push), "--check")
    assert result.returncode == EXIT_INVALID and result.stderr.startswith(f"{push}:3: not valid YAML")


# --------------------------------------------------------------------------- the pieces


class _Tier(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    threshold: int


class _Loyalty(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tiers: list[_Tier]
    names: dict[str, str] = {}


def _error(document: dict) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        _Loyalty.model_validate(document)
    return raised.value


def test_a_problem_prints_what_it_knows():
    assert str(Problem("a.toml", 3, "store.id", "wrong")) == "a.toml:3: store.id: wrong"
    assert str(Problem("a.toml", None, "store.id", "wrong")) == "a.toml: store.id: wrong"
    assert str(Problem("a.toml", 3, None, "not valid TOML")) == "a.toml:3: not valid TOML"
    assert str(Problem(None, None, "--size", "expected WxH")) == "--size: expected WxH"


def test_validation_problems_word_pydantic_for_someone_editing_a_file():
    exc = _error({"tiers": [{"id": 5, "threshold": 0, "colour": "x"}, {"id": "b"}]})
    found = validation_problems(exc, file="f.yaml", prefix=("loyalty",))
    assert [(problem.key, problem.message) for problem in found] == [
        ("loyalty.tiers.0.id", "Input should be a valid string (quote it: unquoted digits are read as a number)"),
        ("loyalty.tiers.0.colour", "unknown key"),
        ("loyalty.tiers.1.threshold", "missing: this key is required"),
    ]
    assert {problem.file for problem in found} == {"f.yaml"}


def test_toml_lines_follow_tables_arrays_of_tables_and_dotted_keys():
    text = ('top = 1\n[store]\nid = "s"\n\n[[loyalty.tiers]]\nid = "a"\n[[loyalty.tiers]]\nid = "b"\n'
            'name.nl = "B"  # dotted\n[mqtt.tls]\ninsecure = true\n')
    assert toml_line(text, ("top",)) == 1
    assert toml_line(text, ("store", "id")) == 3
    assert toml_line(text, ("store", "timezone")) == 2  # not written: its table
    assert toml_line(text, ("loyalty", "tiers")) == 5
    assert toml_line(text, ("loyalty", "tiers", 1, "id")) == 8
    assert toml_line(text, ("loyalty", "tiers", 1, "name", "nl")) == 9
    assert toml_line(text, ("mqtt", "tls", "insecure")) == 11
    assert toml_line(text, ("device", "id")) is None


def test_yaml_lines_follow_mappings_and_lists_block_and_flow():
    node = yaml_node("offers:\n  - {offer: a, percent: 0}\n  - offer: b\n    percent: 200\n")
    assert yaml_line(node, ("offers", 0, "percent")) == 2
    assert yaml_line(node, ("offers", 1, "percent")) == 4
    assert yaml_line(node, ("offers", 1, "title", "nl")) == 3  # not written: its record
    assert yaml_node("a: [\n") is None


def test_messages_from_the_network_never_echo_the_senders_keys():
    exc = _error({"tiers": [{"id": "a", "threshold": "x", "secret-name": 1}], "names": {}})
    text = problems.describe_validation(exc, "data.")
    assert text == ("data.tiers.0.threshold: Input should be a valid integer, unable to parse string as an integer; "
                    "data.tiers.0.<unknown key>: Extra inputs are not permitted")
    assert "secret-name" not in text
    many = _error({"tiers": [{"id": 1, "threshold": "x"}] * 3})
    assert problems.describe_validation(many).endswith("; and 1 more")


def test_describe_validation_says_what_the_contracts_own_says():
    # edge_agent.contract.describe_validation is to become this function; until then they must agree.
    from edge_agent import contract

    for document in ({"tiers": [{"id": "a", "threshold": "x", "extra": 1}]}, {"tiers": "none"},
                     {"tiers": [{}] * 4}):
        exc = _error(document)
        for prefix in ("", "data."):
            assert problems.describe_validation(exc, prefix) == contract.describe_validation(exc, prefix)
