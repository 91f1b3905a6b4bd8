"""What a request's header fields may be, checked before any route, session or signature
check reads them (an inbound webhook's URL is public: its requests are unauthenticated).

At most :data:`MAX_HEADERS` fields, each line at most :data:`MAX_LINE` bytes and all of them
together at most :data:`MAX_TOTAL`, like the defaults of nginx (8 KiB a line) and Node.js (16
KiB in all); more is a 431 problem. Reading a header by name scans them all, so without a
bound, 50,000 repeated headers made every lookup of an unauthenticated request cost seconds.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from hookwire.api.responses import from_error
from hookwire.errors import HeadersTooLarge

MAX_HEADERS: Final = 100
MAX_LINE: Final = 8 * 1024
MAX_TOTAL: Final = 32 * 1024


def header_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why these header fields are refused, or None."""
    if len(headers) > MAX_HEADERS:
        return f"the request has more than {MAX_HEADERS} header fields"
    total = 0
    for name, value in headers:
        line = len(name) + len(value) + 4  # "name: value\r\n"
        if line > MAX_LINE:
            shown = name[:64].decode("latin-1")
            return f"the {shown} header field is longer than {MAX_LINE} bytes"
        total += line
    if total > MAX_TOTAL:
        return f"the header fields are longer than {MAX_TOTAL} bytes in all"
    return None


class HeaderLimits:
    """ASGI middleware answering 431 to a request whose header fields break the limits."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = header_problem(scope["headers"])
            if problem is not None:
                await from_error(HeadersTooLarge(problem))(scope, receive, send)
                return
        await self.app(scope, receive, send)
