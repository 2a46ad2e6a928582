"""The agent's ``[analytics]`` section: how anonymous the hourly buckets must be, how long they are kept.

Defaults fit every kiosk: k = 5 (no published row counts fewer sessions), 90 days of buckets on the device, a
minute for the last events of an hour to be written before the hour is sent upstream.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AnalyticsConfig(BaseModel):
    """The hourly analytics (:mod:`edge_agent.analytics`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(5, ge=2, le=1000, description="No published row counts fewer sessions than this: a row below "
                                                 "it is merged into a coarser bucket (all dimensions, the day) or "
                                                 "withheld.")
    retention_days: float = Field(90.0, gt=0, description="Hourly buckets (and the record of what was sent) older "
                                                          "than this are deleted from the device.")
    flush_s: float = Field(10.0, gt=0, le=600, description="Seconds between writes of the buckets to the database "
                                                           "(what a power cut loses at most).")
    publish_delay_s: float = Field(60.0, ge=0, le=3600, description="An hour is sent this long after it ended (its "
                                                                    "last events written first).")
    visit_timeout_s: float = Field(900.0, ge=30, le=86400, description="A visit with no screen report for this "
                                                                       "long is counted as ended where it was.")
