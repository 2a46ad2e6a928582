"""The store console's answers to this device's staff-assist calls: "Ik kom eraan" and "Afgehandeld".

The console (staff on their phones, logged in there with their id and PIN) sends ``local/request/console-call-answer``
to the agent of the device that called. Only the console's broker login may publish that topic
(:data:`edge_agent.contract.roles.OVERRIDES`): the kiosk's own screen cannot answer its calls. The agent still
checks the staff member the console names against its own staff records (an unknown or removed member is
refused and audited) and shows the name it holds for them.

- ``coming``: audited ``call-coming`` (once per member of staff and call: the console sends its answers again
  after a restart) and told to the kiosk on ``local/staff-call`` with the name it shows ("Anna komt eraan").
- ``handled``: the call is closed as at the kiosk (:meth:`.calls.StaffCalls.close`, audited
  ``call-handled``); a call handled already is no error here, the answer changes nothing.

The answer comes only after the change is committed; a call this device does not know, or ``coming`` to a
call handled already, is refused with the reason.
"""

from __future__ import annotations

import logging
import threading

from ..commands import CommandError
from ..contract import AuditResult, CallAnswer, CallAnswerRequest, CallAnswerResult
from ..store import Store
from .audit import AuditLog
from .calls import StaffCalls
from .records import StaffRecord, find_staff

logger = logging.getLogger(__name__)

REMEMBERED = 1000  # (call, staff) pairs remembered as coming, so a resent answer is not audited again


class CallAnswers:
    """Applies the store console's answers to this device's calls.

    :param store: the agent's database (its staff records).
    :param calls: this device's calls.
    :param audit: the audit of staff actions.
    """

    def __init__(self, store: Store, calls: StaffCalls, audit: AuditLog):
        self._store = store
        self._calls = calls
        self._audit = audit
        self._lock = threading.Lock()
        self._coming: dict[tuple[str, str], None] = {}  # insertion-ordered: the oldest are forgotten first

    def answer(self, request: CallAnswerRequest) -> CallAnswerResult:
        """``console-call-answer``: apply a member of staff's answer from the console.

        :raises CommandError: for a member of staff this store does not know, a call this device does not know,
            or ``coming`` to a handled call.
        """
        member = self.member(request.staff, "call-" + request.answer.value, request.call)
        if request.answer is CallAnswer.HANDLED:
            changed = self._calls.close(request.call, request.staff, again_ok=True)
            logger.info("call %s handled from the store console%s", request.call, "" if changed else " (again)")
            return CallAnswerResult(call=request.call, answer=request.answer, changed=changed)
        state = self._calls.is_open(request.call)
        if state is None:
            raise CommandError("no such call at this device")
        if not state:
            self._audit.record(request.staff, "call-coming", AuditResult.FAILED, target=request.call)
            raise CommandError("that call was handled already")
        key = (request.call, request.staff)
        with self._lock:
            changed = key not in self._coming
            self._coming[key] = None
            while len(self._coming) > REMEMBERED:
                del self._coming[next(iter(self._coming))]
        if changed:
            self._audit.record(request.staff, "call-coming", AuditResult.OK, target=request.call)
        # Told again on a resent answer too: the kiosk may have missed the first.
        self._calls.tell_kiosk(request.call, "coming", member.display_name)
        return CallAnswerResult(call=request.call, answer=request.answer, changed=changed)

    def member(self, staff: str, action: str, target: str | None) -> StaffRecord:
        """The active member of staff ``staff``, as this agent's records hold them.

        :raises CommandError: (audited as ``action`` refused) when this store has no such active member.
        """
        with self._store.reading() as conn:
            member = find_staff(conn, staff)
        if member is None:
            self._audit.record(staff, action, AuditResult.REFUSED, target=target)
            raise CommandError("no such member of staff in this store")
        return member
