"""The anonymous hourly analytics (edge_agent.analytics) on real SQLite and the real outbox: a generated day of
visits gives the expected buckets and events, no published row counts fewer than k sessions (property tests),
retention deletes what is older, and nothing personal is in the buckets or in what is sent."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.analytics.buckets import Aggregator
from edge_agent.analytics.config import AnalyticsConfig
from edge_agent.analytics.kanon import EXCLUSIVE, OTHER, Row, day_rows, split
from edge_agent.analytics.service import AnalyticsService
from edge_agent.clock import WallClock
from edge_agent.config import parse_config
from edge_agent.contract import AnalyticsEvent, Metric, PlayReport, ScreenReport, Topics, VisitKind, new_id
from edge_agent.outbox import Outbox
from edge_agent.retention import Retention
from edge_agent.store import Store
from tests.support.cards import CUSTOMER, PIET, PIET_UID, SANNE, SANNE_UID, STAFF_UID, UNKNOWN_UID
from tests.support.uid_spellings import assert_no_uid

TZ = ZoneInfo("Europe/Amsterdam")
DAY = datetime(2026, 6, 1, tzinfo=TZ)  # a Monday in summer time: local 09:00 is 07:00 UTC
K = 5
PHASES_OF = {"begrijp": "understand", "enrolment": "understand", "inspireer": "inspire", "informeer": "inform",
             "converteer": "convert", "ontzorg": "after-care", "continueer": "continue"}
CARD_TOKEN = "k-" + "3f" * 32


class FakeClock:
    """Wall-clock seconds the test moves."""

    def __init__(self, at: datetime):
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, at: datetime) -> None:
        self.now = at.timestamp()


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "agent.db")
    yield store
    store.close()


def make_service(store: Store, clock: FakeClock, **config) -> tuple[AnalyticsService, Outbox]:
    outbox = Outbox(store, Topics("store-1", "kiosk-1"), max_rows=100_000)
    service = AnalyticsService(store, outbox, AnalyticsConfig(**config), TZ, clock)
    return service, outbox


def sent_events(store: Store) -> list[tuple[str, dict]]:
    """The analytics events in the outbox: (topic, envelope)."""
    with store.reading() as conn:
        rows = conn.execute("SELECT topic, payload FROM outbox WHERE topic LIKE '%/event/analytics-hourly' "
                            "ORDER BY seq").fetchall()
    return [(topic, json.loads(payload)) for topic, payload in rows]


def service_store(service: AnalyticsService) -> Store:
    """The database the service writes (the test adds the staff calls an agent's staff service would)."""
    return service._store


def visit(service: AnalyticsService, clock: FakeClock, at: datetime, kind: VisitKind, screens: list[str],
          seconds: float = 10.0, session: str | None = None) -> str:
    """One visit of ``screens`` from ``at``, each shown ``seconds``, reported as the kiosk reports them."""
    visit_id = "v-" + new_id().replace("-", "")[:20]
    start = at
    for index, screen in enumerate(screens):
        clock.set(start + timedelta(seconds=seconds))
        service.report_screen(ScreenReport(visit=visit_id, kind=kind, screen=screen, phase=PHASES_OF[screen],
                                           started=start, shown_s=seconds, touched=True,
                                           ends_visit=index == len(screens) - 1))
        start += timedelta(seconds=seconds)
    return visit_id


# ---------------------------------------------------------------------- a generated day


DAY_PLAN = {  # local hour -> visits (kind, screens)
    9: [(VisitKind.RECOGNISED, ["begrijp", "converteer"])] * 6 + [(VisitKind.BROWSE, ["inspireer"])] * 2,
    10: [(VisitKind.ANONYMOUS, ["enrolment", "informeer", "converteer"])] * 5,
    11: [(VisitKind.ENROLMENT, ["enrolment"])] * 3,  # below k alone: withheld from its hour
    14: [(VisitKind.ENROLMENT, ["enrolment"])] * 2 + [(VisitKind.RECOGNISED, ["begrijp", "ontzorg"])] * 7,
}


def generate_day(service: AnalyticsService, outbox: Outbox, clock: FakeClock, day: datetime = DAY) -> dict:
    """Visits by :data:`DAY_PLAN` on ``day`` (local midnight), footfall every 10 minutes, presences, plays,
    feedback, offers, and a staff call from each anonymous visit answered after 30, 40, ... seconds; returns
    what the test expects, tallied independently of the aggregator."""
    expected: dict = {"footfall": Counter(), "sessions": Counter(), "reached": Counter(), "plays": Counter(),
                      "seconds": Counter(), "visit_seconds": Counter(), "answered": Counter(), "waited": Counter()}
    for hour, visits in DAY_PLAN.items():
        base = day.replace(hour=hour)
        for minute in range(0, 60, 10):
            clock.set(base + timedelta(minutes=minute, seconds=30))
            outbox.enqueue("footfall", {"interval_start": (base + timedelta(minutes=minute)).isoformat(),
                                        "interval_s": 600.0, "count": 3})
            expected["footfall"][hour] += 3
        for index, (kind, screens) in enumerate(visits):
            at = base + timedelta(minutes=5 + index * 6)
            session = new_id()
            # the camera saw them first; the presence ends after the visit began: engaged
            clock.set(at + timedelta(seconds=40))
            visit(service, clock, at, kind, screens, session=session)
            outbox.enqueue("presence", {"started": (at - timedelta(seconds=3)).isoformat(),
                                        "ended": (at + timedelta(seconds=40)).isoformat(), "dwell_s": 43.0})
            expected["sessions"][(hour, kind.value)] += 1
            expected["visit_seconds"][(hour, kind.value)] += 10.0 * len(screens)
            for phase in {PHASES_OF[screen] for screen in screens}:
                expected["reached"][(hour, phase)] += 1
            if kind is VisitKind.RECOGNISED:
                clock.set(at + timedelta(seconds=45))
                outbox.enqueue("offer-activation", {"session": session, "customer": CUSTOMER,
                                                    "offer": "voorjaar-2026", "offer_version": 3})
                outbox.enqueue("feedback", {"session": session, "score": 4, "reason": None, "phase": "convert"})
            if kind is VisitKind.ANONYMOUS:
                called = at + timedelta(seconds=50)
                clock.set(called)
                call = outbox.enqueue("staff-assist", {"session": session, "phase": "inform", "topic": None})
                with service_store(service).transaction() as conn:
                    conn.execute("INSERT INTO staff_calls (call, at, phase) VALUES (?, ?, 'inform')",
                                 (call, called.isoformat()))
                waited = 30 + 10 * index
                clock.set(called + timedelta(seconds=waited))
                outbox.enqueue("staff-audit", {"staff": "s-anna", "action": "call-handled", "target": call,
                                               "result": "ok", "at": (called + timedelta(seconds=waited)).isoformat()})
                expected["answered"][hour] += 1
                expected["waited"][hour] += waited
        clock.set(base + timedelta(minutes=58))
        for item, seconds in (("voorjaar", 8.0), ("gazon-video", 20.0)):
            service.report_play(PlayReport(item=item, media="image", started=base, shown_s=seconds))
            expected["plays"][(hour, item)] += 1
            expected["seconds"][(hour, item)] += seconds
        service.flush()
    return expected


def test_a_generated_day_of_visits_gives_the_expected_hourly_buckets(store):
    clock = FakeClock(DAY)
    service, outbox = make_service(store, clock)
    expected = generate_day(service, outbox, clock)
    with store.reading() as conn:
        rows = conn.execute("SELECT hour, metric, dim, count, sessions, total FROM analytics_buckets").fetchall()
    buckets = {(datetime.fromisoformat(hour.replace("Z", "+00:00")).astimezone(TZ).hour, metric, dim):
               (count, sessions, total) for hour, metric, dim, count, sessions, total in rows}
    for hour, people in expected["footfall"].items():
        assert buckets[(hour, "footfall", "")] == (people, None, 0.0)
    for (hour, kind), visits in expected["sessions"].items():
        count, sessions, total = buckets[(hour, "sessions", kind)]
        assert count == sessions == visits
        assert total == pytest.approx(expected["visit_seconds"][(hour, kind)])
    for (hour, phase), visits in expected["reached"].items():
        assert buckets[(hour, "phase-reached", phase)][1] == visits, (hour, phase)
    for (hour, item), plays in expected["plays"].items():
        assert buckets[(hour, "play", item)] == (plays, None, expected["seconds"][(hour, item)])
    # every visit began during a presence: all engaged; every presence counted with its dwell
    for hour, visits in DAY_PLAN.items():
        assert buckets[(hour, "engaged", "")][0] == len(visits)
        assert buckets[(hour, "presence", "")] == (len(visits), None, 43.0 * len(visits))
    for hour, answered in expected["answered"].items():
        assert buckets[(hour, "assist-ack", "")] == (answered, answered, expected["waited"][hour])
        assert buckets[(hour, "assist", "inform")][:2] == (answered, answered)
    assert buckets[(9, "offer-activation", "voorjaar-2026")][:2] == (6, 6)
    assert buckets[(9, "phase-exit", "convert")][1] == 6


def test_complete_hours_are_queued_once_with_no_row_below_k_and_the_day_sends_what_its_hours_withheld(store):
    clock = FakeClock(DAY)
    service, outbox = make_service(store, clock)
    generate_day(service, outbox, clock)
    clock.set(DAY.replace(hour=15, minute=5))
    service.publish_due()
    hours = [envelope for _topic, envelope in sent_events(store)]
    starts = [datetime.fromisoformat(e["data"]["start"].replace("Z", "+00:00")).astimezone(TZ).hour for e in hours]
    assert starts == [9, 10, 11, 14], "each complete hour with data, in order; the day is not complete yet"
    service.publish_due()
    assert len(sent_events(store)) == 4, "an hour is queued once"
    by_hour = {hour: {(row["metric"], row["dim"]): row for row in e["data"]["rows"]}
               for hour, e in zip(starts, hours, strict=True)}
    assert by_hour[9][("sessions", "recognised")]["sessions"] == 6
    assert ("sessions", "browse") not in by_hour[9], "2 browsing visits: below k, withheld"
    assert ("sessions", "enrolment") not in by_hour[11]
    # 14:00: 2 enrolments (below k) and 7 recognised; the enrolments are withheld, not merged into "other" alone
    assert ("sessions", "enrolment") not in by_hour[14] and ("sessions", OTHER) not in by_hour[14]
    assert by_hour[14][("footfall", "")]["count"] == 18, "the camera's counts are not session counts"
    for envelope in hours:
        AnalyticsEvent.model_validate(envelope["data"])
        assert envelope["schema"] == "event-analytics-hourly/1"
        for row in envelope["data"]["rows"]:
            assert row["sessions"] is None or row["sessions"] >= K, row
    # the day ends: what its hours withheld, summed, where it reaches k: 3 + 2 enrolments
    clock.set(DAY + timedelta(days=1, minutes=2))
    service.publish_due()
    day = sent_events(store)[-1][1]["data"]
    assert day["period"] == "day"
    assert datetime.fromisoformat(day["start"].replace("Z", "+00:00")) == DAY
    rows = {(row["metric"], row["dim"]): row for row in day["rows"]}
    assert rows[("sessions", "enrolment")]["sessions"] == 5
    assert ("sessions", "browse") not in rows, "2 browsing visits in the whole day: never sent"
    assert all(row["sessions"] is None or row["sessions"] >= K for row in day["rows"])
    service.publish_due()
    assert len(sent_events(store)) == 5, "the day is queued once"


def test_the_events_go_through_the_outbox_as_critical_events_that_are_never_dropped(store):
    clock = FakeClock(DAY.replace(hour=9))
    service, _outbox = make_service(store, clock)
    for index in range(6):
        visit(service, clock, DAY.replace(hour=9, minute=index), VisitKind.BROWSE, ["inspireer"])
    service.flush()
    clock.set(DAY.replace(hour=10, minute=2))
    service.publish_due()
    with store.reading() as conn:
        critical = conn.execute("SELECT critical FROM outbox WHERE topic LIKE '%analytics-hourly'").fetchall()
    assert critical == [(1,)]


def test_a_visit_whose_last_report_never_came_is_counted_where_it_was_after_the_timeout(store):
    clock = FakeClock(DAY.replace(hour=9))
    service, _outbox = make_service(store, clock, visit_timeout_s=60)
    visit_id = "v-" + "ab" * 8
    service.report_screen(ScreenReport(visit=visit_id, kind=VisitKind.BROWSE, screen="inspireer", phase="inspire",
                                       started=DAY.replace(hour=9), shown_s=12.0, touched=True))
    service.flush()
    assert service.aggregator.open_visits() == 1
    clock.set(DAY.replace(hour=9, minute=5))
    service.flush()
    assert service.aggregator.open_visits() == 0
    with store.reading() as conn:
        assert conn.execute("SELECT count, sessions FROM analytics_buckets WHERE metric = 'phase-exit' "
                            "AND dim = 'inspire'").fetchone() == (1, 1)


def test_a_failed_write_keeps_the_sums_for_the_next_one(store, monkeypatch):
    clock = FakeClock(DAY.replace(hour=9))
    service, _outbox = make_service(store, clock)
    service.report_play(PlayReport(item="voorjaar", media="image", started=DAY, shown_s=8.0))
    real = store.transaction

    def failing(*args, **kwargs):
        raise __import__("sqlite3").OperationalError("database or disk is full")

    monkeypatch.setattr(store, "transaction", failing)
    service.tick()  # logged, not raised
    clock.now += 60
    service.tick()
    monkeypatch.setattr(store, "transaction", real)
    service.flush()
    with store.reading() as conn:
        assert conn.execute("SELECT count, total FROM analytics_buckets WHERE metric = 'play'").fetchone() == (1, 8.0)


@pytest.mark.parametrize("first", ["call-coming", "call-handled"])
def test_the_first_staff_answer_to_a_call_gives_the_time_to_answer_once(store, first):
    clock = FakeClock(DAY.replace(hour=9))
    service, outbox = make_service(store, clock)
    call = outbox.enqueue("staff-assist", {"session": new_id(), "phase": "inform", "topic": "product-advice"})
    with store.transaction() as conn:
        conn.execute("INSERT INTO staff_calls (call, at, phase, topic) VALUES (?, ?, 'inform', 'product-advice')",
                     (call, DAY.replace(hour=9).isoformat()))
    clock.set(DAY.replace(hour=9, minute=2))
    audit = {"staff": "s-anna", "action": first, "target": call, "result": "ok",
             "at": DAY.replace(hour=9, minute=2).isoformat()}
    outbox.enqueue("staff-audit", audit)
    clock.set(DAY.replace(hour=9, minute=5))
    outbox.enqueue("staff-audit", {**audit, "action": "call-handled"})  # "afgehandeld" after "Ik kom eraan"
    service.flush()
    with store.reading() as conn:
        rows = {metric: (count, total) for metric, count, total in conn.execute(
            "SELECT metric, count, total FROM analytics_buckets WHERE metric LIKE 'assist%'")}
    assert rows == {"assist": (1, 0.0), "assist-ack": (1, 120.0)}


# ---------------------------------------------------------------------- k-anonymity, as properties

METRICS = st.sampled_from(list(Metric))
ROWS = st.lists(st.builds(Row, metric=METRICS, dim=st.sampled_from(["", "a", "b", "inform", "recognised"]),
                          count=st.integers(0, 50), sessions=st.one_of(st.none(), st.integers(0, 12)),
                          total=st.floats(0, 1e5)),
                unique_by=lambda row: (row.metric, row.dim), max_size=40)


@given(rows=ROWS, k=st.integers(2, 10))
def test_no_row_split_publishes_counts_fewer_than_k_sessions_and_none_is_lost_or_invented(rows, k):
    published, withheld = split(rows, k)
    assert all(row.sessions is None or row.sessions >= k for row in published)
    merged = [row for row in published if row.dim == OTHER and row not in rows]
    assert all(row.metric in EXCLUSIVE for row in merged)
    sessions_in = sum(row.sessions or 0 for row in rows)
    assert sum(row.sessions or 0 for row in published) + sum(row.sessions or 0 for row in withheld) == sessions_in
    assert {(row.metric, row.dim) for row in withheld} <= {(row.metric, row.dim) for row in rows}


@given(hours=st.lists(ROWS, max_size=24), k=st.integers(2, 10))
def test_no_day_row_counts_fewer_than_k_sessions(hours, k):
    withheld = [row for rows in hours for row in split(rows, k)[1]]
    assert all(row.sessions is not None and row.sessions < k for row in withheld)
    assert all(row.sessions is None or row.sessions >= k for row in day_rows(withheld, k))


VISIT_KINDS = st.sampled_from(list(VisitKind))
SCREENS = st.lists(st.sampled_from(sorted(PHASES_OF)), min_size=1, max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(visits=st.lists(st.tuples(st.integers(0, 47), VISIT_KINDS, SCREENS), max_size=60),
       feedback=st.lists(st.tuples(st.integers(0, 47), st.integers(1, 5)), max_size=30), k=st.integers(2, 8))
def test_no_published_bucket_of_any_generated_traffic_counts_fewer_than_k_sessions(tmp_path_factory, visits,
                                                                                   feedback, k):
    store = Store(tmp_path_factory.mktemp("k") / "agent.db")
    try:
        clock = FakeClock(DAY)
        service, outbox = make_service(store, clock, k=k)
        events = sorted([(half, "visit", (kind, screens)) for half, kind, screens in visits]
                        + [(half, "feedback", score) for half, score in feedback], key=lambda event: event[0])
        for half, what, data in events:
            at = DAY + timedelta(minutes=30 * half + 1)
            clock.set(at)
            if what == "visit":
                visit(service, clock, at, data[0], data[1])
            else:
                outbox.enqueue("feedback", {"session": new_id(), "score": data, "reason": None, "phase": "inform"})
        service.flush()
        clock.set(DAY + timedelta(days=2))
        service.publish_due()
        for _topic, envelope in sent_events(store):
            for row in envelope["data"]["rows"]:
                assert row["sessions"] is None or row["sessions"] >= k, (envelope["data"]["period"], row)
    finally:
        store.close()


# ---------------------------------------------------------------------- retention


def test_retention_deletes_analytics_older_than_the_configured_days_and_keeps_younger(store, tmp_path):
    now = datetime(2026, 9, 1, 12, tzinfo=UTC)
    clock = FakeClock(now - timedelta(days=31))
    service, _outbox = make_service(store, clock, k=2)
    for index in range(2):
        visit(service, clock, now - timedelta(days=31, minutes=-index), VisitKind.BROWSE, ["inspireer"])
    service.flush()
    clock.set(now - timedelta(days=10))
    for index in range(2):
        visit(service, clock, now - timedelta(days=10, minutes=-index), VisitKind.BROWSE, ["inspireer"])
    service.flush()
    clock.set(now - timedelta(days=9))
    service.publish_due()
    config = parse_config('[store]\nid = "s"\n[device]\nid = "d"\n[analytics]\nretention_days = 30\n')
    wall = WallClock("plausible", tmp_path / "no-marker", kernel_status=False, system_time=now.timestamp)
    deleted = Retention(store, config, wall).prune()
    assert deleted is not None and deleted["analytics_buckets"] > 0 and deleted["analytics_sent"] == 1
    with store.reading() as conn:
        hours = {row[0] for row in conn.execute("SELECT DISTINCT hour FROM analytics_buckets")}
        sent = conn.execute("SELECT count(*) FROM analytics_sent").fetchone()[0]
    assert hours == {(now - timedelta(days=10)).strftime("%Y-%m-%dT%H:00:00Z")}
    assert sent == 1


# ---------------------------------------------------------------------- nothing personal


def test_nothing_personal_is_in_the_buckets_or_in_the_events_sent(store):
    clock = FakeClock(DAY)
    service, outbox = make_service(store, clock, k=2)
    sessions, visits = [], []
    rng = random.Random(16)
    for index in range(12):
        at = DAY.replace(hour=9 + index % 3, minute=index)
        session = new_id()
        sessions.append(session)
        visits.append(visit(service, clock, at, rng.choice(list(VisitKind)), ["begrijp", "converteer"],
                            session=session))
        outbox.enqueue("tap", {"session": session, "outcome": "recognised", "assurance": "sun", "customer": SANNE})
        outbox.enqueue("offer-activation", {"session": session, "customer": PIET, "offer": "voorjaar-2026",
                                            "offer_version": 3})
        outbox.enqueue("enrolment", {"session": session, "card": CARD_TOKEN, "outcome": "unknown-card",
                                     "assurance": "sun", "language": "nl"})
        outbox.enqueue("feedback", {"session": session, "score": 2, "reason": "prices", "phase": "convert"})
        outbox.enqueue("staff-assist", {"session": session, "phase": "convert", "topic": "product-advice"})
    service.flush()
    clock.set(DAY + timedelta(days=1, hours=1))
    service.publish_due()
    with store.reading() as conn:
        tables = {table: conn.execute(f"SELECT * FROM {table}").fetchall()
                  for table in ("analytics_buckets", "analytics_sent", "analytics_withheld")}
    events = sent_events(store)
    assert events, "something was sent"
    text = (json.dumps(tables) + json.dumps([envelope for _topic, envelope in events])).lower()
    for secret in [*sessions, *visits, SANNE, PIET, CUSTOMER, CARD_TOKEN]:
        assert secret.lower() not in text, secret
    assert_no_uid(text, [SANNE_UID, PIET_UID, STAFF_UID, UNKNOWN_UID], "the analytics tables and events")


def test_the_aggregator_forgets_the_session_ids_of_closed_hours():
    aggregator = Aggregator()
    start = DAY.timestamp()
    for index in range(10):
        aggregator.feedback(start + index, new_id(), 5)
    aggregator.expire(start + 3 * 3600)
    assert not aggregator._seen, "session ids are kept for the open hours only"


def test_no_hour_is_sent_while_the_wall_clock_is_not_trusted_and_it_is_sent_once_it_is(store):
    clock = FakeClock(DAY.replace(hour=9))
    trusted = [False]
    outbox = Outbox(store, Topics("store-1", "kiosk-1"), max_rows=1000)
    service = AnalyticsService(store, outbox, AnalyticsConfig(), TZ, clock, trusted=lambda: trusted[0])
    service.report_play(PlayReport(item="voorjaar", media="image", started=DAY, shown_s=8.0))
    service.flush()
    clock.set(DAY.replace(hour=11))
    assert service.publish_due() == [] and sent_events(store) == []
    trusted[0] = True
    assert len(service.publish_due()) == 1
