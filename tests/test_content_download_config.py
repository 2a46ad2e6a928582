"""The ``[content.download]`` settings and the download window they name."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from pydantic import ValidationError

from edge_agent.content_delivery import DownloadConfig, DownloadPolicy, DownloadWindow


def test_defaults_make_the_default_policy():
    assert DownloadConfig().policy() == DownloadPolicy()


def test_units_in_the_names_become_bytes():
    policy = DownloadConfig(window="22:00-06:00", bandwidth_mbit_s=8, quota_mb=4000, reserve_mb=10).policy()
    assert policy.window == DownloadWindow(time(22), time(6))
    assert policy.bandwidth_bytes_per_s == 1_000_000 and policy.quota_bytes == 4_000_000_000
    assert policy.reserve_bytes == 10_000_000


@pytest.mark.parametrize(("settings", "message"), [
    ({"window": "22:00"}, "is not HH:MM-HH:MM"),
    ({"window": "24:00-06:00"}, "download window start '24:00' is not HH:MM"),
    ({"window": "22:00-6"}, "download window end '6' is not HH:MM"),
    ({"max_parallel": 3}, "less than or equal to 2"),
    ({"backoff_min_s": 10, "backoff_max_s": 5}, "backoff_max_s 5.0 is below backoff_min_s 10.0"),
    ({"bandwidth": 5}, "Extra inputs are not permitted"),
    ({"quota_mb": 0}, "greater than 0"),
])
def test_bad_settings_are_refused_naming_the_field(settings, message):
    with pytest.raises(ValidationError, match=message):
        DownloadConfig(**settings)


@pytest.mark.parametrize(("window", "inside", "outside"), [
    ("09:00-17:00", ["09:00", "16:59"], ["08:59", "17:00", "23:00"]),
    ("22:00-06:00", ["22:00", "23:59", "00:00", "05:59"], ["06:00", "12:00", "21:59"]),
    ("00:00-00:00", ["00:00", "12:00", "23:59"], []),
])
def test_window_contains_its_hours_and_crosses_midnight(window, inside, outside):
    parsed = DownloadWindow.parse(window)
    at = [datetime.fromisoformat(f"2026-12-02T{hhmm}") for hhmm in (*inside, *outside)]
    assert [parsed.contains(moment) for moment in at] == [True] * len(inside) + [False] * len(outside)


def test_window_opens_in_the_seconds_until_its_next_start():
    window = DownloadWindow.parse("22:00-06:00")
    assert window.opens_in(datetime.fromisoformat("2026-12-02T21:59:30")) == 30
    assert window.opens_in(datetime.fromisoformat("2026-12-02T06:00:00")) == 16 * 3600
    assert window.opens_in(datetime.fromisoformat("2026-12-02T23:00:00")) == 0
