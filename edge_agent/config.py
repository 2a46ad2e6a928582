"""Typed configuration of the edge agent, loaded from TOML.

Every section is a pydantic model that refuses keys it does not know, so a
typo is an error with its key path instead of a silently ignored setting.
Secrets never live here: see :mod:`edge_agent.credentials`. A configuration
file that others may change (writable by group or others, or in a folder they
may write to) is still used, as ssh does with its own configuration files
outside strict mode, but with a warning naming the file, its mode and the
``chmod`` that fixes it: whoever can edit it can point the agent at another
broker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import stat
import tomllib
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .analytics.config import AnalyticsConfig
from .camera.config import CameraConfig
from .clock import EARLIEST_PLAUSIBLE, TIMESYNCD_MARKER
from .content_control.config import ContentConfig
from .errors import ConfigError
from .identity import DEFAULT_POLICY, Assurance, Category
from .loyalty import Rules, Tier
from .mqtt_tls import TlsConfig
from .problems import Problem, toml_error_line, toml_locator, validation_problems

logger = logging.getLogger(__name__)

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Section):
    id: str = Field(description="Store id, part of every topic (lowercase letters, digits, dashes).",
                    pattern=ID_PATTERN)
    timezone: str = Field("Europe/Amsterdam", description="IANA time zone of the store (offer validity, schedules).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class DeviceConfig(_Section):
    id: str = Field(description="Device id within the store, part of every topic.", pattern=ID_PATTERN)
    kind: Literal["kiosk", "shelf", "gateway"] = Field("kiosk", description="What this device is.")


class MqttConfig(_Section):
    host: str = Field(description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    keepalive_s: int = Field(30, ge=5, le=3600,
                             description="MQTT keepalive in seconds; the last will fires after 1.5x this.")
    client_id: str | None = Field(None, description="MQTT client id without a broker login (with one, the "
                                                    "login is the client id); defaults to cs-<store>-<device>.")
    tls: TlsConfig | None = Field(None, description="Connect with TLS when present.")
    reconnect_min_s: float = Field(0.5, gt=0, description="First reconnect delay; doubles per failure, with jitter.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest reconnect delay.")
    connect_timeout_s: float = Field(10.0, gt=0, description="TCP/TLS connect timeout.")

    @model_validator(mode="after")
    def _backoff_order(self) -> MqttConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self


class DatabaseConfig(_Section):
    path: Path = Field(Path("/var/lib/connected-store/agent.db"), description="SQLite database of the agent.")


class OutboxConfig(_Section):
    max_rows: int = Field(200_000, ge=100,
                          description="Bound of the outbox; telemetry beyond it is dropped oldest-first.")
    window: int = Field(500, ge=1, le=20_000,
                        description="Events handed to the broker connection before their PUBACKs arrive.")


class InboxConfig(_Section):
    dedupe_days: float = Field(7.0, gt=0, description="How long ids of applied pushed messages are remembered.")


class HealthConfig(_Section):
    interval_s: float = Field(30.0, ge=0.2, description="Seconds between health messages.")


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Root log level at start.")


class NfcConfig(_Section):
    device: str = Field(description="nfcpy device path: usb, usb:072f:2200 (ACR122U), tty:AMA0:pn532, "
                                    "udp:host:port (nfcpy's simulated reader).",
                        pattern=r"^(usb|tty|udp)(:[^\s]*)?$")
    poll_interval_s: float = Field(0.02, gt=0, le=1.0,
                                   description="Gap between polls for a card (nfcpy's connect() waits 0.5 s).")
    sun_system_identifier: str = Field("ConnectedStore", min_length=1, max_length=21,
                                       description="System identifier in the per-card SUN key derivation (AN10922).")


class PrivacyConfig(_Section):
    show_at_uid: list[Category] = Field(sorted(DEFAULT_POLICY[Assurance.UID]),
                                        description="Data categories a screen may show after a UID-only card.")
    show_at_sun: list[Category] = Field(sorted(DEFAULT_POLICY[Assurance.SUN]),
                                        description="Data categories a screen may show after a verified SUN card.")
    show_at_app: list[Category] = Field(sorted(DEFAULT_POLICY[Assurance.APP]),
                                        description="Data categories a screen may show after an app QR code.")
    key_rotation_until: AwareDatetime | None = Field(
        None, description="End of a store key rotation: until then a card is also looked up by its token under "
                          "the previous key (credential store-hmac-key-previous) and re-linked to its new token; "
                          "from then on the previous key is not used. Absent: no rotation.")

    def policy(self) -> dict[Assurance, frozenset[Category]]:
        return {Assurance.UID: frozenset(self.show_at_uid), Assurance.SUN: frozenset(self.show_at_sun),
                Assurance.APP: frozenset(self.show_at_app)}


class SessionConfig(_Section):
    end_on_card_removal: bool = Field(False, description="End the session when the card leaves the reader.")
    # The kiosk ends its own session 45 s after the last touch (its [session] idle_timeout_s); the
    # agent's limits hold whatever the kiosk does, a little later so that a working kiosk ends first.
    idle_s: float = Field(60.0, ge=1, le=3600,
                          description="The agent ends a session no request has named for this long.")
    max_s: float = Field(600.0, ge=1, le=86400, description="The agent ends a session this long after it began.")

    @model_validator(mode="after")
    def _idle_within_max(self) -> SessionConfig:
        if self.idle_s > self.max_s:
            raise ValueError("idle_s must not exceed max_s")
        return self


class StaffConfig(_Section):
    """Store staff at the kiosk (edge_agent.staff): staff mode's own limits, and what the manager role needs."""

    idle_s: float = Field(60.0, ge=5, le=3600,
                          description="Staff mode ends this long after the last touch (the kiosk shows the countdown).")
    max_s: float = Field(1800.0, ge=60, le=86400, description="Staff mode ends this long after the PIN, whatever.")
    manager_requires_sun: bool = Field(
        False, description="The manager role needs a SUN-verified badge (NTAG 424 DNA); a UID-only badge, which "
                           "can be cloned, then gets the staff role only.")

    @model_validator(mode="after")
    def _limits(self) -> StaffConfig:
        if self.idle_s > self.max_s:
            raise ValueError("idle_s must not exceed max_s")
        return self


