"""The agent's ``[content]`` section: where the pack in use is, so the agent can keep the store's changes to it.

The agent and the kiosk run on the same device and see the same pack folder
(the kiosk's ``[content] folder``); the agent reads the pack's manifest with
the kiosk's own reader (:func:`kiosk.content.load_pack`), so both agree on
the pack's items and ids. Without the section the agent keeps no content
changes and answers content requests with an error.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ContentConfig(BaseModel):
    """Where the content pack in use is, and how often to look for a new one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    folder: Path = Field(description="The content pack folder the kiosk shows (its [content] folder).")
    check_s: float = Field(10.0, ge=0.5, le=3600, description="How often the folder is checked for a new pack.")
