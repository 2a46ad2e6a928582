"""The store console's configuration (``config/console.example.toml``), a typed model that refuses unknown keys.

Secrets are not in it: the broker login's user name and password come from the systemd credentials (or the
environment) like the agent's (:mod:`edge_agent.credentials`: ``mqtt-username``, ``mqtt-password``); the
HTTPS key is a file named here, made by ``edge-agent broker provision`` (``credentials/console/``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config import ID_PATTERN, MqttConfig, parse_toml_model
from ..errors import ConfigError
from ..problems import Problem


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSection(_Section):
    id: str = Field(pattern=ID_PATTERN, description="The store this console shows.")
    timezone: str = Field("Europe/Amsterdam", description="The store's time zone (times shown, previews).")


class HttpsSection(_Section):
    listen: list[str] = Field(["0.0.0.0:8443"], min_length=1,
                              description="host:port addresses to serve HTTPS on (the store LAN's address).")
    cert_file: Path = Field(description="The console's certificate (PEM, store CA; credentials/console/).")
    key_file: Path = Field(description="Its private key (PEM).")

    @field_validator("listen")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is not host:port")
        return value


class SessionSection(_Section):
    idle_s: float = Field(1800.0, gt=0, le=86400, description="A login ends this long after its last request.")
    language: str = Field("nl", pattern=r"^(nl|en|fr)$", description="Language before one is chosen.")


class DatabaseSection(_Section):
    path: Path = Field(Path("/var/lib/connected-store/console.db"),
                       description="The console's own SQLite: devices, staff records, lockouts, audit queue.")


class ConsoleConfig(_Section):
    """The whole file."""

    store: StoreSection
    mqtt: MqttConfig
    https: HttpsSection
    session: SessionSection = SessionSection()
    database: DatabaseSection = DatabaseSection()


def parse_console_config(text: str, source: str = "<config>") -> ConsoleConfig:
    """Parse TOML text into a :class:`ConsoleConfig`.

    :raises ConfigError: with one problem per mistake, each with its line and key path.
    """
    return parse_toml_model(ConsoleConfig, text, source)


def load_console_config(path: str | Path) -> ConsoleConfig:
    """Load and validate the console's TOML file.

    :raises ConfigError: when the file cannot be read or is invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [Problem(path, None, None, f"cannot read: {exc.strerror}")]) from None
    return parse_console_config(text, str(path))