class TierName(_Section):
    nl: str | None = Field(None, min_length=1, description="Name in Dutch.")
    en: str | None = Field(None, min_length=1, description="Name in English.")
    fr: str | None = Field(None, min_length=1, description="Name in French.")


class TierConfig(_Section):
    id: str = Field(description="Tier id as central names it in customer profiles.", pattern=ID_PATTERN)
    threshold: int = Field(ge=0, description="Points from which the tier is reached; the first tier starts at 0.")
    name: TierName = Field(default_factory=TierName, description="What the kiosk calls it; the id when empty.")


def _default_tiers() -> list[TierConfig]:
    # 10 points per euro: zilver from EUR 200 and goud from EUR 500 of spend,
    # a garden centre's regular and best customers over a season.
    return [TierConfig(id="brons", threshold=0, name=TierName(nl="Brons", en="Bronze", fr="Bronze")),
            TierConfig(id="zilver", threshold=2000, name=TierName(nl="Zilver", en="Silver", fr="Argent")),
            TierConfig(id="goud", threshold=5000, name=TierName(nl="Goud", en="Gold", fr="Or"))]


class LoyaltyConfig(_Section):
    points_per_euro: float = Field(10.0, gt=0, description="Points a customer earns per euro spent.")
    tiers: list[TierConfig] = Field(default_factory=_default_tiers, min_length=1,
                                    description="Tiers from the lowest; thresholds rise strictly from 0.")

    @model_validator(mode="after")
    def _valid_rules(self) -> LoyaltyConfig:
        self.rules()
        return self

    def rules(self) -> Rules:
        """The loyalty rules for :func:`edge_agent.loyalty.progress`.

        :raises ValueError: when the tiers do not start at 0, do not rise strictly or repeat an id.
        """
        return Rules(self.points_per_euro, tuple(
            Tier(tier.id, tier.threshold, {language: text for language, text in tier.name.model_dump().items()
                                           if text})
            for tier in self.tiers))


class ClockConfig(_Section):
    """How the agent knows its wall clock is right before it judges a consent's end (:mod:`edge_agent.clock`)."""

    trust: Literal["synchronized", "plausible"] = Field(
        "synchronized", description="'synchronized': consents are judged only once the system reports the clock "
                                    "synchronised (kernel NTP status or systemd-timesyncd's marker); until then "
                                    "customers get anonymous sessions. 'plausible': any time after 'earliest' "
                                    "(a battery-backed real-time clock; test machines).")
    synchronized_file: Path = Field(TIMESYNCD_MARKER, description="A file whose presence means synchronised "
                                                                  "(systemd-timesyncd's marker).")
    kernel_status: bool = Field(True, description="Also trust the kernel's NTP status (adjtimex; timedatectl's "
                                                  "'System clock synchronized').")
    earliest: AwareDatetime = Field(EARLIEST_PLAUSIBLE,
                                    description="A time before this is never trusted (1970, the image's build date).")
    offset_s: float = Field(0.0, description="Seconds added to the system clock (negative: behind). For tests and "
                                             "drills only: a clock months off without faketime.")


class RetentionConfig(_Section):
    """How long the agent keeps what grows with time (:mod:`edge_agent.retention`); docs/operations.md."""

    interval_s: float = Field(3600.0, ge=1, description="Seconds between prunings (the first one a minute after "
                                                        "start).")
    data_use_days: float = Field(90.0, gt=0, description="Entries of customers' data-use logs older than this "
                                                         "are deleted.")
    erasure_ids_days: float = Field(30.0, gt=0, description="Ids of applied erasure requests are remembered this "
                                                            "long (a repeat after it erases again, acknowledging "
                                                            "only what it found then).")
    final_orders_days: float = Field(30.0, gt=0, description="Collected, cancelled or expired orders are deleted "
                                                             "this long after their last update (the kiosk shows "
                                                             "them for 14 days).")
    tombstone_days: float = Field(90.0, gt=0, description="Records central removed (products, prices, offers, "
                                                          "card links, purchase lines, staff with active = false) and "
                                                          "activations of offers no longer active are deleted "
                                                          "this long after their last update.")
    purchase_days: float = Field(365.0, gt=0, description="Purchase lines bought longer ago than this are deleted.")
    staff_calls_days: float = Field(7.0, gt=0, description="Staff-assist calls made at this device, handled or "
                                                           "not, are deleted this long after the call.")
    checkpoint_idle_s: float = Field(60.0, gt=0, description="A WAL checkpoint that truncates the -wal file runs "
                                                             "once the database has had no write for this long.")


