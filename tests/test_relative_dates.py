"""Relative dates (``today+180d``, ``now-1d``) in central's fixtures and in content pack schedules: the demo's
offers, consents, pick-up order and spring season never run out, whatever day it runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.central_push import FixtureError, load
from edge_agent.relative_dates import RelativeDateError, relative_date
from kiosk.content import ContentError, load_pack

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "central-fixtures.example.yaml"
KEY = bytes.fromhex("5a" * 32)
NOW = datetime(2031, 2, 27, 20, 30, 5, 123_000, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("today", "2031-02-27"), ("today+180d", "2031-08-26"), ("today-2w", "2031-02-13"), ("today+2d", "2031-03-01"),
    ("today+3dT18:00Z", "2031-03-02T18:00:00Z"), ("todayT07:05:09Z", "2031-02-27T07:05:09Z"),
    ("now", "2031-02-27T20:30:05Z"), ("now-90min", "2031-02-27T19:00:05Z"), ("now+2h", "2031-02-27T22:30:05Z"),
    ("now+330d", "2032-01-23T20:30:05Z"), ("now-30s", "2031-02-27T20:29:35Z"),
    ("nowhere", None), ("Today", None), ("2031-02-27", None), ("now, then", None), ("", None),
])
def test_relative_dates_resolve_at_the_given_moment(text, expected):
    assert relative_date(text, NOW) == expected


@pytest.mark.parametrize("text", ["today+5x", "now+", "today+1", "now-2m", "todayT25:00Z", "today+3d18:00",
                                  "now+9999999w"])
def test_a_value_that_starts_like_a_relative_date_but_is_not_one_is_refused_saying_how(text):
    with pytest.raises(RelativeDateError, match=r"today\+180d|time of day|range"):
        relative_date(text, NOW)


def test_example_fixtures_run_out_on_no_day_offers_consents_and_order_relative_to_the_push():
    for now in (datetime(2026, 12, 5, tzinfo=UTC), datetime(2027, 6, 2, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC)):
        fixtures = load(EXAMPLE, hmac_key=KEY, now=now)
        offers = fixtures.records["offers"]
        assert all(o.valid_until is not None and _day(o.valid_until) >= now.date() + timedelta(days=180)
                   for o in offers), "every offer valid half a year from the push"
        assert all(_day(o.valid_from) <= now.date() for o in offers)
        sanne, piet, joke = fixtures.records["customers"]
        assert all(c.until > now + timedelta(days=300) for c in (*sanne.consents, *piet.consents))
        assert all(c.until < now for c in joke.consents), "Joke's consent stays expired"
        [order] = fixtures.records["orders"]
        assert now < order.deadline < now + timedelta(days=4) and order.ready_since < now
        assert all(p.at < now for p in fixtures.records["purchase_history"])


def _day(value) -> date:
    return value if not isinstance(value, datetime) else value.date()


def test_example_files_hold_no_fixed_date_of_the_coming_years():
    for path in (EXAMPLE, ROOT / "content" / "tuincentrum" / "content.yaml"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for year in range(2026, 2040):
                assert f"{year}-" not in line.split("#")[0] or f"R-{year}-" in line, f"{path.name}:{number}: {line}"


def test_a_bad_relative_date_in_fixtures_names_file_line_and_field(tmp_path):
    path = tmp_path / "offers.yaml"
    path.write_text("offers:\n  - {offer: o-1, version: 1, kind: percentage-off, title: {nl: x},\n"
                    "     targeting: {everyone: true}, valid_from: today, valid_until: today+5x, percent: 10}\n")
    with pytest.raises(FixtureError) as caught:
        load(path, now=NOW)
    [problem] = caught.value.problems
    assert str(problem).startswith(f"{path}:3: offers.0.valid_until: 'today+5x' is not a relative date")


def test_a_pack_season_relative_to_the_day_it_is_loaded(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "content.yaml").write_text(
        'pack: test\nversion: "1"\nattract:\n'
        '  - image: a.png\n    id: a\n    when: {from: today-1d, until: today+2d}\n')
    try:
        pack = load_pack(tmp_path, UTC)
    except ContentError as exc:  # the picture is not a real PNG: only the schedule matters here
        pytest.fail(str(exc))
    today = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
    assert len(pack.attract(today)) == 1
    assert pack.attract(today + timedelta(days=3)) == [] and pack.attract(today - timedelta(days=2)) == []


def test_a_bad_relative_date_in_a_pack_names_file_line_and_key(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "content.yaml").write_text(
        'pack: test\nversion: "1"\nattract:\n'
        '  - image: a.png\n    id: a\n    when: {from: today-1d, until: today+2x}\n')
    with pytest.raises(ContentError, match=r"content.yaml:6: attract\.0\.when\.until: .*'today\+2x'"):
        load_pack(tmp_path, UTC)
