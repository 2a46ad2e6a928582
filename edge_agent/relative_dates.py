"""Dates and times relative to now, for fixtures and demo content that must not run out.

A whole string value is one of (``N`` a whole number):

* ``today``, ``today+Nd``, ``today-Nw``: a date (``YYYY-MM-DD``), the day of
  ``now`` in ``now``'s time zone, moved by days or weeks;
* ``today+NdThh:mm[:ss]Z``: that day at that UTC time, as an RFC 3339 date-time;
* ``now``, ``now+Nh``, ``now-Nmin``: an RFC 3339 UTC date-time to the second
  (units ``s``, ``min``, ``h``, ``d``, ``w``).

``edge-agent central push`` resolves them in fixtures files (in UTC), the
kiosk's content packs in schedules (``when: {from: today-30d, until: today+180d}``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

RELATIVE_DAY = re.compile(r"today(?:([+-])(\d{1,5})([dw]))?(?:T(\d\d):(\d\d)(?::(\d\d))?Z)?")
RELATIVE_NOW = re.compile(r"now(?:([+-])(\d{1,7})(s|min|h|d|w))?")
LOOKS_RELATIVE = re.compile(r"(today|now)([-+T].*)?")
_UNITS = {"s": timedelta(seconds=1), "min": timedelta(minutes=1), "h": timedelta(hours=1),
          "d": timedelta(days=1), "w": timedelta(weeks=1)}


class RelativeDateError(ValueError):
    """A value that starts like a relative date but is not one."""


def relative_date(text: str, now: datetime) -> str | None:
    """The ISO text of a relative date or time (see the module docstring) at ``now`` (aware), or None when
    ``text`` is not one.

    :raises RelativeDateError: when ``text`` starts like one but is not.
    """
    if not LOOKS_RELATIVE.fullmatch(text):
        return None
    try:
        return _resolve(text, now)
    except OverflowError:
        raise RelativeDateError(f"{text!r}: out of the range of dates") from None


def _resolve(text: str, now: datetime) -> str:
    if match := RELATIVE_DAY.fullmatch(text):
        sign, amount, unit, hour, minute, second = match.groups()
        day = now.date()
        if amount:
            day += (-1 if sign == "-" else 1) * int(amount) * _UNITS[unit]
        if hour is None:
            return day.isoformat()
        try:
            at = time(int(hour), int(minute), int(second or 0))
        except ValueError:
            raise RelativeDateError(f"{text!r}: not a time of day") from None
        return datetime.combine(day, at, UTC).isoformat().replace("+00:00", "Z")
    if match := RELATIVE_NOW.fullmatch(text):
        sign, amount, unit = match.groups()
        moment = now.astimezone(UTC).replace(microsecond=0)
        if amount:
            moment += (-1 if sign == "-" else 1) * int(amount) * _UNITS[unit]
        return moment.isoformat().replace("+00:00", "Z")
    raise RelativeDateError(f"{text!r} is not a relative date: write today, today+180d, today-2w, "
                            f"today+3dT18:00Z, now, now-90min, now+2h (units s, min, h, d, w)")
