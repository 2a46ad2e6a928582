"""The agent's wall clock, and whether it can be trusted to judge a consent's end date.

A consent is valid until a date D. The agent judges it by the wall clock, and
a Raspberry Pi has no battery-backed clock: after a power cut it boots at 1970
or at the time ``fake-hwclock`` saved before the cut (days or months behind),
and NTP sets the right time only once the network is there, minutes later or
never. With a clock months behind, every consent that ended in the meantime
would still hold (data kept late); with a clock that is wrong ahead, consents
would end early. So the rule is:

* a consent until D is valid **iff the trusted wall-clock time is before D**;
* while the clock is **not trusted**, no consent is judged: a customer's tap
  gives an anonymous session (reason ``clock-not-synchronised``, no invitation
  to enrol, nothing of theirs shown or logged), a staff badge still works.
  Stored consents are left as they are: they are neither expired early nor
  kept late, only not used until the time is known.

The clock is trusted (:meth:`WallClock.trusted`) when its time is not before
``[clock] earliest`` (an obviously old time: 1970, the image's build date)
and, with ``[clock] trust = "synchronized"`` (the default), the system says it
is synchronised: the kernel's NTP status (``adjtimex``: a maximum error below
16 s, which is what ``timedatectl`` shows as "System clock synchronized" and
what systemd-timesyncd, chrony and ntpd all set), or systemd-timesyncd's
marker file ``/run/systemd/timesync/synchronized`` (on a tmpfs: gone after
every power cut until the next sync). Setting the clock by hand
(``settimeofday``) clears the kernel's status until NTP disciplines it again,
so a jump backwards or forwards that does not come from NTP also makes the
clock untrusted. ``trust = "plausible"`` trusts any time after ``earliest``:
for a device with a battery-backed real-time clock, and for test machines
whose kernel no NTP daemon disciplines.

The other clocks of the agent: session limits run on the boot clock
(:func:`edge_agent.sessions.boot_clock`), which no clock setting moves; the
retention (:mod:`edge_agent.retention`) prunes by this wall clock, and only
while it is trusted.

``[clock] offset_s`` shifts this clock by a number of seconds: tests and
drills run the agent months ahead or behind without ``faketime``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the configuration imports this module for its defaults
    from .config import ClockConfig

logger = logging.getLogger(__name__)

#: Where systemd-timesyncd says it has synchronised the clock since boot (systemd >= 246).
TIMESYNCD_MARKER = Path("/run/systemd/timesync/synchronized")
#: A time before this is never trusted: no agent of this version ran before it.
EARLIEST_PLAUSIBLE = datetime(2026, 1, 1, tzinfo=UTC)
#: The kernel's largest maximum error (NTP_PHASE_LIMIT, microseconds): at it, nothing disciplines the clock.
_UNSYNCHRONISED_MAXERROR_US = 16_000_000
#: Why a customer's tap gives an anonymous session while the clock is not trusted.
CLOCK_NOT_SYNCHRONISED = "clock-not-synchronised"


class _Timex(ctypes.Structure):
    """``struct timex`` of <sys/timex.h> (Linux), read with ``modes = 0``: no change, no privilege needed."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_reserved", ctypes.c_int * 11)]


def _load_adjtimex() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.adjtimex
    except (OSError, AttributeError):  # not Linux (or no libc): the marker file alone
        return None


_adjtimex = _load_adjtimex()


def kernel_timex() -> tuple[int, int] | None:
    """``adjtimex(2)`` read with no modes set (it changes nothing): (its clock state, the maximum error in
    microseconds), or None where it cannot be asked (not Linux, no libc, an error)."""
    if _adjtimex is None:
        return None
    timex = _Timex()
    state = _adjtimex(ctypes.byref(timex))
    return None if state < 0 else (state, timex.maxerror)


def kernel_synchronised() -> bool:
    """True when the kernel's NTP status says an NTP daemon disciplines the clock (as systemd's
    ``ntp_synced()``: a maximum error below 16 s; the STA_UNSYNC flag is not looked at, since it may be
    set only to keep the kernel from writing the RTC). False where ``adjtimex`` is not available."""
    read = kernel_timex()
    return read is not None and 0 <= read[1] < _UNSYNCHRONISED_MAXERROR_US


class WallClock:
    """The wall clock of the agent (UTC, aware) and whether it is trusted.

    :param trust: ``"synchronized"`` (trusted once the system reports synchronisation) or ``"plausible"``
        (any time not before ``earliest``).
    :param synchronized_file: the marker file whose presence means synchronised.
    :param kernel_status: also ask the kernel (:func:`kernel_synchronised`).
    :param earliest: a time before this is never trusted.
    :param offset_s: added to the system's time (tests and drills).
    :param system_time: the system's clock in seconds since the epoch; replaceable in tests.
    :param kernel: the kernel's synchronisation status; replaceable in tests.
    """

    def __init__(self, trust: str = "synchronized", synchronized_file: Path = TIMESYNCD_MARKER,
                 kernel_status: bool = True, earliest: datetime = EARLIEST_PLAUSIBLE, offset_s: float = 0.0,
                 system_time: Callable[[], float] = time.time, kernel: Callable[[], bool] = kernel_synchronised):
        if trust not in ("synchronized", "plausible"):
            raise ValueError(f"unknown clock trust {trust!r}: 'synchronized' or 'plausible'")
        self._trust = trust
        self._marker = synchronized_file
        self._kernel_status = kernel_status
        self._earliest = earliest
        self._offset = timedelta(seconds=offset_s)
        self._system_time = system_time
        self._kernel = kernel
        self._lock = threading.Lock()
        self._was_trusted: bool | None = None

    @classmethod
    def from_config(cls, config: ClockConfig) -> WallClock:
        """The clock of a :class:`edge_agent.config.ClockConfig`."""
        return cls(trust=config.trust, synchronized_file=config.synchronized_file,
                   kernel_status=config.kernel_status, earliest=config.earliest, offset_s=config.offset_s)

    def now(self) -> datetime:
        """The current wall-clock time (aware, UTC), trusted or not."""
        return datetime.fromtimestamp(self._system_time(), UTC) + self._offset

    def timestamp(self) -> float:
        """:meth:`now` in seconds since the epoch (how the database stamps rows)."""
        return self.now().timestamp()

    def why_untrusted(self, now: datetime | None = None) -> str | None:
        """Why the clock is not trusted now, or None when it is."""
        now = now or self.now()
        if now < self._earliest:
            return f"the time {now:%Y-%m-%d %H:%M} UTC is before {self._earliest:%Y-%m-%d} (not set since boot)"
        if self._trust == "plausible":
            return None
        if self._marker.exists() or (self._kernel_status and self._kernel()):
            return None
        return "the system does not report the clock synchronised (no NTP sync since boot)"

    def trusted(self) -> bool:
        """True when the time may be used to judge a consent's end (see the module docstring).

        A change from trusted to untrusted or back is logged once.
        """
        return self._judge(self.now())

    def trusted_now(self) -> datetime | None:
        """The current time when the clock is trusted, else None."""
        now = self.now()
        return now if self._judge(now) else None

    def _judge(self, now: datetime) -> bool:
        why = self.why_untrusted(now)
        with self._lock:
            changed, self._was_trusted = self._was_trusted is not (why is None), why is None
        if changed:
            if why is None:
                logger.info("the wall clock is trusted (%s UTC): consents are judged by it", f"{now:%Y-%m-%d %H:%M}")
            else:
                logger.warning("the wall clock is not trusted: %s; customers get anonymous sessions until it is",
                               why)
        return why is None
