"""The dashboard's actions (form posts): sign in and out; test, pause, resume, recover and
rotate the secret of a webhook; retry a delivery. Each checks the CSRF token, calls the same
service as the API, and redirects back with a notice (the rotated secret is shown once, on the
page the post answers, never in a URL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from hookwire.dashboard import session as sessions
from hookwire.dashboard.session import Session
from hookwire.dashboard.views import (
    guard,
    page,
    posted_form,
    redirect,
    services_of,
    session_of,
    shown,
)
from hookwire.errors import AuthenticationFailed
from hookwire.timeutil import iso, utcnow

Action = Callable[[Request, Session, dict[str, str]], Awaitable[Response]]


def posted(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """An action for signed-in visitors, from this origin, with the CSRF token (views.guard)."""
    return guard(action, posted=True)


def _safe_next(target: str | None) -> str:
    """Only a path of the dashboard: never an open redirect."""
    if target and target.startswith("/dashboard") and not urlsplit(target).netloc:
        return target
    return "/dashboard/webhooks"


@shown
async def login(request: Request) -> Response:
    form = await posted_form(request, None)  # no CSRF token before a session: Origin only
    target = _safe_next(form.get("next"))
    response = redirect(target)
    try:
        services = services_of(request)
        https = request.url.scheme == "https" or services.settings.base_url.startswith("https:")
        sessions.sign_in(response, services.tokens, form.get("token", "").strip(), secure=https)
    except AuthenticationFailed as exc:
        failed = page(request, None, "login.html", error=exc.detail, next=target)
        failed.status_code = 401
        return failed
    return response


@shown
async def logout(request: Request) -> Response:
    await posted_form(request, session_of(request))
    response = redirect("/dashboard/login")
    sessions.sign_out(response)
    return response


def _back(session: Session, webhook_id: str, notice: str) -> Response:
    return redirect(f"/dashboard/webhooks/{webhook_id}", notice, session)


@posted
async def test(request: Request, session: Session, form: dict[str, str]) -> Response:
    webhook_id = request.path_params["webhook_id"]
    result = await services_of(request).webhooks.test(session.principal, webhook_id)
    answer = result["status_code"] or result["error"]
    verdict = "succeeded" if result["success"] else "failed"
    return _back(session, webhook_id, f"test {verdict}: {answer} in {result['duration_ms']} ms")


@posted
async def pause(request: Request, session: Session, form: dict[str, str]) -> Response:
    webhook_id = request.path_params["webhook_id"]
    await services_of(request).webhooks.pause(session.principal, webhook_id)
    return _back(session, webhook_id, "paused: new deliveries are held")


@posted
async def resume(request: Request, session: Session, form: dict[str, str]) -> Response:
    webhook_id = request.path_params["webhook_id"]
    await services_of(request).webhooks.resume(session.principal, webhook_id)
    return _back(session, webhook_id, "resumed: held deliveries are due now")


@posted
async def recover(request: Request, session: Session, form: dict[str, str]) -> Response:
    webhook_id = request.path_params["webhook_id"]
    hours = int(form.get("hours") or 24) if (form.get("hours") or "24").isdigit() else 24
    since = iso(utcnow() - timedelta(hours=max(hours, 1)))
    count = await services_of(request).webhooks.recover(
        session.principal, webhook_id, {"since": since}
    )
    return _back(session, webhook_id, f"recovered {count} failed deliveries of the last {hours} h")


@posted
async def rotate(request: Request, session: Session, form: dict[str, str]) -> Response:
    webhook_id = request.path_params["webhook_id"]
    grace = form.get("grace_period_s", "86400")
    body = {"grace_period_s": int(grace) if grace.isdigit() else grace}
    rotated = await services_of(request).webhooks.rotate_secret(session.principal, webhook_id, body)
    return page(request, session, "secret.html", rotated=rotated)


@posted
async def retry(request: Request, session: Session, form: dict[str, str]) -> Response:
    delivery = await services_of(request).deliveries.retry(
        session.principal, request.path_params["delivery_id"]
    )
    return _back(session, delivery.webhook_id, f"delivery {delivery.id} is due now")
