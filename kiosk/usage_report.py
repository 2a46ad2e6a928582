"""What the kiosk tells its agent about its use: the screens of each visit and the attract items it played.

For the agent's anonymous hourly analytics (:mod:`edge_agent.analytics`), on local request topics:

* ``report-screen``, once per screen a visit *left*: the screen, its phase, when it came up, how long it was
  shown, whether it was touched, and whether the visit ended with it. A visit runs from the first screen
  after the attract loop (a touch, a tap, a scan) until the kiosk is back on Bereik, or a session begins or
  ends; it is named by a random id drawn here (``v-`` and 16 hex digits), not the agent's session id, and
  its kind says only what kind of session it was (recognised, anonymous, enrolment) or none (browse).
  Staff mode is not reported: it is not a shopper's visit.
* ``report-play``, once per attract item that ended on Bereik: its id in the pack (``builtin`` for the
  kiosk's own taglines), its media, when it came up and for how long (proof of play).

So one message per screen change or item end, nothing personal in any: no name, card, customer or session
id. While the broker is away the reports wait here (the last :data:`BACKLOG` of them) and go with the next
one sent. The app calls :meth:`UsageReporter.shown` from its ``sync`` (every state change; only a change of
screen or session counts), :meth:`touched` on every touch, :meth:`play_started` / :meth:`play_stopped` from
the attract loop.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

#: The requests of this module (the app's sink drops their answers: nothing to show).
USAGE_COMMANDS = frozenset({"report-screen", "report-play"})
BACKLOG = 500  # reports kept while the broker is away
ATTRACT = "bereik"  # the attract loop: between visits, never part of one
BUILTIN_ITEM = "builtin"
# The session's outcome (the agent's word) -> the visit's kind; no session is a "browse".
KINDS = {"recognised": "recognised", "anonymous": "anonymous", "rejected": "anonymous", "unknown-card": "enrolment"}


@dataclass
class _Shown:
    screen: str
    phase: str
    started: float
    touched: bool = False


@dataclass
class _Playing:
    item: str
    media: str
    started: float
    pack: str | None


class UsageReporter:
    """Turns the kiosk's screen changes and attract items into the agent's usage reports.

    :param send: ``send(command, fields) -> bool``: send the local request (False: not sent, kept for later).
    :param clock: wall-clock seconds.
    :param monotonic: seconds on a monotonic clock (the durations).
    """

    def __init__(self, send: Callable[[str, dict[str, Any]], bool], clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self._send = send
        self._clock = clock
        self._monotonic = monotonic
        self._key: tuple[str, str | None] | None = None  # (screen, session id) last seen: ids stay in memory
        self._visit: tuple[str, str] | None = None  # (visit id, kind)
        self._shown: _Shown | None = None
        self._shown_mono = 0.0
        self._playing: _Playing | None = None
        self._playing_mono = 0.0
        self._backlog: deque[tuple[str, dict[str, Any]]] = deque(maxlen=BACKLOG)
        self.sent = 0

    # ------------------------------------------------------------------ screens

    def shown(self, screen: str, phase: str, session: str | None, outcome: str | None, staff: bool) -> None:
        """The kiosk shows ``screen`` (of ``phase``) in ``session`` (its id and outcome, None without one);
        ``staff``: in staff mode. Only a change of screen or session is reported."""
        key = (screen, session)
        if key == self._key:
            return
        new_session = self._key is not None and self._key[1] != session
        self._key = key
        ends = screen == ATTRACT or staff or new_session
        self._leave(ends_visit=ends)
        if ends:
            self._visit = None
        if screen == ATTRACT or staff:
            return
        if self._visit is None:
            self._visit = ("v-" + secrets.token_hex(8), KINDS.get(outcome or "", "browse") if session else "browse")
        self._shown = _Shown(screen, phase, self._clock())
        self._shown_mono = self._monotonic()

    def touched(self) -> None:
        """The screen was touched."""
        if self._shown is not None:
            self._shown.touched = True

    def _leave(self, ends_visit: bool) -> None:
        shown, visit = self._shown, self._visit
        self._shown = None
        if shown is None or visit is None:
            return
        self._report("report-screen", {
            "visit": visit[0], "kind": visit[1], "screen": shown.screen, "phase": shown.phase,
            "started": datetime.fromtimestamp(shown.started, UTC), "touched": shown.touched,
            "shown_s": round(max(0.0, self._monotonic() - self._shown_mono), 3), "ends_visit": ends_visit})

    # ------------------------------------------------------------------ attract items (proof of play)

    def play_started(self, item: str | None, media: str, pack: str | None = None) -> None:
        """An attract item came up (None: one of the built-in taglines); the one before it ended."""
        self.play_stopped()
        self._playing = _Playing(item or BUILTIN_ITEM, media, self._clock(), pack)
        self._playing_mono = self._monotonic()

    def play_stopped(self) -> None:
        """The attract item shown ended (the loop was left)."""
        playing, self._playing = self._playing, None
        if playing is None:
            return
        self._report("report-play", {
            "item": playing.item, "media": playing.media, "started": datetime.fromtimestamp(playing.started, UTC),
            "shown_s": round(max(0.0, self._monotonic() - self._playing_mono), 3), "pack": playing.pack})

    # ------------------------------------------------------------------ sending

    def _report(self, command: str, fields: dict[str, Any]) -> None:
        self._backlog.append((command, fields))
        while self._backlog:
            command, fields = self._backlog[0]
            if not self._send(command, fields):
                logger.debug("usage reports wait for the broker (%d kept)", len(self._backlog))
                return
            self._backlog.popleft()
            self.sent += 1

    @property
    def waiting(self) -> int:
        """Reports not sent yet."""
        return len(self._backlog)
