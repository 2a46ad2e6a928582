"""Configuration: typed, unknown keys refused, every mistake reported with its key path."""

import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.config import load_config, parse_config
from edge_agent.credentials import Credentials, env_name
from edge_agent.errors import ConfigError, CredentialError

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_agent", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize("name", ["agent.example.toml", "demo.toml"])
def test_shipped_example_configs_are_valid(name):
    result = run_cli("validate-config", str(ROOT / "config" / name))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_validate_config_lists_every_mistake_with_key_path_and_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[store]\nid = "Store 1"\ntimezone = "Mars/Olympus"\n'
        '[device]\nid = "kiosk-1"\ncolour = "blue"\n'
        '[mqtt]\nhost = "localhost"\nport = 70000\nreconnect_min_s = 10\nreconnect_max_s = 1\n'
    )
    result = run_cli("validate-config", str(path))
    assert result.returncode == 2
    err = result.stderr
    assert f"{path}:2: store.id: String should match pattern" in err
    assert f"{path}:3: store.timezone: unknown time zone 'Mars/Olympus'" in err
    assert f"{path}:6: device.colour: unknown key" in err
    assert f"{path}:9: mqtt.port: Input should be less than or equal to 65535" in err
    assert f"{path}: 4 problem(s)" in err


def test_cross_field_mistake_names_its_section(tmp_path):
    # pydantic runs cross-field checks once the fields themselves are valid.
    path = tmp_path / "bad.toml"
    path.write_text('[store]\nid = "s"\n[device]\nid = "d"\n'
                    '[mqtt]\nhost = "localhost"\nreconnect_min_s = 10\nreconnect_max_s = 1\n')
    result = run_cli("validate-config", str(path))
    assert result.returncode == 2
    assert f"{path}:5: mqtt: reconnect_min_s must not exceed reconnect_max_s" in result.stderr


def test_broken_toml_and_missing_file_are_clear_errors(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[store\nid=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    result = run_cli("validate-config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and f"{tmp_path / 'nope.toml'}: cannot read: No such file" in result.stderr


def test_missing_required_sections_name_their_path():
    with pytest.raises(ConfigError) as info:
        parse_config("")
    assert [(problem.key, problem.message) for problem in info.value.problems] == [
        ("store", "missing: this key is required"), ("device", "missing: this key is required")]


def test_config_file_cannot_hold_secrets():
    with pytest.raises(ConfigError, match=r"mqtt\.password.*unknown key"):
        parse_config('[store]\nid="s"\n[device]\nid="d"\n[mqtt]\nhost="h"\npassword="hunter2"\n')


def test_config_hash_is_stable_and_changes_with_content():
    text = '[store]\nid="s"\n[device]\nid="d"\n'
    assert parse_config(text).config_hash() == parse_config(text).config_hash()
    assert parse_config(text).config_hash() != parse_config(text.replace('"d"', '"e"')).config_hash()


def test_credentials_prefer_systemd_credentials_directory_over_environment(tmp_path):
    (tmp_path / "mqtt-password").write_text("from-systemd\n")
    creds = Credentials({"CREDENTIALS_DIRECTORY": str(tmp_path), "CS_MQTT_PASSWORD": "from-env",
                         "CS_MQTT_USERNAME": "kiosk-1"})
    assert creds.get("mqtt-password") == "from-systemd"
    assert creds.get("mqtt-username") == "kiosk-1"
    assert creds.get("store-hmac-key") is None
    assert env_name("store-hmac-key") == "CS_STORE_HMAC_KEY"


def test_missing_or_malformed_key_credential_says_where_to_put_it():
    with pytest.raises(CredentialError, match=r"CREDENTIALS_DIRECTORY.*CS_STORE_HMAC_KEY"):
        Credentials({}).require_key("store-hmac-key")
    with pytest.raises(CredentialError, match="not hex"):
        Credentials({"CS_STORE_HMAC_KEY": "zz"}).require_key("store-hmac-key")
    with pytest.raises(CredentialError, match="32 bytes"):
        Credentials({"CS_STORE_HMAC_KEY": "00" * 16}).require_key("store-hmac-key", 32)
    assert Credentials({"CS_STORE_HMAC_KEY": "ab" * 32}).require_key("store-hmac-key", 32) == b"\xab" * 32


def test_every_config_field_is_described():
    from edge_agent import config as module

    for model in (module.AgentConfig, module.StoreConfig, module.DeviceConfig, module.MqttConfig,
                  module.TlsConfig, module.DatabaseConfig, module.OutboxConfig, module.InboxConfig,
                  module.HealthConfig, module.LoggingConfig, module.NfcConfig, module.PrivacyConfig,
                  module.SessionConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


