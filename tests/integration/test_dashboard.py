"""The dashboard over HTTP on both stores: signing in, the cookie, CSRF and origin checks,
tenant isolation, the security headers, every page, and the actions."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest

from hookwire.dashboard.session import COOKIE, csrf_of
from hookwire.domain.delivery import Candidate, Delivery, fan_out
from hookwire.domain.event import Event
from hookwire.ids import new_id
from hookwire.runtime import create_app
from hookwire.services.container import Services
from hookwire.settings import Settings
from hookwire.timeutil import utcnow
from hookwire.tokens import mint
from tests.conftest import PUBLIC_URL, WEBHOOKS, Api, _open_clients

PAGES = ["/dashboard/webhooks", "/dashboard/events", "/dashboard/event-types",
         "/dashboard/inbound", "/dashboard/event-types/integration-state-changed"]  # fmt: skip


async def publish(api: Api) -> dict[str, Any]:
    answer = await api.client.post("/api/v1/events", json={"type": "webhook_test",
                                                            "data": {"test": True}})  # fmt: skip
    assert answer.status_code == 202
    published: dict[str, Any] = answer.json()
    return published


def browser_for(api: Api) -> httpx.AsyncClient:
    """A browser at the public URL (https: the session cookie is Secure, as in production)."""
    client = httpx.AsyncClient(transport=api.transport, base_url=PUBLIC_URL)
    _open_clients.append(client)
    return client


async def signed_in(api: Api, tenant: str = "acme") -> tuple[httpx.AsyncClient, str]:
    """A browser-like client with the session cookie of ``tenant``, and its CSRF token."""
    token = mint(api.settings, tenant, sub="ops")
    browser = browser_for(api)
    answer = await browser.post("/dashboard/login", data={"token": token, "next": ""})
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/webhooks"
    return browser, csrf_of(token)


async def test_signing_in_sets_a_strict_httponly_cookie(api: Api) -> None:
    browser = browser_for(api)
    bounced = await browser.get("/dashboard/webhooks")
    assert bounced.status_code == 303
    assert bounced.headers["location"] == "/dashboard/login?next=/dashboard/webhooks"
    form = await browser.get("/dashboard/login")
    assert form.status_code == 200 and 'name="token"' in form.text
    refused = await browser.post("/dashboard/login", data={"token": "not-a-token"})
    assert refused.status_code == 401 and "not valid" in refused.text
    assert COOKIE not in refused.headers.get("set-cookie", "")
    token = mint(api.settings, "acme")
    answer = await browser.post(
        "/dashboard/login", data={"token": token, "next": "//evil.example/x"}
    )
    assert answer.headers["location"] == "/dashboard/webhooks"  # never an open redirect
    cookie = answer.headers["set-cookie"]
    for flag in ("HttpOnly", "Path=/dashboard", "SameSite=strict", "Max-Age=", "Secure"):
        assert flag in cookie
    page = await browser.get("/dashboard/webhooks")
    assert page.status_code == 200 and "tenant <b>acme</b>" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"  # no-referrer: Origin null on posts
    out = await browser.post("/dashboard/logout", data={"csrf": csrf_of(token)})
    assert out.status_code == 303 and 'hookwire_session=""' in out.headers["set-cookie"]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_renders(api: Api, path: str) -> None:
    await api.create(name="Payroll")
    browser, _ = await signed_in(api)
    response = await browser.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")


async def test_a_webhook_page_shows_settings_charts_and_the_delivery_log(api: Api) -> None:
    hook = await api.create(name="Payroll", event_types=["webhook_test"])
    published = await publish(api)
    browser, _ = await signed_in(api)
    page = (await browser.get(f"/dashboard/webhooks/{hook['id']}")).text
    assert "Payroll" in page and hook["url"] in page
    assert page.count("<svg") == 2  # the last hour and the last 24 hours
    assert 'data-delivery="' in page and published["id"] in page
    assert hook["secret"] not in page


async def test_another_tenants_ids_are_404_pages(api: Api) -> None:
    hook = await api.create()
    event = await publish(api)
    browser, csrf = await signed_in(api, "globex")
    for path in (f"/dashboard/webhooks/{hook['id']}", f"/dashboard/events/{event['id']}"):
        response = await browser.get(path)
        assert response.status_code == 404 and "acme" not in response.text
    listed = await browser.get("/dashboard/webhooks")
    assert hook["id"] not in listed.text
    paused = await browser.post(f"/dashboard/webhooks/{hook['id']}/pause", data={"csrf": csrf})
    assert paused.status_code == 404
    assert (await api.client.get(f"/api/v1/integration/webhooks/{hook['id']}")).json()[
        "paused_at"
    ] is None


@pytest.mark.parametrize(
    ("data", "headers"),
    [({"csrf": "forged"}, {}), ({}, {}), (None, {"origin": "https://evil.example"})],
)
async def test_actions_need_the_csrf_token_and_this_origin(
    api: Api, data: dict[str, str] | None, headers: dict[str, str]
) -> None:
    hook = await api.create()
    browser, csrf = await signed_in(api)
    form = data if data is not None else {"csrf": csrf}
    response = await browser.post(
        f"/dashboard/webhooks/{hook['id']}/pause", data=form, headers=headers
    )
    assert response.status_code == 403
    assert (await api.client.get(f"/api/v1/integration/webhooks/{hook['id']}")).json()[
        "paused_at"
    ] is None


async def test_actions_pause_resume_recover_rotate_and_retry(api: Api) -> None:
    hook = await api.create(name="Payroll")
    url = f"/dashboard/webhooks/{hook['id']}"
    event = await publish(api)
    browser, csrf = await signed_in(api)

    async def post(action: str, **fields: Any) -> httpx.Response:
        return await browser.post(f"{url}/{action}", data={"csrf": csrf, **fields})

    paused = await post("pause")
    assert paused.status_code == 303 and "notice=paused" in paused.headers["location"]
    assert "badge paused" in (await browser.get(paused.headers["location"])).text
    resumed = await post("resume")
    assert "notice=resumed" in resumed.headers["location"]
    recovered = await post("recover", hours="48")
    assert "recovered%200%20failed" in recovered.headers["location"]
    rotated = await post("rotate-secret", grace_period_s="3600")
    assert rotated.status_code == 200
    secret = re.search(r'id="secret">(whsec_[^<]+)<', rotated.text)
    assert secret is not None and secret.group(1) != hook["secret"]
    assert secret.group(1) not in (await browser.get(url)).text  # shown once
    detail = (await api.client.get(f"/api/v1/events/{event['id']}")).json()
    delivery_id = detail["delivery_ids"][0]
    retried = await browser.post(f"/dashboard/deliveries/{delivery_id}/retry", data={"csrf": csrf})
    assert retried.status_code == 303 and delivery_id in retried.headers["location"]


async def test_a_notice_shows_only_when_this_sessions_action_left_it(api: Api) -> None:
    hook = await api.create()
    browser, csrf = await signed_in(api)
    paused = await browser.post(f"/dashboard/webhooks/{hook['id']}/pause", data={"csrf": csrf})
    shown = await browser.get(paused.headers["location"])
    assert '<p class="notice" role="status">paused' in shown.text
    forged = await browser.get(f"/dashboard/webhooks/{hook['id']}?notice=Session+expired,+"
                               "sign+in+at+evil.example&mark=0123456789abcdef")  # fmt: skip
    assert "evil.example" not in forged.text


async def webhook_state(api: Api, hook: dict[str, Any]) -> dict[str, Any]:
    """What an action could change: the webhook as the API shows it."""
    state: dict[str, Any] = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    return state


ELSEWHERE = ["null", "https://evil.example", "http://hooks.example.test",
             "https://hooks.example.test:8443", f"{PUBLIC_URL}.evil.example"]  # fmt: skip


@pytest.mark.parametrize("origin", ELSEWHERE)
async def test_signing_in_from_another_origin_is_refused(api: Api, origin: str) -> None:
    browser = browser_for(api)
    token = mint(api.settings, "acme")
    answer = await browser.post(
        "/dashboard/login", data={"token": token, "next": ""}, headers={"origin": origin}
    )
    assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html")
    assert COOKIE not in answer.headers.get("set-cookie", "") and not browser.cookies


@pytest.mark.parametrize("origin", ELSEWHERE[:3])
@pytest.mark.parametrize("action", ["pause", "rotate-secret", "recover", "logout"])
async def test_posts_from_another_origin_change_nothing(api: Api, action: str, origin: str) -> None:
    hook = await api.create()
    before = await webhook_state(api, hook)
    browser, csrf = await signed_in(api)
    url = f"/dashboard/webhooks/{hook['id']}/{action}"
    url = "/dashboard/logout" if action == "logout" else url
    answer = await browser.post(url, data={"csrf": csrf}, headers={"origin": origin})
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
    assert await webhook_state(api, hook) == before
    assert (await browser.get("/dashboard/webhooks")).status_code == 200  # still signed in


@pytest.mark.parametrize(
    "origin",
    [PUBLIC_URL, "https://HOOKS.Example.TEST", f"{PUBLIC_URL}:443", f"{PUBLIC_URL}/"],
)
async def test_posts_from_this_origin_however_spelled_are_accepted(api: Api, origin: str) -> None:
    hook = await api.create()
    browser, csrf = await signed_in(api)
    url = f"/dashboard/webhooks/{hook['id']}/pause"
    answer = await browser.post(url, data={"csrf": csrf}, headers={"origin": origin})
    assert answer.status_code == 303
    assert (await webhook_state(api, hook))["paused_at"] is not None


@pytest.mark.parametrize(
    ("public_url", "address", "origin", "status"),
    [
        (PUBLIC_URL, "http://10.0.0.5:8000", PUBLIC_URL, 303),  # behind a TLS-terminating proxy
        (PUBLIC_URL, "http://10.0.0.5:8000", "http://10.0.0.5:8000", 403),  # around the proxy
        (None, "http://127.0.0.1:8000", "http://127.0.0.1:8000", 303),  # hookwire serve
        (None, "http://127.0.0.1:8000", "http://localhost:8000", 403),
        (None, "http://127.0.0.1:8000", "null", 403),
    ],
)
async def test_this_origin_is_the_public_url_else_the_address_asked(
    services: Services, settings: Settings, public_url: str | None, address: str, origin: str,
    status: int,
) -> None:  # fmt: skip
    """Proxy headers are not trusted, so behind a proxy the address asked is the proxy's
    view: a declared public URL is the only origin; without one, the address asked is."""
    declared = settings.replace(public_url=public_url)
    app = create_app(declared, dataclasses.replace(services, settings=declared))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=address) as b:
        token = mint(declared, "acme")
        answer = await b.post(
            "/dashboard/login", data={"token": token, "next": ""}, headers={"origin": origin}
        )
    assert answer.status_code == status
    assert (COOKIE in answer.headers.get("set-cookie", "")) == (status == 303)


@pytest.mark.parametrize("value", ["²", "é", "٣" * 64])
async def test_a_non_ascii_csrf_token_or_notice_mark_is_refused_not_a_500(
    api: Api, value: str
) -> None:
    hook = await api.create()
    before = await webhook_state(api, hook)
    browser, _ = await signed_in(api)
    url = f"/dashboard/webhooks/{hook['id']}"
    posted = await browser.post(f"{url}/pause", data={"csrf": value})
    assert posted.status_code == 403 and await webhook_state(api, hook) == before
    shown = await browser.get(url, params={"notice": "paused", "mark": value})
    assert shown.status_code == 200 and 'class="notice"' not in shown.text


@pytest.mark.parametrize(
    ("version", "status"),
    [("²", 422), ("٣", 422), ("-1", 422), ("0", 422), ("1e3", 422), ("9" * 20, 422),
     (str(2**31), 422), ("1", 200), ("", 200)],
)  # fmt: skip
async def test_a_version_that_is_not_one_is_a_422_page(api: Api, version: str, status: int) -> None:
    """One of the tenant's own types, so that the store is asked (the built-in ones are not)."""
    created = await api.client.post(
        "/api/v1/event-types", json={"name": "payroll.run", "schema": {"type": "object"}}
    )
    assert created.status_code == 201
    browser, _ = await signed_in(api)
    answer = await browser.get("/dashboard/event-types/payroll.run", params={"version": version})
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    assert ("<code>/version</code>" in answer.text) == (status == 422)


