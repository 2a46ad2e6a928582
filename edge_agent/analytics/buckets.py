"""Hourly buckets of a device's anonymous analytics, computed from what it observed: pure, no I/O.

:class:`Aggregator` takes what the agent sees (camera footfall and presence,
the kiosk's screen and play reports, feedback, offer activations, staff calls
and their answers), each with the wall-clock time it happened, and keeps the
sums per bucket: ``(hour, metric, dim)``, the hour being its start in seconds
since the epoch (UTC). :meth:`Aggregator.take` hands over what was added since
the last call (the service adds it to SQLite), so a bucket row is a sum of
deltas and the aggregator holds only what is not written yet.

A visit's screens arrive one report at a time; the aggregator keeps the visit
in memory (by the kiosk's random visit id, never written) until its last
screen, or until no report came for ``visit_timeout_s``, then folds it into the
bucket of that hour at once: one ``sessions`` row for its kind, one
``phase-reached`` row per phase it reached, one ``phase-exit`` row for the
phase it ended in, one ``screen`` row per screen. Each folded visit adds 1 to
the ``sessions`` column of each of its rows, so that column counts distinct
sessions by construction. Feedback, offer activations and staff calls carry the
agent's session id: a row's ``sessions`` counts the distinct ids seen for it in
the hour (a set kept in memory for the open hours only; an event without one
counts as a session of its own). Rows of metrics that describe no session
(footfall, presence, proof of play) have ``sessions`` None.

Engagement: a presence (the camera saw someone, from ``started`` to
``ended``) is engaged when a visit began during it (give or take
:data:`ENGAGE_SLACK_S`). The presence ends before or after the visit's first
report arrives, so both are kept for an hour and matched whichever comes last;
the ``engaged`` row is counted in the hour the presence ended.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..contract.payloads_analytics import Metric, VisitKind

HOUR_S = 3600
ENGAGE_SLACK_S = 5.0  # a visit that began this close to a presence's ends still came from it
MATCH_WINDOW_S = 3600.0  # presences and visit starts kept for matching this long
NO_DIM = ""

Key = tuple[int, Metric, str]  # (hour start in epoch seconds, metric, dimension)


def hour_of(at: float) -> int:
    """The start (epoch seconds, UTC) of the hour ``at`` falls in."""
    return int(at // HOUR_S) * HOUR_S


@dataclass
class Cell:
    """What a bucket row adds up: a count, the sessions behind it (None: it counts none) and a sum."""

    count: int = 0
    sessions: int | None = None
    total: float = 0.0

    def add(self, count: int, total: float = 0.0, sessions: int | None = None) -> None:
        self.count += count
        self.total += total
        if sessions is not None:
            self.sessions = (self.sessions or 0) + sessions


@dataclass
class _Visit:
    kind: VisitKind
    started: float  # epoch seconds of its first screen
    last_seen: float  # epoch seconds of its last report (the aggregator's clock)
    seconds: float = 0.0
    last_phase: str = NO_DIM
    phases: dict[str, list[float]] = field(default_factory=dict)  # phase -> [screens, seconds]
    screens: dict[str, list[float]] = field(default_factory=dict)  # screen -> [shows, seconds]


@dataclass
class _Presence:
    started: float
    ended: float
    engaged: bool = False


class Aggregator:
    """Sums of what the device observed, per hourly bucket (see the module's docstring).

    :param visit_timeout_s: a visit with no report for this long is folded as it is (the kiosk restarted, its
        report was lost).
    """

    def __init__(self, visit_timeout_s: float = 900.0):
        self._timeout = visit_timeout_s
        self._cells: dict[Key, Cell] = {}
        self._seen: dict[Key, set[str]] = {}  # sessions already counted per row of the open hours
        self._visits: dict[str, _Visit] = {}
        self._presences: deque[_Presence] = deque()
        self._visit_starts: deque[float] = deque()

    # ------------------------------------------------------------------ what the device observed

    def footfall(self, at: float, count: int) -> None:
        """The camera counted ``count`` people in an interval that ended at ``at``."""
        self._add(at, Metric.FOOTFALL, NO_DIM, count)

    def presence(self, at: float, started: float, ended: float, dwell_s: float) -> None:
        """Someone stood in front of the camera from ``started`` to ``ended`` (reported at ``at``)."""
        self._add(at, Metric.PRESENCE, NO_DIM, 1, dwell_s)
        presence = _Presence(started, ended)
        if any(started - ENGAGE_SLACK_S <= start <= ended + ENGAGE_SLACK_S for start in self._visit_starts):
            presence.engaged = True
            self._add(at, Metric.ENGAGED, NO_DIM, 1, sessions=1)
        self._presences.append(presence)
        self._forget(at)

    def screen(self, at: float, visit: str, kind: VisitKind, screen: str, phase: str, started: float,
               shown_s: float, ends_visit: bool) -> None:
        """The kiosk left ``screen`` (of ``phase``) of ``visit``, shown from ``started`` for ``shown_s``."""
        current = self._visits.get(visit)
        if current is None:
            current = self._visits[visit] = _Visit(kind, started, at)
            self._visit_begun(at, started)
        current.kind = kind  # an anonymous browse may become a session's visit (a card tapped while browsing)
        current.last_seen = at
        current.seconds += shown_s
        current.last_phase = phase
        for table, name in ((current.phases, phase), (current.screens, screen)):
            row = table.setdefault(name, [0, 0.0])
            row[0] += 1
            row[1] += shown_s
        if ends_visit:
            self._fold(at, self._visits.pop(visit))

    def play(self, at: float, item: str, shown_s: float) -> None:
        """An attract item was shown for ``shown_s`` seconds, ending at ``at`` (proof of play)."""
        self._add(at, Metric.PLAY, item, 1, shown_s)

    def feedback(self, at: float, session: str | None, score: int) -> None:
        """A shopper gave ``score`` (1-5)."""
        self._add_session(at, Metric.FEEDBACK, str(score), session)

    def offer_activation(self, at: float, session: str | None, offer: str) -> None:
        """A shopper activated ``offer``."""
        self._add_session(at, Metric.OFFER_ACTIVATION, offer, session)

    def assist(self, at: float, session: str | None, phase: str | None) -> None:
        """A shopper called for staff (in ``phase``, when the kiosk said)."""
        self._add_session(at, Metric.ASSIST, phase or NO_DIM, session)

    def assist_answered(self, at: float, waited_s: float) -> None:
        """Staff answered a call after ``waited_s`` seconds."""
        self._add(at, Metric.ASSIST_ACK, NO_DIM, 1, max(0.0, waited_s), sessions=1)

    # ------------------------------------------------------------------ handing over

    def expire(self, now: float) -> int:
        """Fold the visits with no report for ``visit_timeout_s``; returns how many."""
        stale = [visit for visit, state in self._visits.items() if now - state.last_seen >= self._timeout]
        for visit in stale:
            self._fold(now, self._visits.pop(visit))
        self._forget(now)
        return len(stale)

    def take(self) -> dict[Key, Cell]:
        """What was added since the last call, by bucket; the aggregator forgets it."""
        cells, self._cells = self._cells, {}
        return cells

    def add_cell(self, hour: int, metric: Metric, dim: str, cell: Cell) -> None:
        """Add a taken ``cell`` back (its write failed): it is taken again with the next :meth:`take`."""
        self._add(hour, metric, dim, cell.count, cell.total, cell.sessions)

    def open_visits(self) -> int:
        """Visits whose last screen has not been reported yet."""
        return len(self._visits)

    def pending(self) -> Iterator[Key]:
        """The buckets with something not taken yet."""
        return iter(self._cells)

    # ------------------------------------------------------------------ inside

    def _add(self, at: float, metric: Metric, dim: str, count: int, total: float = 0.0,
             sessions: int | None = None) -> None:
        key = (hour_of(at), metric, dim)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = Cell()
        cell.add(count, total, sessions)

    def _add_session(self, at: float, metric: Metric, dim: str, session: str | None) -> None:
        key = (hour_of(at), metric, dim)
        new = 1
        if session is not None:
            seen = self._seen.setdefault(key, set())
            new = 0 if session in seen else 1
            seen.add(session)
        self._add(at, metric, dim, 1, sessions=new)

    def _visit_begun(self, at: float, started: float) -> None:
        self._visit_starts.append(started)
        for presence in self._presences:
            if not presence.engaged and presence.started - ENGAGE_SLACK_S <= started <= presence.ended + ENGAGE_SLACK_S:
                presence.engaged = True
                self._add(presence.ended, Metric.ENGAGED, NO_DIM, 1, sessions=1)
                break

    def _fold(self, at: float, visit: _Visit) -> None:
        self._add(at, Metric.SESSIONS, visit.kind.value, 1, visit.seconds, sessions=1)
        for phase, (screens, seconds) in visit.phases.items():
            self._add(at, Metric.PHASE_REACHED, phase, int(screens), seconds, sessions=1)
        self._add(at, Metric.PHASE_EXIT, visit.last_phase, 1, sessions=1)
        for screen, (shows, seconds) in visit.screens.items():
            self._add(at, Metric.SCREEN, screen, int(shows), seconds, sessions=1)

    def _forget(self, now: float) -> None:
        """Drop what can no longer match or be counted again: presences and visit starts older than
        :data:`MATCH_WINDOW_S`, and the session sets of hours before the previous one."""
        horizon = now - MATCH_WINDOW_S
        while self._presences and self._presences[0].ended < horizon:
            self._presences.popleft()
        while self._visit_starts and self._visit_starts[0] < horizon:
            self._visit_starts.popleft()
        oldest = hour_of(now) - HOUR_S
        for key in [key for key in self._seen if key[0] < oldest]:
            del self._seen[key]
