"""The alerts page: open calls, empty shelves, devices offline, outboxes backing up, failed content; live.

``/alerts`` lists the open alerts (calls first, with how long they have waited) and the recently closed ones;
``/alerts/list`` is the list alone, which ``static/console.js`` reloads on each event of the ``alerts`` channel.
Each open alert has "Ik kom eraan" and "Afgehandeld" (forms with the CSRF token):

- for a call, the answer goes to the agent of the kiosk that called (``console-call-answer``); the alert changes
  only after the agent's ok, and the agent audits it (``event/staff-audit``), not the console again;
- for any other alert the console records it and audits it itself (``alert-coming``, ``alert-closed``).

A call a recognised shopper chose to share (clienteling) shows their first name, tier, product or phase and
recent purchases only after the agent has written the view to the customer's data-use log
(``console-clienteling-viewed``); once per console login and call, and never when the agent says the sharing is
over or does not answer: then the call is shown anonymously.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..contract import AuditResult
from ..errors import ContractError
from .alerts import Alert, AlertKind
from .link import RequestFailed
from .service import Console
from .sessions import WebSession
from .web import page, render

logger = logging.getLogger(__name__)

VIEW_TIMEOUT_S = 3.0  # how long a page waits for the agent to log a view before showing the call anonymously
ANSWER_TIMEOUT_S = 5.0


async def _shown(console: Console, session: WebSession, alerts: list[Alert]) -> list[Alert]:
    """``alerts`` with each shared call's details kept only where the agent logged this login's view."""
    shown = []
    for alert in alerts:
        if alert.shared is not None and not console.shared_views.seen(session.id, alert.subject):
            try:
                answer = await run_in_threadpool(console.link.request, "console-clienteling-viewed", alert.device,
                                                 {"call": alert.subject, "staff": session.staff}, VIEW_TIMEOUT_S)
            except (RequestFailed, ContractError) as exc:
                logger.info("a shared call shown anonymously: its view could not be logged (%s)", exc)
                answer = {"logged": False}
            if answer.get("logged"):
                console.shared_views.add(session.id, alert.subject)
            else:
                console.alerts.forget_shared(alert.alert)
                shown.append(console.alerts.get(alert.alert) or alert)
                continue
        shown.append(alert)
    return shown


async def _context(request: Request) -> dict[str, object]:
    console: Console = request.app.state.console
    session: WebSession = request.state.session
    alerts = await _shown(console, session, console.alerts.open_alerts())
    tz = ZoneInfo(console.config.store.timezone)
    return {"alerts": alerts, "closed": console.alerts.recently_closed(), "now": time.time(),
            "clock": lambda at: datetime.fromtimestamp(at, tz).strftime("%H:%M"),
            "failed": request.query_params.get("failed")}


async def alerts_page(request: Request) -> Response:
    """Every open alert, live."""
    return render(request, "alerts.html", await _context(request))


async def alerts_list(request: Request) -> Response:
    """The list alone (what the page reloads on a live event)."""
    return render(request, "alerts_list.html", await _context(request))


async def answer_post(request: Request) -> Response:
    """"Ik kom eraan" (``coming``) or "Afgehandeld" (``handled``) on one alert; back to the alerts."""
    console: Console = request.app.state.console
    session: WebSession = request.state.session
    answer = request.path_params["answer"]
    alert = console.alerts.get(request.path_params["alert"])
    if answer not in ("coming", "handled") or alert is None:
        return render(request, "error.html", {"message": "Deze melding kent de console niet."}, status_code=404)
    if not alert.is_open:
        return RedirectResponse("/alerts", status_code=303)
    if alert.kind is AlertKind.ASSIST:
        try:
            await run_in_threadpool(console.link.request, "console-call-answer", alert.device,
                                    {"call": alert.subject, "answer": answer, "staff": session.staff},
                                    ANSWER_TIMEOUT_S)
        except (RequestFailed, ContractError) as exc:
            logger.info("answer %s to a call at %s not applied: %s", answer, alert.device, exc)
            return RedirectResponse(f"/alerts?failed={quote(str(exc)[:200], safe='')}", status_code=303)
    else:
        await run_in_threadpool(console.audit.record, session.staff,
                                "alert-coming" if answer == "coming" else "alert-closed", AuditResult.OK,
                                f"{alert.kind.value} {alert.device} {alert.subject}".strip()[:200])
    if answer == "coming":
        await run_in_threadpool(console.alerts.coming, alert.alert, session.staff, session.display_name)
    else:
        await run_in_threadpool(console.alerts.close, alert.alert, session.staff)
        console.shared_views.forget(alert.subject)
    return RedirectResponse("/alerts", status_code=303)


ROUTES = [
    page("/alerts", alerts_page),
    page("/alerts/list", alerts_list),
    page("/alerts/{alert}/{answer}", answer_post, methods=("POST",)),
]
