"""The device checks: the agent's answers to the kiosk's device-checks screen in staff mode.

Four local requests, each naming the staff-mode session it is made in, let through by the staff gate
(:class:`edge_agent.staff.gate.StaffGate`: staff mode, and the manager role where stated), every action
audited as ``event/staff-audit`` (:class:`edge_agent.staff.audit.AuditLog`):

* ``device-checks``: every figure, measured now (:class:`edge_agent.contract.payloads_device_checks.
  DeviceChecksReport`); it also sends a fresh broker probe, whose round trip the next report shows with its age;
* ``reader-test``: the next card tapped is a test (:mod:`.reader_test`);
* ``test-event`` (managers): ``event/device-test`` through the outbox (:mod:`.upstream_test`);
* ``restart-kiosk`` (managers): the answer tells the kiosk app to exit with :data:`KIOSK_RESTART_EXIT`,
  which its unit restarts; the agent itself carries on.

The figures: the broker round trip is the agent's own probe (published to the broker, received back on its
subscription: :meth:`edge_agent.agent.Agent._send_probe`); the outbox depth and its oldest event from the
outbox table; disk free from ``os.statvfs`` of the database's folder (as the health has it); the database's
size is its files' (main, write-ahead log, shared memory); the clock from :mod:`.clock`; the versions from
:mod:`.versions`; the camera from :mod:`.camera_check`.

Opening the checks (once per staff-mode session: the screen asks for the figures every second, and those
requests are not actions), arming the reader test, the test event and the restart are audited, refusals too.
Nothing in any answer is personal.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

from ..commands import CommandError, Commands
from ..contract import AuditResult, StaffRole
from ..contract.payloads_device_checks import (
    ChecksRequest,
    DeviceChecksReport,
    DeviceTestResult,
    ReaderTestState,
    RestartKioskResult,
)
from ..outbox import Outbox
from ..staff.audit import AuditLog
from ..staff.gate import StaffGate
from ..store import Store
from .camera_check import CameraCheckSource
from .clock import CentralClock
from .reader_test import ReaderTest
from .upstream_test import UpstreamTest
from .versions import versions

logger = logging.getLogger(__name__)

# EX_TEMPFAIL (sysexits.h): "try again later". The kiosk's unit restarts the app on it (Restart=on-failure
# restarts on any non-zero code; RestartForceExitStatus=75 says it for units that would not).
KIOSK_RESTART_EXIT = 75
PROBE_EVERY_S = 1.0  # a report sends a fresh probe at most this often
OPENED_REMEMBERED = 64
ReaderState = Literal["ok", "opening", "failed"]  # sessions whose opening of the checks was audited


def database_bytes(path: str) -> int:
    """The size of the database's files on disk: main file, write-ahead log and shared memory (0 in memory)."""
    if path == ":memory:":
        return 0
    total = 0
    for name in (path, path + "-wal", path + "-shm"):
        try:
            total += os.path.getsize(name)
        except FileNotFoundError:
            continue
    return total