async def failed_delivery(services: Services, age: timedelta) -> str:
    """A delivery of acme's one webhook that failed, created ``age`` ago."""
    created = utcnow() - age
    event = Event(new_id("evt"), "acme", "webhook_test", 1, {"test": True}, created)

    def failed(candidates: Sequence[Candidate]) -> list[Delivery]:
        return [dataclasses.replace(d, status="failed", next_attempt_at=None)
                for d in fan_out(event, candidates, lambda: new_id("dlv"))]  # fmt: skip

    published = await services.store.publish(event, failed, None)
    return (published.deliveries or [])[0].id


@pytest.mark.parametrize(
    ("hours", "status", "recovered"),
    [("9" * 20, 422, 0), (str(10**15), 422, 0), ("²", 422, 0), ("-1", 422, 0), ("0", 422, 0),
     ("1e9", 422, 0), (str(30 * 24 + 1), 422, 0), (str(30 * 24), 303, 1), ("", 303, 0)],
)  # fmt: skip
async def test_recover_looks_back_at_most_the_retention_period(
    api: Api, services: Services, hours: str, status: int, recovered: int
) -> None:
    """Retention (30 days here) purges older deliveries: a longer window is a 422 page."""
    hook = await api.create()
    inside = await failed_delivery(services, timedelta(days=2))
    outside = await failed_delivery(services, timedelta(days=40))
    browser, csrf = await signed_in(api)
    url = f"/dashboard/webhooks/{hook['id']}/recover"
    answer = await browser.post(url, data={"csrf": csrf, "hours": hours})
    assert answer.status_code == status
    assert ("<code>/hours</code>" in answer.text) == (status == 422)
    statuses = [(await api.client.get(f"/api/v1/deliveries/{d}")).json()["status"]
                for d in (inside, outside)]  # fmt: skip
    assert statuses == ["pending"] * recovered + ["failed"] * (2 - recovered)


@pytest.mark.parametrize("grace", ["²", "٣", "-1", "1e3", "9" * 20, str(30 * 86400 + 1)])
async def test_a_grace_period_that_is_not_one_is_a_422_page(api: Api, grace: str) -> None:
    hook = await api.create()
    before = await webhook_state(api, hook)
    browser, csrf = await signed_in(api)
    url = f"/dashboard/webhooks/{hook['id']}/rotate-secret"
    answer = await browser.post(url, data={"csrf": csrf, "grace_period_s": grace})
    assert answer.status_code == 422 and "<code>/grace_period_s</code>" in answer.text
    assert await webhook_state(api, hook) == before
