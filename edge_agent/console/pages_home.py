"""The overview page and the live-update stream (server-sent events) every page listens to.

``GET /events?channel=devices&channel=alerts`` streams the named channels of :class:`.live.Live`;
``static/console.js`` opens it for the channels a page names in ``data-live`` on its ``<main>`` and reloads the
page's ``data-live-src`` fragment into it on each event (debounced).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .live import stream
from .service import Console
from .web import page, render

CHANNELS = frozenset({"devices", "alerts", "analytics"})


async def overview(request: Request) -> Response:
    """The start page: how many devices are online, and the menu."""
    console: Console = request.app.state.console
    devices = console.devices.all()
    online = sum(1 for device in devices if device.online)
    return render(request, "overview.html", {"devices": devices, "online": online})


async def events(request: Request) -> Response:
    """Server-sent events of the channels asked for (unknown ones are ignored)."""
    console: Console = request.app.state.console
    channels = [name for name in request.query_params.getlist("channel") if name in CHANNELS] or ["devices"]
    return StreamingResponse(stream(console.live, channels), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


ROUTES = [page("/", overview), page("/events", events)]
