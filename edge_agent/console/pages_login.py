"""Login, logout and the health check: the only routes without a login (besides the static CSS and JS).

The login form posts a staff id and a PIN (and its double-submit CSRF token, :mod:`.csrf`). The PIN is checked
off the event loop (argon2id takes a while by design) and every attempt is audited as ``pin-attempt`` (its
result ``ok``, ``wrong-pin`` or ``locked``; never the PIN), a login as ``console-login``, a logout as
``console-logout``. The second way to log in, a one-time code from a kiosk, posts ``code`` to the same route
(:func:`code_login`). The session cookie is HttpOnly, SameSite=Strict and Secure (``__Host-`` prefixed).
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..contract import CODE_DIGITS, AuditResult
from . import csrf
from .login import LoginResult, Outcome
from .service import Console
from .sessions import COOKIE
from .web import page, public_page, render

STAFF_ID = re.compile(r"^s-[a-z0-9-]{1,40}$")
CODE = re.compile(rf"^[0-9]{{{CODE_DIGITS}}}$")


def _safe_next(target: str | None) -> str:
    # Only a path of this console: never an absolute or scheme-relative URL (no open redirect).
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def login_form(request: Request, message: str | None = None, status_code: int = 200, about: str = "pin",
                     **message_args: object) -> Response:
    token = request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_token()
    # ``about``: which of the two forms (``pin``, ``code``) the message is shown in.
    response = render(request, "login.html", {"login_csrf": token, "message": message, "message_args": message_args,
                                              "about": about,
                                              "next": _safe_next(request.query_params.get("next"))},
                      status_code=status_code)
    response.set_cookie(csrf.LOGIN_COOKIE, token, httponly=True, secure=True, samesite="strict", path="/")
    return response


async def login_page(request: Request) -> Response:
    """The login page (staff id and PIN)."""
    if request.state.session is not None:
        return RedirectResponse("/", status_code=303)
    return await login_form(request)


async def login_post(request: Request) -> Response:
    """Check the staff id and PIN; start a login or say why not."""
    console: Console = request.app.state.console
    form = await request.form()
    if "code" in form:
        return await code_login(request, str(form.get("code", "")), str(form.get("next", "/")))
    staff = str(form.get("staff", "")).strip().lower()
    pin = str(form.get("pin", ""))
    if not STAFF_ID.match(staff):
        return await login_form(request, "Onbekend personeelsnummer of verkeerde pincode.", 401)
    result = await run_in_threadpool(console.login.attempt, staff, pin)
    audit_result = {Outcome.OK: AuditResult.OK, Outcome.WRONG: AuditResult.WRONG_PIN,
                    Outcome.LOCKED: AuditResult.LOCKED}[result.outcome]
    await run_in_threadpool(console.audit.record, staff, "pin-attempt", audit_result, "console")
    if result.outcome is Outcome.LOCKED:
        minutes = max(1, round((result.locked_for_s or 0) / 60))
        return await login_form(request, "Te vaak een verkeerde pincode: probeer het over {minutes} min opnieuw.",
                                429, minutes=minutes)
    if result.outcome is Outcome.WRONG:
        return await login_form(request, "Onbekend personeelsnummer of verkeerde pincode.", 401)
    return await _logged_in(request, result, str(form.get("next", "/")), "console-login")


async def code_login(request: Request, typed: str, next_page: str) -> Response:
    """The second way: a one-time code from a kiosk (:mod:`.kiosk_codes`), spaces and dashes allowed. Audited as
    ``code-attempt`` (its result; never the code), a login as ``console-code-login`` with the offering kiosk."""
    console: Console = request.app.state.console
    code = typed.replace(" ", "").replace("-", "")
    address = request.client.host if request.client else "unknown"
    if not CODE.match(code):
        return await login_form(request, "Onbekende of verlopen code.", 401, about="code")
    result, device = await run_in_threadpool(console.kiosk_codes.attempt, code, address)
    audit_result = {Outcome.OK: AuditResult.OK, Outcome.WRONG: AuditResult.REFUSED,
                    Outcome.LOCKED: AuditResult.LOCKED}[result.outcome]
    await run_in_threadpool(console.audit.record, result.staff, "code-attempt", audit_result, device or "console")
    if result.outcome is Outcome.LOCKED:
        minutes = max(1, round((result.locked_for_s or 0) / 60))
        return await login_form(request, "Te vaak een verkeerde code: probeer het over {minutes} min opnieuw.",
                                429, about="code", minutes=minutes)
    if result.outcome is Outcome.WRONG:
        return await login_form(request, "Onbekende of verlopen code.", 401, about="code")
    return await _logged_in(request, result, next_page, "console-code-login")


async def _logged_in(request: Request, result: LoginResult, next_page: str, action: str) -> Response:
    console: Console = request.app.state.console
    assert result.staff and result.display_name and result.role, "a login that succeeded names the member"
    session = console.sessions.start(result.staff, result.display_name, result.role)
    await run_in_threadpool(console.audit.record, result.staff, action, AuditResult.OK, session.id)
    response = RedirectResponse(_safe_next(next_page), status_code=303)
    response.set_cookie(COOKIE, session.token, httponly=True, secure=True, samesite="strict", path="/")
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


async def logout(request: Request) -> Response:
    """End this login."""
    console: Console = request.app.state.console
    session = console.sessions.end(request.cookies.get(COOKIE) or "")
    if session is not None:
        await run_in_threadpool(console.audit.record, session.staff, "console-logout", AuditResult.OK, session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


async def health(request: Request) -> Response:
    """For monitoring: whether the console is up and connected to the store broker (no store data)."""
    console: Console = request.app.state.console
    connected = console.link.connected.is_set()
    return JSONResponse({"status": "ok" if connected else "degraded", "broker": connected},
                        status_code=200 if connected else 503)


ROUTES = [
    public_page("/login", login_page),
    public_page("/login", login_post, methods=("POST",)),
    public_page("/health", health),
    page("/logout", logout, methods=("POST",)),
]
