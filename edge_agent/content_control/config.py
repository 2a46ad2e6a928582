"""The agent's ``[content]`` section: where the pack in use is, so the agent can keep the store's changes to it.

The agent and the kiosk run on the same device and see the same pack folder
(the kiosk's ``[content] folder``); the agent reads the pack's manifest with
the kiosk's own reader (:func:`kiosk.content.load_pack`), so both agree on
the pack's items and ids. Without the section the agent keeps no content
changes and answers content requests with an error.

With ``public_keys`` the agent also takes packs central publishes
(:mod:`edge_agent.content_delivery`): it keeps them under ``packs_dir`` and
points ``packs_dir/current`` at the active one, so ``folder`` is then that
link (the kiosk's folder too). Without them, ``folder`` is a pack someone
copies onto the device, as before.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..content_delivery.config import DownloadConfig


class ContentConfig(BaseModel):
    """Where the content pack in use is, and how often to look for a new one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    folder: Path = Field(description="The content pack folder the kiosk shows (its [content] folder).")
    check_s: float = Field(10.0, ge=0.5, le=3600, description="How often the folder is checked for a new pack.")

    # Content delivery from central (edge_agent.content_delivery): one block.
    public_keys: dict[str, str] = Field(
        default_factory=dict, description="Content key id -> central's Ed25519 public key, 64 hex digits; several "
                                          "for rotation. Empty: no packs are taken from central.")
    packs_dir: Path | None = Field(None, description="Where delivered packs, their files by sha256 and the "
                                                     "`current` link live; needed with public_keys.")
    approval: bool = Field(False, description="A delivered pack becomes active only once a manager approves it "
                                              "in staff mode (and not before its activate_at).")
    orientation: Literal["landscape", "portrait"] | None = Field(
        None, description="This device's screen, for a pack's targets; none: packs for either are taken.")
    download: DownloadConfig = Field(default_factory=DownloadConfig, description="How packs are downloaded.")

    @field_validator("public_keys")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        from ..camera.app_qr import public_key_from_hex

        for key_id, key in value.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ValueError(f"key id {key_id!r}: a-z, 0-9 and '-', at most 63 characters")
            try:
                public_key_from_hex(key)
            except ValueError as exc:
                raise ValueError(f"key {key_id!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _delivery(self) -> ContentConfig:
        if self.public_keys:
            if self.packs_dir is None:
                raise ValueError("public_keys needs packs_dir: where delivered packs are kept")
            if self.folder != self.packs_dir / "current":
                raise ValueError(f"with public_keys, folder must be packs_dir/current ({self.packs_dir / 'current'}),"
                                 " the link to the active pack the kiosk shows")
        return self


_KEY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # the contract's Identifier, a manifest's key_id
