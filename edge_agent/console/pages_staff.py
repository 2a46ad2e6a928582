"""Managers only: the staff members the console knows from central (name and role; never a verifier), and
whether each is locked out at the console now. Reading it is audited (``staff-list-read``)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..contract import AuditResult, StaffRole
from .service import Console
from .sessions import WebSession
from .web import page, render


async def staff_page(request: Request) -> Response:
    """The store's staff members as the console has them."""
    console: Console = request.app.state.console
    session: WebSession = request.state.session
    members = console.login.members()
    await run_in_threadpool(console.audit.record, session.staff, "staff-list-read", AuditResult.OK, None)
    return render(request, "staff.html", {"members": members})


ROUTES = [page("/staff", staff_page, role=StaffRole.MANAGER)]
