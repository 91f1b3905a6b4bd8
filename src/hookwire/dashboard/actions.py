"""The dashboard's actions (form posts): sign in and out; test, pause, resume, recover and
rotate the secret of a webhook; retry a delivery. Each checks the CSRF token, calls the same
service as the API, and redirects back with a notice (the rotated secret is shown once, on the
page the post answers, never in a URL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from hookwire.dashboard import session as sessions
from hookwire.dashboard.session import Session
from hookwire.dashboard.views import (
    guard,
    number,
    page,
    posted_form,
    redirect,
    services_of,
    session_of,
    shown,
)
from hookwire.domain.webhook import RecoverWindow, SecretRotation
from hookwire.domain.webhook_requests import ROTATE_SCHEMA
from hookwire.errors import AuthenticationFailed
from hookwire.settings import Settings
from hookwire.timeutil import utcnow

Action = Callable[[Request, Session, dict[str, str]], Awaitable[Response]]
GRACE: Final[dict[str, int]] = ROTATE_SCHEMA["properties"]["grace_period_s"]  # the API's bounds
YEAR_1: Final = datetime.min.replace(tzinfo=UTC)


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
        public = urlsplit(services.settings.base_url).scheme  # lowercased: HTTPS:// too
        https = request.url.scheme == "https" or public == "https"
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


def _most_hours(settings: Settings, now: datetime) -> int:
    """How far back recover may look: the retention period, since older deliveries are purged
    (the API's recover takes any ``since``), and never before year 1."""
    return min(settings.retention_days * 24, (now - YEAR_1) // timedelta(hours=1))


@posted
async def recover(request: Request, session: Session, form: dict[str, str]) -> Response:
    webhook_id, services, now = request.path_params["webhook_id"], services_of(request), utcnow()
    most = _most_hours(services.settings, now)
    hours = number(form.get("hours") or "24", "hours", minimum=1, maximum=most)
    window = RecoverWindow(since=now - timedelta(hours=hours))
    count = await services.webhooks.recover(session.principal, webhook_id, window)
    return _back(session, webhook_id, f"recovered {count} failed deliveries of the last {hours} h")


def _rotation(raw: str | None) -> SecretRotation:
    """The rotation: a grace period within the API's bounds, or the default one."""
    if not raw:
        return SecretRotation()
    low, high = GRACE["minimum"], GRACE["maximum"]
    return SecretRotation(number(raw, "grace_period_s", minimum=low, maximum=high))


@posted
async def rotate(request: Request, session: Session, form: dict[str, str]) -> Response:
    webhook_id, rotation = request.path_params["webhook_id"], _rotation(form.get("grace_period_s"))
    rotated = await services_of(request).webhooks.rotate_secret(
        session.principal, webhook_id, rotation
    )
    return page(request, session, "secret.html", rotated=rotated)


@posted
async def retry(request: Request, session: Session, form: dict[str, str]) -> Response:
    delivery = await services_of(request).deliveries.retry(
        session.principal, request.path_params["delivery_id"]
    )
    return _back(session, delivery.webhook_id, f"delivery {delivery.id} is due now")
