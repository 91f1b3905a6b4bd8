"""What the API and the dashboard share about HTTP requests, below both of them."""

from __future__ import annotations

from starlette.requests import Request

from hookwire.domain.digits import ascii_int
from hookwire.errors import PayloadTooLarge


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes before reading them all."""
    declared = ascii_int(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
