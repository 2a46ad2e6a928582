"""The store console's content requests at the agent: the same changes and previews as staff mode's, for a staff
member logged in at the console instead of at this kiosk.

At the kiosk the staff gate checks a staff-mode session (badge, then PIN). The console checks the staff
member's PIN itself (the same verifier and lockout, :mod:`edge_agent.console.login`) and sends
``console-content-control`` / ``console-content-preview`` with the member's id; only the console's broker
login may publish those topics (:mod:`edge_agent.contract.roles`, the store broker's ACL). This agent still
looks the member up in *its own* staff records (central pushes them to every agent) and checks the role the
action needs, so a removed member or a staff member asking for a manager's action is refused here too. Every
change, preview and refusal is audited as ``event/staff-audit`` exactly as at the kiosk.
"""

from __future__ import annotations

import logging

from ..commands import CommandError, Commands
from ..contract import AuditResult, StaffRole
from ..contract.payloads_console import ConsoleContentControlRequest, ConsolePreviewRequest
from ..contract.payloads_content_control import ContentControlResult, PreviewResult
from ..staff.gate import StaffMember
from ..staff.records import find_staff
from .service import ContentControl

logger = logging.getLogger(__name__)


class ConsoleRequests:
    """Carries out the console's content requests with :class:`ContentControl`.

    :param content: the agent's content control (its store, gate's audit and pack).
    """

    def __init__(self, content: ContentControl):
        self.content = content

    def register(self, commands: Commands) -> None:
        """Carry out ``console-content-control`` and ``console-content-preview``."""
        commands.register("console-content-control", self.control)
        commands.register("console-content-preview", self.preview)

    def _member(self, staff: str, session: str, role: StaffRole, action: str, target: str | None) -> StaffMember:
        with self.content.store.reading() as conn:
            record = find_staff(conn, staff)
        if record is None or (role is StaffRole.MANAGER and record.role is not StaffRole.MANAGER):
            self.content.audit.record(staff if record is not None else None, action, AuditResult.REFUSED, target)
            why = "no active staff member with that id" if record is None else "needs the manager role"
            logger.info("console request %s refused: %s", action, why)
            raise CommandError(f"console: {why}")
        return StaffMember(record.staff, record.display_name, record.role, session)

    def control(self, request: ConsoleContentControlRequest) -> ContentControlResult:
        """``console-content-control``: the change, for the member named (checked and audited here).

        :raises CommandError: for an unknown member, a role that does not allow it, or a change that does not
            fit the pack in use.
        """
        action, target = self.content.audited_as(request)
        member = self._member(request.staff, request.session, self.content.role_for(request), action, target)
        return self.content.control_as(member, request)

    def preview(self, request: ConsolePreviewRequest) -> PreviewResult:
        """``console-content-preview``: what the content shows at ``at``, for the member named (audited).

        :raises CommandError: for an unknown member or a pack that cannot be previewed.
        """
        target = request.pack or self.content.library.current.name or None
        member = self._member(request.staff, request.session, StaffRole.STAFF, "content-preview", target)
        return self.content.preview_as(member, request)