class AgentConfig(_Section):
    store: StoreConfig = Field(description="Which store this is.")
    device: DeviceConfig = Field(description="Which device this is.")
    mqtt: MqttConfig | None = Field(None, description="The store broker; the demo starts an embedded one when absent.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="Local state.")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Durable upstream queue.")
    inbox: InboxConfig = Field(default_factory=InboxConfig, description="Pushed data from central.")
    health: HealthConfig = Field(default_factory=HealthConfig, description="Periodic health messages.")
    nfc: NfcConfig | None = Field(None, description="The card reader; no reader when absent.")
    camera: CameraConfig | None = Field(None, description="The camera; no camera when absent.")
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig, description="What may be shown at which assurance.")
    sessions: SessionConfig = Field(default_factory=SessionConfig, description="Kiosk sessions.")
    staff: StaffConfig = Field(default_factory=StaffConfig, description="Store staff at the kiosk: badge and PIN.")
    loyalty: LoyaltyConfig = Field(default_factory=LoyaltyConfig,
                                   description="Points per euro and tiers, for progress to the next tier.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")
    clock: ClockConfig = Field(default_factory=ClockConfig, description="When the wall clock is trusted.")
    retention: RetentionConfig = Field(default_factory=RetentionConfig,
                                       description="What the database keeps and for how long.")
    content: ContentConfig | None = Field(None, description="The content pack in use, for the store's changes to "
                                                            "it; none when absent.")
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig,
                                       description="The anonymous hourly analytics: k and retention.")

    @property
    def client_id(self) -> str:
        if self.mqtt is not None and self.mqtt.client_id:
            return self.mqtt.client_id
        return f"cs-{self.store.id}-{self.device.id}"

    def public_dict(self) -> dict:
        """The configuration as JSON-ready data (it never holds secrets)."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        """A short stable hash of the effective configuration, for the birth message."""
        canonical = json.dumps(self.public_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def with_mqtt(self, host: str, port: int) -> AgentConfig:
        """A copy pointing at another broker (the demo's embedded one)."""
        mqtt = (self.mqtt or MqttConfig(host=host)).model_copy(update={"host": host, "port": port})
        return self.model_copy(update={"mqtt": mqtt})


_Model = TypeVar("_Model", bound=BaseModel)


def parse_toml_model(model: type[_Model], text: str, source: str = "<config>") -> _Model:
    """Parse TOML text into ``model`` (the agent's or the store console's configuration).

    :raises ConfigError: with one problem per mistake, each with its line and key path.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [Problem(source, toml_error_line(exc), None, f"not valid TOML: {exc}")]) from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, file=source, locate=toml_locator(text))) from None


def parse_config(text: str, source: str = "<config>") -> AgentConfig:
    """Parse TOML text into an :class:`AgentConfig`.

    :raises ConfigError: with one problem per mistake, each with its line and key path.
    """
    return parse_toml_model(AgentConfig, text, source)


def load_config(path: str | Path) -> AgentConfig:
    """Load and validate a TOML configuration file.

    :raises ConfigError: when the file cannot be read or is invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [Problem(path, None, None, f"cannot read: {exc.strerror}")]) from None
    for warning in permission_warnings(path):
        logger.warning("%s", warning)
    return parse_config(text, str(path))


def permission_warnings(path: Path, controls: str = "the agent") -> list[str]:
    """What makes the file ``path`` changeable by others than its owner: writable by group or others, or in a
    folder others may write to (without the sticky bit); one sentence each, with the fix.

    :param controls: what the file configures, for the sentence ("the kiosk" for the kiosk's file).
    """
    warnings: list[str] = []
    try:
        mode, folder_mode = path.stat().st_mode, path.resolve().parent.stat().st_mode
    except OSError:
        return warnings
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        warnings.append(f"{path}: writable by {'others' if mode & stat.S_IWOTH else 'its group'} "
                        f"(mode {stat.S_IMODE(mode):04o}): whoever can change it controls {controls}; "
                        f"chmod go-w {path}")
    if folder_mode & stat.S_IWOTH and not folder_mode & stat.S_ISVTX:
        folder = path.resolve().parent
        warnings.append(f"{path}: its folder {folder} is writable by others (mode {stat.S_IMODE(folder_mode):04o}): "
                        f"anyone may replace the file; chmod o-w {folder}")
    return warnings


def apply_logging(config: AgentConfig) -> None:
    logging.getLogger().setLevel(config.logging.level)
