"""The devices pages: every device with online state, versions, pack in use, last health and reconnects; per
kiosk, staff mode's content controls (on/off, order, preview).

A content control is a form posted to ``/devices/<device>/content``; the console sends it to that kiosk's
agent as ``console-content-control`` for the logged-in staff member (:mod:`edge_agent.content_control.
console_requests`: the agent checks the member and the role, applies and audits it) and shows the answer.
The preview asks ``console-content-preview`` for a chosen moment. The list updates live (channel ``devices``).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..contract.payloads_content_control import SECTIONS
from ..errors import ContractError
from .link import RequestFailed
from .service import Console
from .sessions import WebSession
from .web import page, render

logger = logging.getLogger(__name__)

#: The content actions the devices page offers (a manager's schedules stay at the kiosk for now).
ACTIONS = ("enable", "disable", "move-up", "move-down", "undo", "reset")
DEVICE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


async def devices_page(request: Request) -> Response:
    """Every device of the store."""
    console: Console = request.app.state.console
    return render(request, "devices.html", {"devices": console.devices.all(), "now": time.time()})


async def devices_table(request: Request) -> Response:
    """The devices list alone (what the page reloads on a live event)."""
    console: Console = request.app.state.console
    return render(request, "devices_table.html", {"devices": console.devices.all(), "now": time.time()})


async def device_page(request: Request) -> Response:
    """One device: its details and, for a kiosk, its content with the controls."""
    console: Console = request.app.state.console
    device = console.devices.get(request.path_params["device"])
    if device is None:
        return render(request, "error.html", {"message": "Dit apparaat kent de console niet."}, status_code=404)
    return render(request, "device.html", {"device": device, "sections": SECTIONS, "now": time.time(),
                                           "notice": request.query_params.get("notice"),
                                           "failed": request.query_params.get("failed")})


async def content_post(request: Request) -> Response:
    """Send one content change to the kiosk for the logged-in staff member; back to the device page."""
    console: Console = request.app.state.console
    session: WebSession = request.state.session
    device = request.path_params["device"]
    if not DEVICE.match(device) or console.devices.get(device) is None:
        return render(request, "error.html", {"message": "Dit apparaat kent de console niet."}, status_code=404)
    form = await request.form()
    action = str(form.get("action", ""))
    if action not in ACTIONS:
        return render(request, "error.html", {"message": "Onbekende actie."}, status_code=400)
    data: dict[str, object] = {"session": session.id, "staff": session.staff, "action": action}
    if action not in ("undo", "reset"):
        data["section"] = str(form.get("section", ""))
        data["item"] = str(form.get("item", ""))
        data["today_only"] = action in ("enable", "disable") and form.get("today_only") == "1"
    try:
        await run_in_threadpool(console.link.request, "console-content-control", device, data)
    except (RequestFailed, ContractError) as exc:
        logger.info("content %s on %s not done: %s", action, device, exc)
        return RedirectResponse(f"/devices/{device}?failed={quote(str(exc)[:200], safe='')}#content", status_code=303)
    return RedirectResponse(f"/devices/{device}?notice={action}#content", status_code=303)


async def preview_page(request: Request) -> Response:
    """What the kiosk's content shows at a chosen moment (default: now)."""
    console: Console = request.app.state.console
    session: WebSession = request.state.session
    device = console.devices.get(request.path_params["device"])
    if device is None:
        return render(request, "error.html", {"message": "Dit apparaat kent de console niet."}, status_code=404)
    tz = ZoneInfo(console.config.store.timezone)
    text = request.query_params.get("at", "")
    try:
        at = datetime.fromisoformat(text).replace(tzinfo=tz) if text else datetime.now(tz).replace(microsecond=0)
    except ValueError:
        return render(request, "error.html", {"message": "Ongeldig tijdstip."}, status_code=400)
    result, failed = None, None
    try:
        result = await run_in_threadpool(console.link.request, "console-content-preview", device.device,
                                         {"session": session.id, "staff": session.staff, "at": at.isoformat()})
    except (RequestFailed, ContractError) as exc:
        failed = str(exc)
    return render(request, "preview.html", {"device": device, "at": at.strftime("%Y-%m-%dT%H:%M"),
                                            "result": result, "failed": failed})


ROUTES = [
    page("/devices", devices_page),
    page("/devices/table", devices_table),
    page("/devices/{device}", device_page),
    page("/devices/{device}/content", content_post, methods=("POST",)),
    page("/devices/{device}/preview", preview_page),
]
