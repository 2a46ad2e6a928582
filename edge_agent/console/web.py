"""The console's web application (Starlette): routes, the login check, roles, CSRF and templates.

Every route is made with :func:`page` (or :func:`public_page` for the two that need no login, the login page
and the health check), so none can forget the checks: the session cookie must name a live login (else a page
redirects to ``/login`` and anything else is answered 401), the login's role must cover the route's, and a
POST must carry the form's CSRF token (else 403, nothing done). A test enumerates :func:`build_app`'s routes
and crawls them without a session.

Adding a page (the alerts and analytics helpers do so): a module with ``ROUTES = [page("/x", handler), ...]``
named in :data:`PAGE_MODULES`, a template in ``templates/`` that extends ``base.html``, and an entry in
:data:`NAV` for the menu. A handler renders with :func:`render` (the template gets ``_`` for translations,
``session``, ``csrf``, ``lang`` and ``nav``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..contract import StaffRole
from . import csrf
from .i18n import LANGUAGES, choose_language
from .service import Console
from .sessions import COOKIE, WebSession

logger = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"

#: The modules whose ``ROUTES`` make up the console (each one concept).
PAGE_MODULES = ["edge_agent.console.pages_login", "edge_agent.console.pages_home", "edge_agent.console.pages_devices",
                "edge_agent.console.pages_staff", "edge_agent.console.pages_analytics",
                "edge_agent.console.pages_alerts"]


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # Dutch source text, translated in the template
    role: StaffRole = StaffRole.STAFF


#: The menu, in order; a page module adds its entry here.
NAV: list[NavItem] = [NavItem("/", "Overzicht"), NavItem("/alerts", "Meldingen"), NavItem("/devices", "Apparaten"),
                      NavItem("/analytics", "Gebruik"), NavItem("/staff", "Personeel", StaffRole.MANAGER)]

Endpoint = Callable[[Request], Awaitable[Response]]


def page(path: str, endpoint: Endpoint, *, role: StaffRole = StaffRole.STAFF,
         methods: tuple[str, ...] = ("GET",), name: str | None = None) -> Route:
    """A route that needs a login with ``role`` (or more), and the CSRF token on a POST."""
    return Route(path, _checked(endpoint, role, public=False), methods=list(methods), name=name)


def public_page(path: str, endpoint: Endpoint, *, methods: tuple[str, ...] = ("GET",)) -> Route:
    """A route without login (only the login page and the health check); a POST still needs its CSRF token."""
    return Route(path, _checked(endpoint, None, public=True), methods=list(methods))


def _checked(endpoint: Endpoint, role: StaffRole | None, public: bool) -> Endpoint:
    async def checked(request: Request) -> Response:
        session: WebSession | None = request.state.session
        if not public:
            if session is None:
                return _to_login(request)
            assert role is not None, "a page that is not public has a role"
            if not session.may(role):
                return render(request, "error.html", {"message": "Hiervoor is de rol manager nodig."},
                              status_code=403)
        if request.method == "POST":
            form = await request.form()  # Starlette keeps it on the request: the handler reads the same
            expected = session.csrf if session is not None and not public else request.cookies.get(csrf.LOGIN_COOKIE)
            given = form.get(csrf.FIELD)
            if not csrf.matches(expected, given if isinstance(given, str) else None):
                logger.info("POST %s refused: no or wrong CSRF token", request.url.path)
                return render(request, "error.html", {"message": "Formulier verlopen of ongeldig: probeer opnieuw."},
                              status_code=403)
        return await endpoint(request)
    checked.console_public = public  # type: ignore[attr-defined]  # read by the route crawler test
    checked.console_role = role  # type: ignore[attr-defined]
    checked.__name__ = endpoint.__name__
    checked.__doc__ = endpoint.__doc__
    return checked


def _to_login(request: Request) -> Response:
    if "text/html" in request.headers.get("accept", "text/html"):
        if request.method != "GET":
            return RedirectResponse("/login", status_code=303)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return PlainTextResponse("login required", status_code=401)


class SessionMiddleware(BaseHTTPMiddleware):
    """Finds the login of the request's cookie and its language; sets the security headers."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        console: Console = request.app.state.console
        request.state.session = console.sessions.find(request.cookies.get(COOKIE))
        wanted = request.query_params.get("lang")
        request.state.language = choose_language(wanted if wanted in LANGUAGES else request.cookies.get("lang"),
                                                 request.headers.get("accept-language"),
                                                 console.config.session.language)
        response = await call_next(request)
        if wanted in LANGUAGES:
            response.set_cookie("lang", wanted, max_age=365 * 86400, secure=True, httponly=True, samesite="strict")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.state.session is not None:
            response.headers.setdefault("Cache-Control", "no-store")
        return response


_environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                           trim_blocks=True, lstrip_blocks=True)


def render(request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """``template`` with the page's context: ``_`` (translation), ``session``, ``csrf``, ``lang``, ``nav``."""
    console: Console = request.app.state.console
    language: str = request.state.language
    translations = console.translations.get(language)
    session: WebSession | None = request.state.session
    values = {
        "_": translations.gettext, "lang": language, "languages": LANGUAGES, "session": session,
        "csrf": session.csrf if session is not None else None, "path": request.url.path,
        "nav": [item for item in NAV if session is not None and session.may(item.role)],
        "store": console.store, **(context or {}),
    }
    body = _environment.get_template(template).render(values)
    return HTMLResponse(body, status_code=status_code, headers=headers)


def routes() -> list[BaseRoute]:
    """Every route of the console: each page module's, and the static files (CSS, JS: no data in them)."""
    found: list[BaseRoute] = []
    for name in PAGE_MODULES:
        found += importlib.import_module(name).ROUTES
    found.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    return found


def build_app(console: Console) -> Starlette:
    """The console's application for ``console`` (started and stopped with the server)."""
    app = Starlette(routes=routes(), middleware=[Middleware(SessionMiddleware)])
    app.state.console = console
    return app
