"""Payloads of a device about itself: availability, birth, health, the broker probe, and the maintenance
commands every device answers (ping, get-config, set-log-level).

None of them carries personal data; they are what a store console or a
fleet monitor reads to know whether a kiosk or shelf is up and well.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from .payloads_content_delivery import ContentPacksHealth
from .types import Payload


class StatePayload(Payload):
    """Whether the agent is online, retained; the offline one is also its last will."""

    state: Literal["online", "offline"] = Field(description="Whether the agent is connected.")
    reason: Literal["connected", "shutdown", "last-will"] = Field(description="Why the state was published.")


class BirthPayload(Payload):
    """What the agent is, sent retained on every connect: versions, capabilities and configuration hash."""

    agent_version: str
    python_version: str
    paho_version: str
    sqlite_version: str
    device_kind: str
    capabilities: list[str] = Field(description="Features this agent offers, e.g. command:ping.")
    config_hash: str = Field(description="Short hash of the effective configuration.")
    started: AwareDatetime = Field(description="When the agent process started.")
    # Content delivery (edge_agent.content_delivery): one field, the same in health.
    content_packs: ContentPacksHealth | None = Field(
        None, description="The delivered content packs: active, staged, downloading; null without delivery.")


class HealthPayload(Payload):
    """The agent's periodic health: connection, outbox, rejected messages, storage, NFC reader and camera."""

    uptime_s: float = Field(ge=0)
    connected: bool
    outbox_depth: int = Field(ge=0, description="Events waiting for their PUBACK.")
    outbox_critical: int = Field(ge=0, description="Of which never-drop events.")
    outbox_oldest_age_s: float | None = Field(None, ge=0, description="Age of the oldest waiting event.")
    reconnects: int = Field(ge=0, description="Connections made since start, minus the first.")
    dropped_telemetry: int = Field(ge=0, description="Telemetry events dropped because the outbox was full.")
    rejected_messages: int = Field(ge=0, description="Pushed messages and requests rejected since start.")
    broker_rtt_ms: float | None = Field(None, ge=0, description="Last measured publish-to-receive time via the broker.")
    storage_free_bytes: int | None = Field(
        None, ge=0, description="Bytes free on the database's file system; null for an in-memory database.")
    storage_state: Literal["ok", "full", "busy", "io-error"] = Field(
        "ok", description="The database's storage: ok, or the fault the last write met (full: no space left; busy: "
                          "locked by another process; io-error: the disk failed), until a write succeeds again.")
    storage_error: str | None = Field(None, description="What the failing write said, e.g. 'storage full: database "
                                                        "or disk is full'; null when storage is ok.")
    held_messages: int = Field(0, ge=0, description="Pushes received but not applied (nor acknowledged) yet, "
                                                    "retried until the storage fault has passed.")
    reader_state: Literal["ok", "opening", "failed"] | None = Field(
        None, description="The NFC reader: ok, opening, or failed (retrying); null without a reader.")
    reader_error: str | None = Field(None, description="Why the reader failed last (never a card UID).")
    taps: int | None = Field(None, ge=0, description="Cards tapped since start; null without a reader.")
    camera_state: Literal["opening", "ok", "failed", "stopped"] | None = Field(
        None, description="The camera source; null without a camera.")
    camera_fps: float | None = Field(None, ge=0, description="Frames per second delivered by the camera.")
    camera_dropped_frames: int | None = Field(None, ge=0, description="Stale frames dropped since start.")
    camera_processing_ms: float | None = Field(None, ge=0, description="Mean processing time per frame.")
    camera_error: str | None = Field(None, description="Why the camera failed last (no credentials in it).")
    clock_trusted: bool = Field(True, description="Whether the wall clock is trusted to judge consents (NTP "
                                                  "synchronised, not before the earliest plausible time); while "
                                                  "false, customers get anonymous sessions (docs/operations.md).")
    pruned_rows: int = Field(0, ge=0, description="Rows past their retention deleted from the database since start.")
    # Content delivery (edge_agent.content_delivery): one field, the same in birth.
    content_packs: ContentPacksHealth | None = Field(
        None, description="The delivered content packs: active, staged, downloading; null without delivery.")


class ProbePayload(Payload):
    """The agent's own message through the broker, matched by its nonce to time the round trip."""

    nonce: str


# --------------------------------------------------------------------------- maintenance commands


class EmptyRequest(Payload):
    """A request that needs nothing but its envelope (ping, get-config)."""


class SetLogLevelRequest(Payload):
    """Which logger to set to which level, at run time."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    logger: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")] | None = Field(
        None, description="Logger name; the root logger when absent.")


class PingResult(Payload):
    """The answer to a ping: the agent is alive, and since how long."""

    pong: Literal[True] = True
    uptime_s: float


class GetConfigResult(Payload):
    """The agent's effective configuration (no secrets in it) and its hash."""

    config: dict[str, Any]
    config_hash: str


class SetLogLevelResult(Payload):
    """The logger whose level was set, and its level now."""

    logger: str
    level: str
