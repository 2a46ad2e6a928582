"""Payloads of the store console (issue 16): the requests it sends to a kiosk's agent for a staff member logged
in at the console, not at the kiosk.

At a kiosk, staff change its content in a staff-mode session (badge, then PIN); the agent's staff gate checks
that session. At the console, staff log in with their staff id and PIN (the same verifier and lockout,
:mod:`edge_agent.console.login`) and the console sends the *same* change with the staff member's id
(``staff``) and the id of the console login (``session``, a UUID: not a kiosk session, it names the console
login in the agent's log). Only the console's broker login may publish these (the ACL, from
:mod:`edge_agent.contract.roles`); the agent still checks the id against its own staff records and the role
the action needs, and audits each change as ``event/staff-audit`` like one made at the kiosk.
"""

from __future__ import annotations

from pydantic import Field

from .payloads_content_control import ContentControlRequest, PreviewRequest
from .types import StaffId


class ConsoleContentControlRequest(ContentControlRequest):
    """A content change (on/off, order, reset, undo…) made at the store console; ``session`` is the console
    login's id."""

    staff: StaffId = Field(description="The staff member logged in at the console; the agent checks their "
                                       "record and role.")


class ConsolePreviewRequest(PreviewRequest):
    """What a kiosk's content shows at a chosen moment, asked at the store console; ``session`` is the console
    login's id."""

    staff: StaffId = Field(description="The staff member logged in at the console.")
