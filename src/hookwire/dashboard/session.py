"""Signing in to the dashboard: the bearer token pasted once, kept in a cookie, and the CSRF
token that every form posts back.

The cookie holds the token itself (HttpOnly, SameSite=Strict, Path=/dashboard, Secure over
https) and lasts as long as the token does; each request verifies it like a bearer token, so
the dashboard sees exactly what the API would show that token. The CSRF token is a hash of
the session token: a page of another site can neither read the cookie nor compute it, and
SameSite=Strict already keeps the cookie off its requests. Posts must also come from a page of
this origin when the browser says where they come from (``Origin``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from hookwire.domain.principal import Principal
from hookwire.errors import AuthenticationFailed, HookwireError
from hookwire.tokens import TokenVerifier

COOKIE: Final = "hookwire_session"
PATH: Final = "/dashboard"


class Forbidden(HookwireError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf: str


def csrf_of(token: str) -> str:
    return hashlib.sha256(b"hookwire-dashboard-csrf:" + token.encode()).hexdigest()


def current(request: Request, tokens: TokenVerifier) -> Session | None:
    """The signed-in session, or None (no cookie, or a token no longer good)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        principal = tokens.verify(token)
    except AuthenticationFailed:
        return None
    return Session(principal, csrf_of(token))


def sign_in(response: Response, tokens: TokenVerifier, token: str, *, secure: bool) -> None:
    """Keep a verified ``token`` in the session cookie (AuthenticationFailed otherwise);
    ``secure`` when the dashboard is served over https (directly or behind a proxy)."""
    _, good_until = tokens.verify_until(token)
    response.set_cookie(
        COOKIE, token, max_age=max(int(good_until - time.time()), 1), path=PATH,
        httponly=True, samesite="strict", secure=secure,
    )  # fmt: skip


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


def check_post(request: Request, session: Session | None, form: dict[str, str]) -> None:
    """A form post must come from this origin and carry the session's CSRF token."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        here = f"{request.url.scheme}://{request.url.netloc}"
        if urlsplit(origin)._replace(path="").geturl() != here:
            raise Forbidden("the form was posted from another site")
    if session is not None and not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        raise Forbidden("the form is stale or forged: reload the page and try again")
