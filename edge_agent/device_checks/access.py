"""Who may use the device checks: the staff member of the current staff-mode session, and what their role
allows (the test event and the kiosk restart are for managers), with every action audited.

The checks do not decide who is in staff mode: :class:`StaffAccess` asks whoever does (the staff-mode
service) for the member and role behind a session, and :class:`Audit` records each action as
``event/staff-audit``. A refusal is audited too, then answered with an error: nothing is done that was not
allowed, and nothing is acknowledged that was not done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from ..commands import CommandError
from ..identity import Outcome

if TYPE_CHECKING:
    from ..sessions import SessionService

Role = Literal["staff", "manager"]
MANAGER_ONLY = "managers only: this staff member's role is staff"
NOT_STAFF = "not in staff mode: the device checks are for staff"


@dataclass(frozen=True)
class Member:
    """The staff member behind a staff-mode session: their id (for the audit) and role."""

    staff: str
    role: Role


class StaffAccess(Protocol):
    """The staff mode's answer to "who is this session?"."""

    def member(self, session: str) -> Member:
        """The staff member in active staff mode in ``session``.

        :raises CommandError: when ``session`` is not the current session in active staff mode.
        """
        ...

    def alive(self, session: str) -> bool:
        """Whether ``session`` is still the current session in active staff mode (never raises)."""
        ...


class Audit(Protocol):
    """Records one staff action upstream (``event/staff-audit``, critical)."""

    def __call__(self, staff: str | None, action: str, target: str | None, result: str) -> None: ...


def require(access: StaffAccess, audit: Audit, session: str, action: str, manager: bool = False) -> Member:
    """The member of ``session`` when they may do ``action``; a refusal is audited and raised.

    :raises CommandError: not in staff mode, or (``manager``) the role is staff.
    """
    try:
        member = access.member(session)
    except CommandError:
        audit(None, action, None, "refused")
        raise
    if manager and member.role != "manager":
        audit(member.staff, action, None, "refused")
        raise CommandError(MANAGER_ONLY)
    return member


class SessionStaffAccess:
    """Staff access from the sessions alone: the current session is a staff badge's. Every badge holder has the
    role ``staff`` (there is no manager without the staff records).

    :param sessions: the session service, or None on a device without a reader (then no one is in staff mode).
    """

    def __init__(self, sessions: SessionService | None):
        self._sessions = sessions

    def member(self, session: str) -> Member:
        current = self._sessions.current(session) if self._sessions is not None else None
        if current is None or current.decision.outcome is not Outcome.STAFF or current.decision.staff is None:
            raise CommandError(NOT_STAFF)
        return Member(current.decision.staff, "staff")

    def alive(self, session: str) -> bool:
        try:
            self.member(session)
        except CommandError:
            return False
        return True
