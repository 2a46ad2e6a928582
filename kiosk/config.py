"""Typed configuration of the kiosk, loaded from TOML (``config/kiosk.example.toml`` documents it).

Every section refuses keys it does not know, so a typo is an error with its
key path and line (:mod:`edge_agent.problems`). Command-line options override the file (see
:mod:`kiosk.cli`).
The broker login, when the broker wants one, is a secret: it is read from
``$CREDENTIALS_DIRECTORY/kiosk-mqtt-username`` / ``kiosk-mqtt-password`` or
``CS_KIOSK_MQTT_USERNAME`` / ``CS_KIOSK_MQTT_PASSWORD``, never from the file.
A broker on another Pi (one store broker per store) is reached over TLS: ``[mqtt.tls]``, the agent's table
(:class:`edge_agent.mqtt_tls.TlsConfig`), with the store CA as ``ca_file``; :func:`check_tls_files` names a
file of it that cannot be used, before the kiosk starts.
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge_agent.config import permission_warnings
from edge_agent.contract import Language
from edge_agent.mqtt_tls import TlsConfig, tls_file_problems
from edge_agent.problems import (
    InvalidInput,
    Problem,
    toml_error_line,
    toml_line,
    toml_locator,
    validation_problems,
)

logger = logging.getLogger(__name__)

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
#: Where a setting given on the command line comes from, in a problem's place of a file name.
OPTIONS = "options"


class ConfigError(InvalidInput):
    """A configuration that cannot be used; ``problems`` names the file, line and key path of each mistake."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSection(_Section):
    id: str = Field(description="Store id, as in the agent's configuration.", pattern=ID_PATTERN)
    name: str = Field("", max_length=60, description="Shown on the screen, e.g. 'Tuincentrum De Linde'.")
    timezone: str = Field("Europe/Amsterdam", description="Dates and times on screen are in this zone.")


class DeviceSection(_Section):
    id: str = Field(description="The agent's device id this kiosk shows.", pattern=ID_PATTERN)


class MqttSection(_Section):
    host: str = Field("127.0.0.1", description="Store broker host.")
    port: int = Field(1883, ge=1, le=65535)
    keepalive_s: int = Field(15, ge=5, le=3600)
    client_id: str | None = Field(None, description="MQTT client id without a broker login (with one, the "
                                                    "login is the client id); cs-kiosk-<store>-<device> by default.")
    request_timeout_s: float = Field(5.0, gt=0, le=60, description="A request unanswered this long has failed.")
    tls: TlsConfig | None = Field(None, description="Connect with TLS when present (the store broker's LAN "
                                                    "listener; ca_file: the store CA, broker-ca.pem).")


class SessionSection(_Section):
    idle_timeout_s: float = Field(45.0, gt=0, le=3600, description="A session ends this long after the last touch.")
    countdown_s: float = Field(10.0, ge=0, description="The countdown shows for the last this many seconds.")
    notice_s: float = Field(8.0, ge=0, le=120, description="How long 'Tot ziens' and similar notices stay.")

    @model_validator(mode="after")
    def _countdown_within_timeout(self) -> SessionSection:
        if self.countdown_s > self.idle_timeout_s:
            raise ValueError("countdown_s must not exceed idle_timeout_s")
        return self


class DisplaySection(_Section):
    fullscreen: bool = Field(False, description="Fill the screen (production); a window otherwise.")
    width: int = Field(800, ge=320, le=7680, description="Window width when not fullscreen.")
    height: int = Field(480, ge=240, le=4320, description="Window height when not fullscreen.")
    language: Language = Field("nl", description="Language when nobody is recognised.")
    high_contrast: bool = Field(False, description="Start in the high-contrast theme.")
    # The typing spec allows no floats in a Literal; pydantic checks them and names the three choices.
    text_scale: Literal[1.0, 1.25, 1.5] = Field(1.0, description="Start text size.")  # type: ignore[valid-type]
    transition: Literal["slide", "fade", "none"] = Field("fade", description="Animation between screens.")
    show_cursor: bool = Field(True, description="Show the mouse cursor (off on a touchscreen).")
    multisamples: Literal[0, 2, 4] = Field(
        0, description="OpenGL anti-aliasing samples. The screens are upright rectangles and text (text is "
                       "smoothed in its own texture), so 0 looks the same; 2 makes every frame ~3x dearer under "
                       "software GL.")
    demo: bool = Field(False, description="Show the demo's buttons (and keys 1-5) that tap the demo cards and hold "
                                          "up the demo product; only for `edge-agent demo`.")


