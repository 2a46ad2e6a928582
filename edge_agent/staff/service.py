"""Store staff on one agent: the pieces of :mod:`edge_agent.staff` put together, and their requests.

:class:`StaffService` is what the agent holds as ``agent.staff`` (when it has a card reader, hence
sessions): :attr:`~StaffService.gate` for every handler of a staff request, :attr:`~StaffService.audit` to
record what staff did, :attr:`~StaffService.modes` (badge, PIN, staff mode), :attr:`~StaffService.calls`
(this device's open staff-assist calls) and :attr:`~StaffService.lockout`. :meth:`StaffService.register`
adds the requests ``staff-pin``, ``staff-status``, ``staff-audit-log``, ``staff-calls``,
``staff-call-handled`` and ``staff-console-code`` (:mod:`.console_code`), the store console's
``console-call-answer`` (:attr:`~StaffService.answers`), and wraps ``staff-assist`` so each call is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..commands import Commands
from ..config import StaffConfig
from ..contract import STAFF_CALL, STAFF_MODE, AuditResult, SessionRequest, StaffAuditResult, StaffRole
from ..outbox import Outbox
from ..sessions import SessionService
from ..store import Store
from .audit import READABLE, AuditLog
from .call_answers import CallAnswers
from .calls import StaffCalls
from .console_code import ConsoleCodes
from .gate import StaffGate
from .lockout import Lockout
from .mode import StaffModes


class StaffService:
    """Store staff at this device.

    :param store: the agent's database.
    :param outbox: for ``event/staff-audit``.
    :param sessions: the card sessions staff badges start.
    :param publish: ``publish(topic, payload) -> bool`` to the broker (QoS 1, not retained).
    :param store_id: this store's id.
    :param device: this device's id.
    :param config: ``[staff]``.
    :param clock: wall-clock seconds (``time.time``): lockouts, audit times, how long calls waited.
    """

    def __init__(self, store: Store, outbox: Outbox, sessions: SessionService, publish: Callable[[str, bytes], bool],
                 store_id: str, device: str, config: StaffConfig, clock: Callable[[], float] = time.time):
        def now() -> datetime:
            return datetime.fromtimestamp(clock(), UTC)

        self.audit = AuditLog(store, outbox, now)
        self.lockout = Lockout(clock)
        self.modes = StaffModes(store, sessions, self.audit, self.lockout, publish,
                                STAFF_MODE.topic_for(store_id, device), config)
        self.gate = StaffGate(self.modes.member, self.audit)
        self.calls = StaffCalls(store, self.gate, self.audit, publish, STAFF_CALL.topic_for(store_id, device), now)
        self.answers = CallAnswers(store, self.calls, self.audit)  # the store console's "Ik kom eraan", "Afgehandeld"
        # One-time codes for the store console (issue 16): a member in staff mode logs in on their phone.
        self.console_codes = ConsoleCodes(self.gate, self.audit, publish, store_id, device, now)

    def register(self, commands: Commands) -> None:
        """Carry out the staff requests; record every staff-assist call (register after the shopping service)."""
        commands.register("staff-pin", self.modes.pin)
        commands.register("staff-status", self.modes.status)
        commands.register("staff-audit-log", self.audit_log)
        commands.register("staff-calls", self.calls.list)
        commands.register("staff-call-handled", self.calls.handled)
        commands.register("console-call-answer", self.answers.answer)
        commands.register("staff-console-code", self.console_codes.issue)
        assist = commands.handler("staff-assist")
        if assist is not None:
            commands.register("staff-assist", self.calls.wrap(assist))

    def audit_log(self, request: SessionRequest) -> StaffAuditResult:
        """``staff-audit-log``: managers read the last 50 staff actions (reading them is audited too)."""
        member = self.gate.require(request.session, StaffRole.MANAGER, action="audit-read")
        self.audit.record(member.staff, "audit-read", AuditResult.OK)
        return StaffAuditResult(entries=self.audit.last(READABLE))
