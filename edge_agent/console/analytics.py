"""The console's copy of the store's anonymous analytics, and the figures its charts and CSV show.

:class:`ConsoleAnalytics` subscribes to every device's ``event/analytics-hourly`` (the console role may read it:
``CONSOLE_EVENTS`` in :mod:`edge_agent.contract.roles`) and keeps the rows in the console's SQLite
(``analytics_rows``, by device, period, start, metric and dimension; its own migrations, beside the console's).
The events come at least once: one already stored (by its envelope id) is skipped, and an event for a period
the console holds replaces that period's rows, so a redelivery never doubles a number. Rows older than
``retention_days`` [90] are deleted as new ones arrive. Nothing in them names anyone: the agents sent no row
below their k (:mod:`edge_agent.analytics.kanon`).

:meth:`ConsoleAnalytics.view` adds them up for one device or the whole store (every device), over a store day
by hour or a week by day: :class:`AnalyticsView` holds the series the page draws (:mod:`.charts`) and
:meth:`AnalyticsView.csv_rows` the same numbers for the CSV export. Sums over the day include what the day's
own event carried (the rows each hour withheld below k); the by-hour series hold the hours' rows only.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from ..contract import EVENTS, AnalyticsEvent, decode
from ..errors import ContractError
from .database import ConsoleDatabase

logger = logging.getLogger(__name__)

CHANNEL = "analytics"  # live updates: a device's hour arrived
MESSAGE = EVENTS["analytics-hourly"]
#: The Store Sales Cycle in its order (the funnel's rows), with the Dutch names the console translates.
PHASES = (("reach", "Bereik"), ("understand", "Begrijp"), ("inspire", "Inspireer"), ("inform", "Informeer"),
          ("convert", "Converteer"), ("after-care", "Ontzorg"), ("continue", "Continueer"))
KINDS = (("recognised", "Herkend"), ("anonymous", "Anoniem"), ("enrolment", "Aanmelding"), ("browse", "Zonder pas"),
         ("other", "Overige"))
View = Literal["day", "week"]

migrations = Migrations("store_console_analytics")


@migrations()
def m001_analytics(db: Database) -> None:
    for statement in (
        """CREATE TABLE analytics_rows (
            device TEXT NOT NULL,
            period TEXT NOT NULL,
            start TEXT NOT NULL,
            metric TEXT NOT NULL,
            dim TEXT NOT NULL,
            count INTEGER NOT NULL,
            sessions INTEGER,
            total REAL NOT NULL,
            PRIMARY KEY (device, period, start, metric, dim)) WITHOUT ROWID""",
        "CREATE INDEX analytics_rows_start ON analytics_rows (start)",
        # Envelope ids of the events stored, against redeliveries (pruned with the rows).
        """CREATE TABLE analytics_events (
            id TEXT PRIMARY KEY,
            device TEXT NOT NULL,
            start TEXT NOT NULL) WITHOUT ROWID""",
    ):
        db.execute(statement)


def iso(moment: datetime) -> str:
    """A time as the rows' ``start`` (UTC, ISO 8601, whole seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class AnalyticsView:
    """The figures of one scope (a device, or the store) over a day or a week."""

    scope: str  # a device id, or "" for the store
    view: View
    first: date
    last: date
    #: Footfall per hour (day view) or per day (week view): (label, people).
    footfall: list[tuple[str, float]] = field(default_factory=list)
    #: Staff-assist calls per hour or day.
    calls: list[tuple[str, float]] = field(default_factory=list)
    presences: int = 0
    engaged: int = 0
    dwell_s: float = 0.0
    #: Sessions by kind: (kind, sessions), in :data:`KINDS` order, kinds with none left out.
    sessions: list[tuple[str, float]] = field(default_factory=list)
    #: The funnel in the cycle's order: (phase, sessions that reached it).
    funnel: list[tuple[str, float]] = field(default_factory=list)
    #: Average seconds a session spent in each phase it reached.
    phase_seconds: list[tuple[str, float]] = field(default_factory=list)
    #: Where sessions ended: (phase, sessions).
    exits: list[tuple[str, float]] = field(default_factory=list)
    #: Proof of play: (item, plays) and (item, seconds shown), most played first.
    plays: list[tuple[str, float]] = field(default_factory=list)
    play_seconds: list[tuple[str, float]] = field(default_factory=list)
    assist_calls: int = 0
    answered: int = 0
    answer_s: float | None = None  # average seconds from a call to its answer
    #: Average time to answer per hour or day (0 where none was answered).
    answer_by_slot: list[tuple[str, float]] = field(default_factory=list)
    feedback: int = 0
    feedback_score: float | None = None
    offers: int = 0

    def csv_rows(self) -> list[tuple[str, str, str, str]]:
        """The same numbers as the page: (chart, label, value, unit) rows."""
        rows: list[tuple[str, str, str, str]] = []

        def add(chart: str, series: Iterable[tuple[str, float]], unit: str) -> None:
            rows.extend((chart, label, _plain(value), unit) for label, value in series)

        add("footfall", self.footfall, "people")
        add("staff-calls", self.calls, "calls")
        add("answer-time", self.answer_by_slot, "s")
        add("engagement", [("presences", self.presences), ("engaged", self.engaged),
                           ("dwell", round(self.dwell_s, 1))], "")
        add("sessions", self.sessions, "sessions")
        add("funnel-reached", self.funnel, "sessions")
        add("funnel-seconds", self.phase_seconds, "s")
        add("funnel-exit", self.exits, "sessions")
        add("play-count", self.plays, "plays")
        add("play-seconds", self.play_seconds, "s")
        add("totals", [("assist-calls", self.assist_calls), ("answered", self.answered),
                       ("answer-average", self.answer_s if self.answer_s is not None else 0.0),
                       ("feedback", self.feedback),
                       ("feedback-average", self.feedback_score if self.feedback_score is not None else 0.0),
                       ("offer-activations", self.offers)], "")
        return rows

    def csv(self) -> str:
        """:meth:`csv_rows` as CSV text, with a header."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("scope", "view", "first", "last", "chart", "label", "value", "unit"))
        for row in self.csv_rows():
            writer.writerow((self.scope or "store", self.view, self.first.isoformat(), self.last.isoformat(), *row))
        return out.getvalue()


class ConsoleAnalytics:
    """The analytics events of the store's devices, kept and added up (see the module's docstring).

    :param db: the console's database (this module adds its own tables to it).
    :param notify: ``notify(channel, data)``: a live update for the pages.
    :param timezone: the store's time zone (its days and hours).
    :param retention_days: rows whose period started longer ago are deleted.
    :param clock: wall-clock seconds.
    """

    def __init__(self, db: ConsoleDatabase, notify: Callable[[str, dict], None], timezone: ZoneInfo,
                 retention_days: float = 90.0, clock: Callable[[], float] = time.time):
        self._db = db
        self._notify = notify
        self.tz = timezone
        self._retention_s = retention_days * 86400.0
        self._clock = clock
        with db.reading() as conn:  # the migrations make their own transactions
            migrations.apply(Database(conn))

    # ------------------------------------------------------------------ from MQTT

    def receive(self, device: str, raw: bytes, retained: bool) -> None:
        """One ``event/analytics-hourly`` of ``device`` (the MQTT thread).

        :raises ContractError: when it does not fit the contract (logged by the link, nothing stored).
        """
        if not raw:
            return
        decoded = decode(MESSAGE, raw)
        event = decoded.payload
        if not isinstance(event, AnalyticsEvent):
            raise ContractError("not an analytics event")
        self.store(device, decoded.envelope.id, event)

    def store(self, device: str, event_id: str, event: AnalyticsEvent) -> bool:
        """Keep ``event`` of ``device`` (replacing that period's rows); False when it was stored already."""
        start = iso(event.start)
        cutoff = iso(datetime.fromtimestamp(self._clock() - self._retention_s, UTC))
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM analytics_events WHERE id = ?", (event_id,)).fetchone():
                return False
            conn.execute("DELETE FROM analytics_rows WHERE device = ? AND period = ? AND start = ?",
                         (device, event.period, start))
            conn.executemany(
                "INSERT INTO analytics_rows (device, period, start, metric, dim, count, sessions, total) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(device, event.period, start, row.metric.value, row.dim, row.count, row.sessions, row.total)
                 for row in event.rows])
            conn.execute("INSERT INTO analytics_events (id, device, start) VALUES (?, ?, ?)", (event_id, device, start))
            conn.execute("DELETE FROM analytics_rows WHERE start < ?", (cutoff,))
            conn.execute("DELETE FROM analytics_events WHERE start < ?", (cutoff,))
        logger.info("analytics of %s for the %s from %s: %d rows", device, event.period, start, len(event.rows))
        self._notify(CHANNEL, {"device": device})
        return True

    # ------------------------------------------------------------------ for the pages

    def devices(self) -> list[str]:
        """The devices that sent analytics."""
        with self._db.reading() as conn:
            return [row[0] for row in conn.execute("SELECT DISTINCT device FROM analytics_rows ORDER BY device")]

    def latest_day(self) -> date:
        """The store day of the newest hour held, or today when none."""
        with self._db.reading() as conn:
            row = conn.execute("SELECT max(start) FROM analytics_rows WHERE period = 'hour'").fetchone()
        if row is None or row[0] is None:
            return datetime.fromtimestamp(self._clock(), self.tz).date()
        return datetime.fromisoformat(row[0].replace("Z", "+00:00")).astimezone(self.tz).date()

    def view(self, device: str, view: View, day: date) -> AnalyticsView:
        """The figures of ``device`` ("" for the whole store) over the store day ``day`` (by hour) or the week
        ending with it (by day)."""
        first = day if view == "day" else day - timedelta(days=6)
        begin = datetime(first.year, first.month, first.day, tzinfo=self.tz)
        after = day + timedelta(days=1)
        end = datetime(after.year, after.month, after.day, tzinfo=self.tz)
        query = ("SELECT period, start, metric, dim, sum(count), sum(sessions), sum(total) FROM analytics_rows "
                 "WHERE start >= ? AND start < ?" + (" AND device = ?" if device else "")
                 + " GROUP BY period, start, metric, dim")
        with self._db.reading() as conn:
            rows = conn.execute(query, (iso(begin), iso(end), *((device,) if device else ()))).fetchall()
        return _figures(device, view, first, day, self.tz, rows)


