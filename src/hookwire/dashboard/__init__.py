"""The operator's dashboard at ``/dashboard``: server-rendered pages over the same services as
the API, signed in with a bearer token kept in a cookie (see :mod:`.session`)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from hookwire.dashboard import actions, pages
from hookwire.dashboard.views import page, redirect, session_of, static

router = APIRouter(prefix="/dashboard", include_in_schema=False)


async def home(request: Request) -> Response:
    return redirect("/dashboard/webhooks")


async def login_form(request: Request) -> Response:
    if session_of(request) is not None:
        return redirect("/dashboard/webhooks")
    return page(request, None, "login.html", next=request.query_params.get("next", ""))


async def asset(request: Request) -> Response:
    return static(request.path_params["name"])


for path, view in {
    "": home, "/login": login_form, "/static/{name}": asset, "/webhooks": pages.webhooks,
    "/webhooks/{webhook_id}": pages.webhook, "/events": pages.events,
    "/events/{event_id}": pages.event, "/event-types": pages.event_types,
    "/event-types/{name}": pages.event_type, "/inbound": pages.inbound_messages,
    "/inbound/{message_id}": pages.inbound_message,
}.items():  # fmt: skip
    router.add_api_route(path, view, methods=["GET"])
for path, view in {
    "/login": actions.login, "/logout": actions.logout,
    "/webhooks/{webhook_id}/test": actions.test, "/webhooks/{webhook_id}/pause": actions.pause,
    "/webhooks/{webhook_id}/resume": actions.resume,
    "/webhooks/{webhook_id}/recover": actions.recover,
    "/webhooks/{webhook_id}/rotate-secret": actions.rotate,
    "/deliveries/{delivery_id}/retry": actions.retry,
}.items():  # fmt: skip
    router.add_api_route(path, view, methods=["POST"])
