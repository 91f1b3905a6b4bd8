"""Signing in to the dashboard: the bearer token pasted once, kept in a cookie, and the CSRF
token that every form posts back.

The cookie holds the token itself (HttpOnly, SameSite=Strict, Path=/dashboard, Secure over
https) and lasts as long as the token does; each request verifies it like a bearer token, so
the dashboard sees exactly what the API would show that token. The CSRF token is a hash of
the session token: a page of another site can neither read the cookie nor compute it, and
SameSite=Strict already keeps the cookie off its requests.

Every post (sign-in included, which has no session and so no CSRF token yet) must also come
from a page of this dashboard's origin when the browser says where it comes from (``Origin``):
``null`` (a sandboxed frame, a data: URL) and every other origin are refused. This origin is
that of ``HOOKWIRE_PUBLIC_URL`` when it is set: proxy headers are not trusted, so behind a
TLS-terminating proxy the address a request reaches is the proxy's view (``http://10.0.0.5``),
which no browser page has. Without a public URL, it is the address the browser asked for
(scheme and ``Host``), which a page of another site cannot choose. A post without ``Origin``
does not come from a browser that could carry a victim's session: every browser in use sends
``Origin`` on a cross-origin POST (``null`` when it hides it), so curl and scripts keep working.
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
from hookwire.errors import AuthenticationFailed, Forbidden
from hookwire.tokens import TokenVerifier

COOKIE: Final = "hookwire_session"
PATH: Final = "/dashboard"
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf: str


def csrf_of(token: str) -> str:
    return hashlib.sha256(b"hookwire-dashboard-csrf:" + token.encode()).hexdigest()


def matches(sent: str, expected: str) -> bool:
    """Whether ``sent`` (written by the visitor) is ``expected``, in constant time. Compared as
    bytes: ``hmac.compare_digest`` raises TypeError for a str that is not ASCII."""
    return hmac.compare_digest(sent.encode(errors="surrogatepass"), expected.encode())


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


def origin_of(url: str) -> Origin | None:
    """``(scheme, host, port)`` of an http(s) URL, equal when browsers take two URLs for one
    origin (RFC 6454: scheme and host in any case, a default port written or not); None for
    anything else, the ``null`` of an opaque origin included."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port out of range, a broken IPv6 address
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname, DEFAULT_PORTS[scheme] if port is None else port


def check_origin(request: Request, public_url: str | None) -> None:
    """A post the browser says comes from anywhere but this dashboard is Forbidden."""
    sent = request.headers.getlist("origin")
    if not sent:
        return
    here = public_url or f"{request.url.scheme}://{request.url.netloc}"
    expected = origin_of(here)
    if expected is None or len(sent) > 1 or origin_of(sent[0]) != expected:
        hint = "" if public_url else "; behind a proxy, set HOOKWIRE_PUBLIC_URL to the public one"
        raise Forbidden(f"the form was posted from {', '.join(sent)}, not from {here}{hint}")


def check_post(
    request: Request, session: Session | None, form: dict[str, str], public_url: str | None
) -> None:
    """A form post must come from this origin and carry the session's CSRF token."""
    check_origin(request, public_url)
    if session is not None and not matches(form.get("csrf", ""), session.csrf):
        raise Forbidden("the form is stale or forged: reload the page and try again")
