"""The analytics of one device: what it observes, into hourly buckets in SQLite, and each complete hour upstream.

Sources, all anonymous by the time they reach :class:`~.buckets.Aggregator`:

* the kiosk's reports on local request topics (``request/report-screen`` per screen a visit left,
  ``request/report-play`` per attract item that ended: proof of play);
* the events the agent itself sends (an observer of the outbox, :meth:`edge_agent.outbox.Outbox.add_observer`):
  the camera's footfall and presence, feedback, offer activations, staff-assist calls, and the staff audit's
  answers to them (``call-coming``, ``call-handled``: the first one times the answer, the call's age then,
  from ``staff_calls``).
  The session ids some of them carry are only counted (distinct per hour, in memory), never kept.

The aggregator sums in memory; :meth:`AnalyticsService.tick` (the agent's housekeeping thread) writes the sums
every ``[analytics] flush_s`` into ``analytics_buckets`` (a power cut loses at most that), and once an hour is
complete (``publish_delay_s`` after its end) queues it in the outbox as ``event/analytics-hourly``, critical, so
it reaches central however long the store is offline; which hours went is recorded in the same commit
(``analytics_sent``), so an hour is sent once. Rows counting fewer than ``k`` sessions never leave
(:mod:`.kanon`): what an hour withholds is summed into its store day (``analytics_withheld``), sent once the day
is complete where it then reaches ``k``. Retention: :mod:`edge_agent.retention` (``analytics.retention_days``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from ..commands import Commands
from ..contract import EVENTS, AnalyticsEvent, AnalyticsRow, Metric, PlayReport, ReportResult, ScreenReport
from ..outbox import Outbox
from ..store import Store
from .buckets import HOUR_S, Aggregator, Cell, Key, hour_of
from .config import AnalyticsConfig
from .kanon import Row, day_rows, split

logger = logging.getLogger(__name__)

#: Staff audit actions that answer a staff-assist call (its id as the target): the first one times the answer.
#: "call-coming" is the console's "Ik kom eraan" (alerts16's edge_agent.staff.call_answers), "call-handled" the
#: kiosk's and the console's "afgehandeld".
ANSWERS = frozenset({"call-handled", "call-coming"})
ANSWERED_REMEMBERED = 1000  # ids of calls already answered, so a later "handled" does not time it again


def iso(at: float) -> str:
    """Epoch seconds as the ISO 8601 text the analytics tables hold (UTC, whole seconds)."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(text: str) -> float:
    """The ISO 8601 text of :func:`iso` (or any aware ISO time) in epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class AnalyticsService:
    """Hourly anonymous analytics of this device (see the module's docstring).

    :param store: the agent's database.
    :param outbox: where the hours go upstream; the service observes the events queued in it.
    :param config: ``[analytics]``.
    :param timezone: the store's time zone: its days.
    :param clock: wall-clock seconds since the epoch; replaceable in tests.
    :param trusted: whether that clock is trusted now (:meth:`edge_agent.clock.WallClock.trusted_now`): an hour is
        judged complete only by a trusted clock, since one months ahead would close hours still to come.
    """

    def __init__(self, store: Store, outbox: Outbox, config: AnalyticsConfig, timezone: ZoneInfo,
                 clock: Callable[[], float], trusted: Callable[[], bool] = lambda: True):
        self._store = store
        self._outbox = outbox
        self.config = config
        self._tz = timezone
        self._clock = clock
        self._trusted = trusted
        self._lock = threading.Lock()  # the aggregator: MQTT, camera and housekeeping threads
        self.aggregator = Aggregator(config.visit_timeout_s)
        self._next_flush = clock() + config.flush_s
        self._answered: OrderedDict[str, None] = OrderedDict()
        self.rejected_reports = 0
        outbox.add_observer(self.observe)

    def register(self, commands: Commands) -> None:
        """Answer the kiosk's usage reports."""
        commands.register("report-screen", self.report_screen)
        commands.register("report-play", self.report_play)

    # ------------------------------------------------------------------ what comes in

    def report_screen(self, report: ScreenReport) -> ReportResult:
        """``request/report-screen``: a screen the kiosk left, into its visit."""
        now = self._clock()
        with self._lock:
            self.aggregator.screen(now, report.visit, report.kind, report.screen, report.phase.value,
                                   report.started.timestamp(), report.shown_s, report.ends_visit)
        return ReportResult(recorded=True)

    def report_play(self, report: PlayReport) -> ReportResult:
        """``request/report-play``: an attract item that ended (proof of play)."""
        now = self._clock()
        with self._lock:
            self.aggregator.play(now, report.item, report.shown_s)
        return ReportResult(recorded=True)

    def observe(self, name: str, message_id: str, data: BaseModel | dict[str, Any]) -> None:
        """An event the agent queued upstream (the outbox's observer): counted when it is one the analytics
        count."""
        if name not in _OBSERVED:
            return
        event = data if isinstance(data, BaseModel) else EVENTS[name].model.model_validate(data)
        fields = event.model_dump()
        now = self._clock()
        if name == "staff-audit":
            self._answer(now, fields)
            return
        with self._lock:
            aggregator = self.aggregator
            if name == "footfall":
                aggregator.footfall(now, fields["count"])
            elif name == "presence":
                aggregator.presence(now, fields["started"].timestamp(), fields["ended"].timestamp(),
                                    fields["dwell_s"])
            elif name == "feedback":
                aggregator.feedback(now, fields["session"], fields["score"])
            elif name == "offer-activation":
                aggregator.offer_activation(now, fields["session"], fields["offer"])
            elif name == "staff-assist":
                phase = fields["phase"]
                aggregator.assist(now, fields["session"], phase.value if phase is not None else None)

    def _answer(self, now: float, audit: dict[str, Any]) -> None:
        call = audit["target"]
        if audit["action"] not in ANSWERS or audit["result"] != "ok" or not call or call in self._answered:
            return
        self._answered[call] = None
        while len(self._answered) > ANSWERED_REMEMBERED:
            self._answered.popitem(last=False)
        with self._store.reading() as conn:
            row = conn.execute("SELECT at FROM staff_calls WHERE call = ?", (call,)).fetchone()
        if row is None:
            logger.info("a staff-assist call was answered that this device does not hold: not timed")
            return
        with self._lock:
            self.aggregator.assist_answered(now, now - epoch(row[0]))

    # ------------------------------------------------------------------ to the database and upstream

    def tick(self) -> None:
        """Write the sums when due, and queue the hours and days that are complete (housekeeping thread).
        Never raises for the database: a failure is logged and the sums are kept for the next try."""
        now = self._clock()
        if now < self._next_flush:
            return
        self._next_flush = now + self.config.flush_s
        try:
            self.flush()
            self.publish_due()
        except sqlite3.Error as exc:
            logger.error("the analytics could not be written: %s", exc)

    def flush(self) -> int:
        """Fold timed-out visits and add the sums to ``analytics_buckets``; returns the rows written.

        :raises sqlite3.Error: when the write fails (the sums stay in memory for the next one).
        """
        now = self._clock()
        with self._lock:
            self.aggregator.expire(now)
            cells = self.aggregator.take()
        if not cells:
            return 0
        try:
            with self._store.transaction() as conn:
                conn.executemany(_UPSERT, [(iso(hour), metric.value, dim, cell.count, cell.sessions, cell.total)
                                           for (hour, metric, dim), cell in cells.items()])
        except sqlite3.Error:
            with self._lock:
                self._restore(cells)
            raise
        return len(cells)

    def _restore(self, cells: dict[Key, Cell]) -> None:
        for (hour, metric, dim), cell in cells.items():
            self.aggregator.add_cell(hour, metric, dim, cell)

    def publish_due(self) -> list[str]:
        """Queue every complete hour not sent yet, then every complete day with withheld rows; returns the
        event ids queued (none while the clock is not trusted).

        :raises sqlite3.Error: when the database cannot be read or written.
        """
        if not self._trusted():
            logger.info("analytics hours not sent yet: the wall clock is not trusted")
            return []
        now = self._clock()
        limit = iso(hour_of(now - self.config.publish_delay_s))
        with self._store.reading() as conn:
            hours = [row[0] for row in conn.execute(
                "SELECT DISTINCT hour FROM analytics_buckets WHERE hour < ? AND NOT EXISTS (SELECT 1 FROM "
                "analytics_sent WHERE period = 'hour' AND start = hour) ORDER BY hour", (limit,))]
        sent = [event for event in (self._publish_hour(hour) for hour in hours) if event]
        with self._store.reading() as conn:
            days = [row[0] for row in conn.execute(
                "SELECT DISTINCT day FROM analytics_withheld WHERE NOT EXISTS (SELECT 1 FROM analytics_sent "
                "WHERE period = 'day' AND start = day) ORDER BY day")]
        for day in days:
            if self._day_end(epoch(day)) + self.config.publish_delay_s <= now:
                event = self._publish_day(day)
                if event:
                    sent.append(event)
        return sent

    def _publish_hour(self, hour: str) -> str:
        start = epoch(hour)
        k = self.config.k
        day = iso(self._day_start(start))
        with self._store.transaction(durable=True) as conn:
            rows = [Row(Metric(metric), dim, count, sessions, total) for metric, dim, count, sessions, total in
                    conn.execute("SELECT metric, dim, count, sessions, total FROM analytics_buckets WHERE hour = ?",
                                 (hour,))]
            published, withheld = split(rows, k)
            conn.executemany(_WITHHOLD, [(day, row.metric.value, row.dim, row.count, row.sessions or 0, row.total)
                                         for row in withheld])
            event = ""
            if published:
                event = self._outbox.enqueue("analytics-hourly", AnalyticsEvent(
                    period="hour", start=datetime.fromtimestamp(start, UTC),
                    end=datetime.fromtimestamp(start + HOUR_S, UTC), k=k, rows=_payload_rows(published)))
            conn.execute("INSERT INTO analytics_sent (period, start, event, rows) VALUES ('hour', ?, ?, ?)",
                         (hour, event, len(published)))
        logger.info("analytics of the hour from %s queued: %d rows, %d withheld below k=%d", hour, len(published),
                    len(withheld), k)
        return event

    def _publish_day(self, day: str) -> str:
        start = epoch(day)
        k = self.config.k
        with self._store.transaction(durable=True) as conn:
            withheld = [Row(Metric(metric), dim, count, sessions, total) for metric, dim, count, sessions, total in
                        conn.execute("SELECT metric, dim, count, sessions, total FROM analytics_withheld "
                                     "WHERE day = ?", (day,))]
            published = day_rows(withheld, k)
            event = ""
            if published:
                event = self._outbox.enqueue("analytics-hourly", AnalyticsEvent(
                    period="day", start=datetime.fromtimestamp(start, UTC),
                    end=datetime.fromtimestamp(self._day_end(start), UTC), k=k, rows=_payload_rows(published)))
            conn.execute("INSERT INTO analytics_sent (period, start, event, rows) VALUES ('day', ?, ?, ?)",
                         (day, event, len(published)))
        logger.info("analytics of the day from %s queued: %d rows of what its hours withheld", day, len(published))
        return event

    def _day_start(self, at: float) -> float:
        local = datetime.fromtimestamp(at, self._tz)
        return datetime(local.year, local.month, local.day, tzinfo=self._tz).timestamp()

    def _day_end(self, day_start: float) -> float:
        local = datetime.fromtimestamp(day_start, self._tz) + timedelta(days=1, hours=3)  # past a DST change
        return datetime(local.year, local.month, local.day, tzinfo=self._tz).timestamp()

    def stop(self) -> None:
        """Write what is in memory (the agent stops)."""
        try:
            self.flush()
        except sqlite3.Error as exc:
            logger.error("the analytics could not be written at stop: %s", exc)


_OBSERVED = frozenset({"footfall", "presence", "feedback", "offer-activation", "staff-assist", "staff-audit"})

_UPSERT = """INSERT INTO analytics_buckets (hour, metric, dim, count, sessions, total) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (hour, metric, dim) DO UPDATE SET count = count + excluded.count,
        sessions = CASE WHEN sessions IS NULL AND excluded.sessions IS NULL THEN NULL
                        ELSE coalesce(sessions, 0) + coalesce(excluded.sessions, 0) END,
        total = total + excluded.total"""

_WITHHOLD = """INSERT INTO analytics_withheld (day, metric, dim, count, sessions, total) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (day, metric, dim) DO UPDATE SET count = count + excluded.count,
        sessions = sessions + excluded.sessions, total = total + excluded.total"""


def _payload_rows(rows: list[Row]) -> list[AnalyticsRow]:
    return [AnalyticsRow(metric=row.metric, dim=row.dim, count=row.count, sessions=row.sessions,
                         total=round(row.total, 3))
            for row in sorted(rows, key=lambda row: (row.metric.value, row.dim))]