class ContentSection(_Section):
    folder: Path | None = Field(None, description="Content pack folder (content.yaml + media, see kiosk.content); "
                                                 "built-in texts without one.")
    last_good: Path | None = Field(None, description="Every good pack is copied here; used at start when the "
                                                    "folder's pack is broken or missing.")
    check_s: float = Field(10.0, ge=1, le=3600, description="How often the kiosk checks the folder for a new pack.")

    @model_validator(mode="after")
    def _last_good_apart(self) -> ContentSection:
        if self.folder is not None and self.last_good is not None and (
                self.last_good.resolve() == self.folder.resolve()
                or self.last_good.resolve().is_relative_to(self.folder.resolve())):
            raise ValueError("last_good must be a folder outside the content folder")
        return self


class KioskConfig(_Section):
    store: StoreSection
    device: DeviceSection
    mqtt: MqttSection = Field(default_factory=MqttSection)
    session: SessionSection = Field(default_factory=SessionSection)
    display: DisplaySection = Field(default_factory=DisplaySection)
    content: ContentSection = Field(default_factory=ContentSection)


def parse_config(document: dict[str, Any], source: str = "<config>", text: str | None = None,
                 options: Collection[str] = ()) -> KioskConfig:
    """Validate a configuration document.

    :param source: the file it was read from (or :data:`OPTIONS`).
    :param text: the file's TOML text, for the line of each mistake.
    :param options: key paths (``store.id``) whose value the command line gave: their mistakes name the options.
    :raises ConfigError: naming the file, line and key path of each mistake.
    """
    try:
        return KioskConfig.model_validate(document)
    except ValidationError as exc:
        problems = validation_problems(exc, file=source, locate=toml_locator(text) if text is not None else None)
        raise ConfigError([dataclasses.replace(problem, file=OPTIONS, line=None)
                           if problem.key in options else problem for problem in problems], source) from None


def check_tls_files(config: KioskConfig, source: str = "<config>", text: str | None = None) -> None:
    """Check that the files ``[mqtt.tls]`` names can be read and hold a certificate (or key).

    :param source: the file the configuration was read from.
    :param text: its TOML text, for the line of each file's key.
    :raises ConfigError: naming the file, line and key path (``mqtt.tls.ca_file``) of each unusable file.
    """
    problems = [Problem(source, toml_line(text, ("mqtt", "tls", key)) if text is not None else None,
                        f"mqtt.tls.{key}", message)
                for key, message in tls_file_problems(config.mqtt.tls)]
    if problems:
        raise ConfigError(problems, source)


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """The TOML document at ``path`` and its text; a warning is logged when others than its owner may change
    the file (as the agent does for its own: :func:`edge_agent.config.permission_warnings`).

    :raises ConfigError: when it cannot be read or parsed (with the line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError([Problem(path, None, None, f"cannot read: {reason}")], path) from None
    for warning in permission_warnings(path, controls="the kiosk"):
        logger.warning("%s", warning)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem(path, toml_error_line(exc), None, f"not valid TOML: {exc}")], path) from None


def merge(document: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``document`` with the non-None values of ``overrides`` (section -> key -> value) put in."""
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in document.items()}
    for section, values in overrides.items():
        for key, value in values.items():
            if value is not None:
                merged.setdefault(section, {})[key] = value
    return merged