def _figures(device: str, view: View, first: date, last: date, tz: ZoneInfo, rows: list[tuple]) -> AnalyticsView:
    slots = ([f"{hour:02d}" for hour in range(24)] if view == "day"
             else [(first + timedelta(days=n)).strftime("%d-%m") for n in range(7)])
    footfall: dict[str, float] = defaultdict(float)
    calls: dict[str, float] = defaultdict(float)
    answered_by: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    counts: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # count, sessions, total
    for period, start, metric, dim, count, sessions, total in rows:
        local = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(tz)
        slot = f"{local.hour:02d}" if view == "day" else local.strftime("%d-%m")
        cell = counts[(metric, dim)]
        cell[0] += count
        cell[1] += sessions or 0
        cell[2] += total
        if period != "hour":
            continue
        if metric == "footfall":
            footfall[slot] += count
        elif metric == "assist":
            calls[slot] += count
        elif metric == "assist-ack":
            answered_by[slot][0] += count
            answered_by[slot][1] += total

    def dims(metric: str) -> dict[str, list[float]]:
        return {dim: cell for (name, dim), cell in counts.items() if name == metric}

    result = AnalyticsView(device, view, first, last)
    result.footfall = [(slot, footfall.get(slot, 0.0)) for slot in slots]
    result.calls = [(slot, calls.get(slot, 0.0)) for slot in slots]
    result.answer_by_slot = [(slot, round(answered_by[slot][1] / answered_by[slot][0], 1)
                              if slot in answered_by and answered_by[slot][0] else 0.0) for slot in slots]
    presence = dims("presence").get("", [0.0, 0.0, 0.0])
    result.presences, result.dwell_s = int(presence[0]), presence[2]
    result.engaged = int(dims("engaged").get("", [0.0])[0])
    kinds = dims("sessions")
    result.sessions = [(kind, kinds[kind][1]) for kind, _name in KINDS if kind in kinds]
    reached, exits = dims("phase-reached"), dims("phase-exit")
    result.funnel = [(phase, reached[phase][1] if phase in reached else 0.0) for phase, _name in PHASES
                     if phase != "reach"]
    result.phase_seconds = [(phase, round(reached[phase][2] / reached[phase][1], 1)) for phase, _name in PHASES
                            if phase in reached and reached[phase][1]]
    result.exits = [(phase, exits[phase][1]) for phase, _name in (*PHASES, ("other", "Overige")) if phase in exits]
    plays = sorted(dims("play").items(), key=lambda item: (-item[1][0], item[0]))
    result.plays = [(item, cell[0]) for item, cell in plays]
    result.play_seconds = [(item, round(cell[2], 1)) for item, cell in plays]
    result.assist_calls = int(sum(cell[0] for cell in dims("assist").values()))
    ack = dims("assist-ack").get("", [0.0, 0.0, 0.0])
    result.answered = int(ack[0])
    result.answer_s = round(ack[2] / ack[0], 1) if ack[0] else None
    scores = dims("feedback")
    result.feedback = int(sum(cell[0] for cell in scores.values()))
    if result.feedback:
        result.feedback_score = round(sum(int(score) * cell[0] for score, cell in scores.items()
                                          if score.isdigit()) / result.feedback, 2)
    result.offers = int(sum(cell[0] for cell in dims("offer-activation").values()))
    return result


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")
