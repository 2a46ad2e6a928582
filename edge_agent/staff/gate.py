"""The gate every staff request passes: "this session is in staff mode, with at least this role".

A handler of a staff request (content, checks, calls, the audit log) names the session it belongs to and
asks :meth:`StaffGate.require` first; it gets the :class:`StaffMember` to act as, or a
:class:`~edge_agent.commands.CommandError` the kiosk shows (the request is answered with the error and
nothing is done). Asking counts as activity: staff mode's idle timeout starts again. A refusal is audited
when the handler names its action, so what was tried and refused is in the audit as well.

Usage, in a handler registered with :meth:`edge_agent.commands.Commands.register`::

    member = agent.staff.gate.require(request.session, StaffRole.MANAGER, action="content-schedule",
                                      target=request.item)
    ...                                    # do it
    agent.staff.audit.record(member.staff, "content-schedule", AuditResult.OK, target=request.item)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..commands import CommandError
from ..contract import AuditResult, StaffRole, StaffState
from .audit import AuditLog


@dataclass(frozen=True)
class StaffMember:
    """Who acts in a staff-mode session: id, the name shown, the role granted (a manager with a badge that
    is not SUN-verified, where the store requires it, is granted ``staff``), and the session."""

    staff: str
    display_name: str
    role: StaffRole
    session: str

    def may(self, role: StaffRole) -> bool:
        """Whether the granted role covers ``role`` (a manager may do what staff may)."""
        return self.role is StaffRole.MANAGER or role is StaffRole.STAFF


# What a gate asks the staff modes: the member of a session in active staff mode (marking it active), or
# why not (a StaffState other than active, or None when the session is gone).
Lookup = Callable[[str], StaffMember | StaffState | None]


class StaffGate:
    """Checks that a request's session is in staff mode with the role it needs.

    :param lookup: the staff modes' look-up (:meth:`edge_agent.staff.mode.StaffModes.member`).
    :param audit: where refusals of named actions are recorded.
    """

    def __init__(self, lookup: Lookup, audit: AuditLog):
        self._lookup = lookup
        self._audit = audit

    def require(self, session: str, role: StaffRole = StaffRole.STAFF, action: str | None = None,
                target: str | None = None) -> StaffMember:
        """The member acting in ``session`` when it is in staff mode with ``role`` (or more).

        :param action: the action the request is for; when given, a refusal is audited as it (``refused``).
        :param target: what the action is on, for that audit entry.
        :raises CommandError: "not in staff mode" (no such session, the PIN pad, a locked badge, ended) or
            "needs the manager role".
        """
        found = self._lookup(session)
        if not isinstance(found, StaffMember):
            if action is not None:
                self._audit.record(None, action, AuditResult.REFUSED, target)
            state = found.value if found is not None else "no staff session"
            raise CommandError(f"not in staff mode ({state})")
        if not found.may(role):
            if action is not None:
                self._audit.record(found.staff, action, AuditResult.REFUSED, target)
            raise CommandError(f"needs the {role.value} role")
        return found
