"""What every dashboard page shares: templates, the signed-in session, forms, responses with
the security headers a page of secrets and actions needs."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib.resources import files
from typing import Any, Final
from urllib.parse import parse_qsl, quote

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hookwire.dashboard import charts
from hookwire.dashboard import session as sessions
from hookwire.dashboard.session import Session
from hookwire.domain.digits import ascii_int
from hookwire.errors import HookwireError, ValidationFailed
from hookwire.http import read_body
from hookwire.services.container import Services
from hookwire.timeutil import iso, utcnow

MAX_FORM_BYTES: Final = 64 * 1024
STATIC: Final = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it a browser sends "Origin: null" on every post, its own too, and
    # session.check_post refuses null. same-origin still tells other sites nothing.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def ago(value: datetime | None) -> str:
    """``3 min ago``-style, for times in the past; "" for None."""
    if value is None:
        return ""
    seconds = int((utcnow() - value).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if abs(seconds) >= size:
            return f"{seconds // size} {unit} ago"
    return f"{max(seconds, 0)} s ago"


def pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f} %"


templates = Environment(
    loader=PackageLoader("hookwire.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(ago=ago, pretty=pretty, percent=percent, iso=iso)
templates.globals["chart"] = lambda *args: Markup(charts.stacked_bars(*args))  # escapes inside


def services_of(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def session_of(request: Request) -> Session | None:
    return sessions.current(request, services_of(request).tokens)


def _mark(session: Session, notice: str) -> str:
    return hmac.new(session.csrf.encode(), notice.encode(), hashlib.sha256).hexdigest()[:16]


def notice_of(request: Request, session: Session | None) -> str | None:
    """The notice an action left in the URL, shown only when this session's action put it
    there (a link from elsewhere cannot make the dashboard say something)."""
    notice, mark = request.query_params.get("notice"), request.query_params.get("mark", "")
    if notice is None or session is None:
        return None
    return notice if sessions.matches(mark, _mark(session, notice)) else None


def page(request: Request, session: Session | None, name: str, **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render(
        request=request, session=session, notice=notice_of(request, session), **context
    )
    return HTMLResponse(html, headers=HEADERS)


def to_login(request: Request) -> RedirectResponse:
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return redirect(f"/dashboard/login?next={target}")


def redirect(
    location: str, notice: str | None = None, session: Session | None = None
) -> RedirectResponse:
    """303 to ``location``, with ``notice`` for the page there when the session vouches."""
    if notice is not None and session is not None:
        joiner = "&" if "?" in location else "?"
        location = f"{location}{joiner}notice={quote(notice)}&mark={_mark(session, notice)}"
    return RedirectResponse(location, status_code=303, headers=HEADERS)


async def form_of(request: Request) -> dict[str, str]:
    """A posted ``application/x-www-form-urlencoded`` form (a repeated field: the last)."""
    raw = await read_body(request, MAX_FORM_BYTES)
    return dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))


def number(raw: str, name: str, *, minimum: int, maximum: int) -> int:
    """``raw`` (a query parameter, a form field) as a whole number, read by the project's one
    reader (domain.digits): anything but ASCII digits within ``[minimum, maximum]`` is a
    ValidationFailed at ``/name``, a 422 page like any bad input, never a 500 or a guess."""
    value = ascii_int(raw, minimum=minimum, maximum=maximum)
    if value is None:
        message = f"must be a whole number from {minimum} to {maximum}"
        raise ValidationFailed.at(f"/{name}", message)
    return value


def static(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    body = files("hookwire.dashboard").joinpath("static", name).read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=STATIC[name], headers=headers)


View = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Session, dict[str, str]], Awaitable[Response]]


def error_page(request: Request, session: Session | None, error: HookwireError) -> Response:
    response = page(request, session, "error.html", error=error)
    response.status_code = error.status
    return response


def shown(view: View) -> View:
    """``view`` with its errors (HookwireError) shown as the error page, with their status."""

    async def answered(request: Request) -> Response:
        try:
            return await view(request)
        except HookwireError as exc:
            return error_page(request, session_of(request), exc)

    answered.__name__ = view.__name__  # not wraps(): FastAPI reads __wrapped__
    return answered


async def posted_form(request: Request, session: Session | None) -> dict[str, str]:
    """The form of a post from this dashboard (see session.check_post); Forbidden otherwise."""
    form = await form_of(request)
    sessions.check_post(request, session, form, services_of(request).settings.public_url)
    return form


def guard(handler: Handler, *, posted: bool) -> View:
    """A visitor without a session goes to the login page; a post must come from this origin
    with the session's CSRF token (its form is handed over); errors are shown as a page."""

    async def guarded(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        form = await posted_form(request, session) if posted else {}
        return await handler(request, session, form)

    guarded.__name__ = handler.__name__
    return shown(guarded)
