"""The daily hours in which a shop lets the agent download content ("22:00-06:00", in store time).

A shop's line is shared with its tills and card terminals, so large downloads
may be kept to the night. The window is a start and an end time of day in the
store's time zone; an end before the start crosses midnight, and equal times
mean the whole day. A download outside the window waits for it to open; one
running when it closes stops between two reads and resumes (HTTP Range) when
it opens again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _time_of(text: str, where: str) -> time:
    match = _HHMM.fullmatch(text.strip())
    if not match:
        raise ValueError(f"download window {where} {text.strip()!r} is not HH:MM (00:00 to 23:59)")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class DownloadWindow:
    """Daily hours ``start`` to ``end`` (end excluded); ``end <= start`` crosses midnight, equal is all day."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> DownloadWindow:
        """A window from ``"HH:MM-HH:MM"``.

        :raises ValueError: saying which part is wrong.
        """
        if not isinstance(text, str) or text.count("-") != 1:
            raise ValueError(f"download window {text!r} is not HH:MM-HH:MM (e.g. 22:00-06:00)")
        start, end = text.split("-")
        return cls(_time_of(start, "start"), _time_of(end, "end"))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: datetime) -> bool:
        """Whether ``local`` (a time in the store's zone) is inside the window."""
        now = local.time().replace(tzinfo=None)
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def opens_in(self, local: datetime) -> float:
        """Seconds from ``local`` until the window next opens (0 when it is open)."""
        if self.contains(local):
            return 0.0
        naive = local.replace(tzinfo=None)
        opening = datetime.combine(naive.date(), self.start)
        if opening <= naive:
            opening += timedelta(days=1)
        return (opening - naive).total_seconds()