class DeviceChecks:
    """Answers the device-checks requests.

    :param store: the agent's database; :param outbox: its outbox.
    :param clock_source: this clock against central's (fed by the link's messages).
    :param gate: lets a request through when its session is in staff mode (with the role it needs);
    :param audit: records each staff action.
    :param connected: whether the agent is connected to the broker.
    :param probe: sends the agent's broker probe; :param round_trip: the last round trip in ms and the
        monotonic time it was measured (None, None before the first).
    :param reader_test: the reader test, or None without a reader; :param reader_state: the reader's state.
    :param camera: the camera's figures, or None without a camera.
    :param content_pack: the content pack the agent holds ("id version"), or None.
    """

    def __init__(self, store: Store, outbox: Outbox, clock_source: CentralClock, gate: StaffGate, audit: AuditLog, *,
                 connected: Callable[[], bool], probe: Callable[[], None],
                 round_trip: Callable[[], tuple[float | None, float | None]],
                 reader_test: ReaderTest | None = None, reader_state: Callable[[], ReaderState] | None = None,
                 camera: CameraCheckSource | None = None, content_pack: Callable[[], str | None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._outbox = outbox
        self.clock = clock_source
        self._gate = gate
        self._audit = audit
        self._connected = connected
        self._probe = probe
        self._round_trip = round_trip
        self.reader_test = reader_test
        self._reader_state = reader_state
        self.camera = camera
        self._content_pack = content_pack
        self._clock = clock
        self.upstream = UpstreamTest(store, outbox, clock)
        self._probed = -PROBE_EVERY_S
        self._opened: OrderedDict[str, None] = OrderedDict()

    def register(self, commands: Commands) -> None:
        """Answer the four requests of the checks screen."""
        commands.register("device-checks", self.report)
        commands.register("reader-test", self.arm_reader_test)
        commands.register("test-event", self.send_test_event)
        commands.register("restart-kiosk", self.restart_kiosk)

    def stop(self) -> None:
        self.upstream.stop()

    # ------------------------------------------------------------------ the requests

    def report(self, request: ChecksRequest) -> DeviceChecksReport:
        """Every figure now (staff mode)."""
        member = self._gate.require(request.session, action="device-checks-open")
        if request.session not in self._opened:
            self._opened[request.session] = None
            while len(self._opened) > OPENED_REMEMBERED:
                self._opened.popitem(last=False)
            self._audit.record(member.staff, "device-checks-open", AuditResult.OK)
        now = self._clock()
        if self._connected() and now - self._probed >= PROBE_EVERY_S:
            self._probed = now
            self._probe()
        rtt_ms, measured = self._round_trip()
        depth = self._outbox.depth()
        reader_test = self.reader_test.state() if self.reader_test is not None else ReaderTestState(state="idle")
        return DeviceChecksReport(
            connected=self._connected(), broker_rtt_ms=rtt_ms,
            broker_rtt_age_s=None if measured is None else round(max(0.0, now - measured), 3),
            outbox_depth=depth.total,
            outbox_oldest_age_s=None if depth.oldest_age_s is None else round(depth.oldest_age_s, 3),
            disk_free_bytes=self._store.free_bytes(), database_bytes=database_bytes(self._store.path),
            clock=self.clock.check(), versions=versions(), content_pack=self._content_pack(),
            reader_state=self._reader_state() if self._reader_state is not None else None,
            reader_test=reader_test, camera=self.camera.check() if self.camera is not None else None,
            test_event=self.upstream.state(), role=member.role.value)

    def arm_reader_test(self, request: ChecksRequest) -> ReaderTestState:
        """The next tap is a test (staff mode; a device without a reader says so)."""
        member = self._gate.require(request.session, action="reader-test")
        if self.reader_test is None:
            self._audit.record(member.staff, "reader-test", AuditResult.FAILED)
            raise CommandError("this device has no card reader")
        state = self.reader_test.arm(request.session)
        self._audit.record(member.staff, "reader-test", AuditResult.OK)
        return state

    def send_test_event(self, request: ChecksRequest) -> DeviceTestResult:
        """Managers: ``event/device-test`` upstream through the outbox."""
        member = self._gate.require(request.session, StaffRole.MANAGER, action="test-event")
        try:
            event = self.upstream.send()
        except Exception:
            self._audit.record(member.staff, "test-event", AuditResult.FAILED)
            raise
        self._audit.record(member.staff, "test-event", AuditResult.OK, target=event)
        return DeviceTestResult(event=event)

    def restart_kiosk(self, request: ChecksRequest) -> RestartKioskResult:
        """Managers: the kiosk app exits on this answer and its unit starts it again."""
        member = self._gate.require(request.session, StaffRole.MANAGER, action="restart-kiosk")
        self._audit.record(member.staff, "restart-kiosk", AuditResult.OK)
        logger.info("kiosk restart allowed for a manager: the kiosk app exits with %d", KIOSK_RESTART_EXIT)
        return RestartKioskResult(exit_code=KIOSK_RESTART_EXIT)
