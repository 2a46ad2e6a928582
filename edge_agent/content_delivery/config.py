"""The ``[content.download]`` settings: how the agent fetches packs from central over the shop's line.

Hung under the agent's ``[content]`` section; every field has a default, so
the section may be left out. Units are in the names (megabits per second,
megabytes) because these are the figures a shop's IT person knows; the
:class:`~.download.DownloadPolicy` made from them counts bytes.

    [content.download]
    window = "22:00-06:00"     # store time; leave out for any hour
    bandwidth_mbit_s = 8       # leave out for no cap
    quota_mb = 4000            # leave out for no quota (the disk still has to hold it)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .download import DownloadPolicy
from .window import DownloadWindow


class DownloadConfig(BaseModel):
    """How content packs are downloaded: parallelism, retries, window, bandwidth cap, disk quota."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_parallel: int = Field(2, ge=1, le=2, description="Files fetched at once (at most two).")
    retries: int = Field(8, ge=0, le=1000, description="Tries after the first before a file fails; a try that "
                         "received bytes starts the count again.")
    backoff_min_s: float = Field(1.0, gt=0, le=3600, description="Delay before the first retry (jittered, "
                                 "doubling each try).")
    backoff_max_s: float = Field(300.0, gt=0, le=86400, description="The longest delay between two tries.")
    window: str | None = Field(None, description="Daily hours downloads may run, \"HH:MM-HH:MM\" in store time "
                               "(an end before the start crosses midnight); none for any hour.")
    bandwidth_mbit_s: float | None = Field(None, gt=0, le=100_000, description="Bandwidth cap over all files, "
                                           "in megabits per second; none for no cap.")
    quota_mb: float | None = Field(None, gt=0, description="The most the pack file store may hold, in MB "
                                   "(10^6 bytes); a pack that does not fit is refused with the sizes.")
    reserve_mb: float = Field(50.0, ge=0, description="Disk space a download always leaves free, in MB.")
    connect_timeout_s: float = Field(10.0, gt=0, le=600, description="How long a connection may take.")
    read_timeout_s: float = Field(30.0, gt=0, le=3600, description="How long the server may send nothing "
                                  "before the try counts as failed.")
    ca_file: Path | None = Field(None, description="CA certificate(s), PEM, that central's HTTPS content server "
                                 "must chain to; none: the public CAs of httpx's bundle (certifi).")

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            DownloadWindow.parse(value)
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"ca_file {value} is not a file")
        return value

    @model_validator(mode="after")
    def _backoff(self) -> DownloadConfig:
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError(f"backoff_max_s {self.backoff_max_s} is below backoff_min_s {self.backoff_min_s}")
        return self

    def policy(self) -> DownloadPolicy:
        """The :class:`DownloadPolicy` these settings describe."""
        return DownloadPolicy(
            max_parallel=self.max_parallel, retries=self.retries, backoff_min_s=self.backoff_min_s,
            backoff_max_s=self.backoff_max_s,
            window=DownloadWindow.parse(self.window) if self.window is not None else None,
            bandwidth_bytes_per_s=round(self.bandwidth_mbit_s * 125_000) if self.bandwidth_mbit_s else None,
            quota_bytes=round(self.quota_mb * 1_000_000) if self.quota_mb is not None else None,
            reserve_bytes=round(self.reserve_mb * 1_000_000), connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s, ca_file=self.ca_file)
