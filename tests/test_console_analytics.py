"""The console's analytics without a browser: the agent's own hourly events (a generated day, through the real
service and outbox) stored in the console's SQLite once each however often they arrive, added up per device and
for the store by hour and by week, the CSV with the same numbers, and charts that carry their numbers as text."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from xml.etree import ElementTree

import pytest

from edge_agent.console.analytics import ConsoleAnalytics
from edge_agent.console.charts import bars, columns
from edge_agent.console.database import ConsoleDatabase
from edge_agent.contract import EVENTS, AnalyticsEvent, encode
from edge_agent.store import Store
from tests.test_analytics import DAY, TZ, FakeClock, generate_day, make_service, sent_events

SVG = "{http://www.w3.org/2000/svg}"


def agent_day(tmp_path, name: str, day: datetime = DAY) -> list[dict]:
    """The analytics events (envelopes) an agent sends for the generated day ``day`` (local midnight)."""
    store = Store(tmp_path / f"{name}.db")
    try:
        clock = FakeClock(day)
        service, outbox = make_service(store, clock)
        generate_day(service, outbox, clock, day)
        clock.set(day + timedelta(days=1, minutes=5))
        service.publish_due()
        return [envelope for _topic, envelope in sent_events(store)]
    finally:
        store.close()


@pytest.fixture
def console(tmp_path):
    db = ConsoleDatabase(tmp_path / "console.db")
    notified: list[tuple[str, dict]] = []
    analytics = ConsoleAnalytics(db, lambda channel, data: notified.append((channel, data)), TZ,
                                 clock=(DAY + timedelta(days=2)).timestamp)
    analytics.notified = notified  # type: ignore[attr-defined]  # the test's view of the live updates
    yield analytics
    db.close()


def deliver(console: ConsoleAnalytics, device: str, envelopes: list[dict]) -> None:
    for envelope in envelopes:
        raw = json.dumps(envelope).encode()
        console.receive(device, raw, retained=False)


def test_a_day_from_two_kiosks_adds_up_per_device_and_for_the_store_and_a_redelivery_changes_nothing(console,
                                                                                                      tmp_path):
    day = agent_day(tmp_path, "kiosk-1")
    deliver(console, "kiosk-1", day)
    deliver(console, "kiosk-2", agent_day(tmp_path, "kiosk-2"))
    deliver(console, "kiosk-1", day)  # at least once: the same events again
    assert console.devices() == ["kiosk-1", "kiosk-2"]
    assert len(console.notified) == 2 * len(day), "a redelivered event is not stored (nor announced) again"
    one = console.view("kiosk-1", "day", DAY.date())
    store = console.view("", "day", DAY.date())
    footfall = dict(one.footfall)
    assert footfall["09"] == 18 and footfall["14"] == 18 and footfall["03"] == 0
    assert dict(store.footfall)["09"] == 36
    assert dict(one.sessions)["recognised"] == 13  # 6 at 09:00 + 7 at 14:00
    assert dict(one.sessions)["enrolment"] == 5, "the day's event carried the hours' withheld enrolments"
    assert "browse" not in dict(one.sessions), "2 browsing visits a day: never sent, never shown"
    assert dict(store.sessions)["recognised"] == 26
    funnel = dict(one.funnel)
    # understand: 6 (09:00) + 5 (10:00) + 9 (14:00); 11:00's 3 were withheld, below k for the day too
    assert funnel["understand"] == 6 + 5 + 9 and funnel["convert"] == 6 + 5
    assert dict(one.plays) == {"voorjaar": 4, "gazon-video": 4}
    assert dict(one.play_seconds) == {"voorjaar": 32.0, "gazon-video": 80.0}
    assert one.offers == 6 + 7 and one.feedback == 13 and one.feedback_score == 4.0
    assert one.assist_calls == 5 and one.answered == 5 and one.answer_s == 50.0, "10:00's five calls, 30-70 s"
    assert dict(store.calls)["10"] == 10 and dict(store.answer_by_slot)["10"] == 50.0
    week = console.view("", "week", DAY.date() + timedelta(days=3))
    assert len(week.footfall) == 7 and dict(week.footfall)[DAY.strftime("%d-%m")] == 2 * 18 * 4


def test_an_event_for_a_period_already_held_replaces_its_rows(console, tmp_path):
    first = AnalyticsEvent.model_validate({"period": "hour", "start": DAY.replace(hour=9).isoformat(),
                                           "end": DAY.replace(hour=10).isoformat(), "k": 5,
                                           "rows": [{"metric": "footfall", "count": 10}]})
    console.store("kiosk-1", "0195ec1f-5a40-7c3e-9a41-3f0d2b8e6c15", first)
    second = first.model_copy(update={"rows": [first.rows[0].model_copy(update={"count": 12})]})
    console.store("kiosk-1", "0195ec1f-5a40-7c3e-9a41-3f0d2b8e6c16", second)
    assert dict(console.view("kiosk-1", "day", DAY.date()).footfall)["09"] == 12


def test_a_malformed_event_is_refused_and_nothing_is_stored(console):
    from edge_agent.errors import ContractError

    _, raw = encode(EVENTS["footfall"], {"interval_start": DAY.isoformat(), "interval_s": 60.0, "count": 1})
    with pytest.raises(ContractError):
        console.receive("kiosk-1", raw, retained=False)
    assert console.devices() == []


def test_rows_past_the_retention_are_deleted_as_new_ones_arrive(tmp_path):
    db = ConsoleDatabase(tmp_path / "console.db")
    try:
        now = [DAY.timestamp()]
        analytics = ConsoleAnalytics(db, lambda *_: None, TZ, retention_days=30, clock=lambda: now[0])
        old = AnalyticsEvent.model_validate({"period": "hour", "start": DAY.isoformat(),
                                             "end": (DAY + timedelta(hours=1)).isoformat(), "k": 5,
                                             "rows": [{"metric": "footfall", "count": 3}]})
        analytics.store("kiosk-1", "0195ec1f-5a40-7c3e-9a41-3f0d2b8e6c15", old)
        now[0] += 31 * 86400
        young = old.model_copy(update={"start": DAY + timedelta(days=31), "end": DAY + timedelta(days=31, hours=1)})
        analytics.store("kiosk-1", "0195ec1f-5a40-7c3e-9a41-3f0d2b8e6c16", young)
        with db.reading() as conn:
            assert conn.execute("SELECT count(*) FROM analytics_rows").fetchone()[0] == 1
            assert conn.execute("SELECT count(*) FROM analytics_events").fetchone()[0] == 1
    finally:
        db.close()


def test_the_csv_holds_the_same_numbers_as_the_view(console, tmp_path):
    deliver(console, "kiosk-1", agent_day(tmp_path, "kiosk-1"))
    view = console.view("kiosk-1", "day", DAY.date())
    rows = list(csv.DictReader(io.StringIO(view.csv())))
    assert {row["scope"] for row in rows} == {"kiosk-1"}
    footfall = {row["label"]: float(row["value"]) for row in rows if row["chart"] == "footfall"}
    assert footfall == dict(view.footfall)
    funnel = {row["label"]: float(row["value"]) for row in rows if row["chart"] == "funnel-reached"}
    assert funnel == dict(view.funnel)
    plays = {row["label"]: float(row["value"]) for row in rows if row["chart"] == "play-count"}
    assert plays == dict(view.plays)


def test_every_chart_is_an_image_with_a_title_a_description_and_its_numbers_as_text():
    chart = columns("c1", "Bezoekers per uur", "Mensen.", [(f"{h:02d}", float(h % 5)) for h in range(24)],
                    label_every=3)
    svg = ElementTree.fromstring(str(chart))
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c1-t c1-d"
    assert svg.find(f"{SVG}title").text == "Bezoekers per uur"
    assert "Max:" in svg.find(f"{SVG}desc").text
    titles = [rect.find(f"{SVG}title").text for rect in svg.iter(f"{SVG}rect")]
    assert titles[4] == "04: 4" and len(titles) == 24
    chart = bars("c2", "Trechter", "Fasen.", [("Begrijp <b>", 23.0), ("Converteer", 11.0)])
    svg = ElementTree.fromstring(str(chart))
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert "Begrijp <b>" in texts and "23" in texts and "11" in texts, "labels escaped, numbers written"
    assert "style=" not in str(chart), "no inline styles: the console's CSP refuses them"
