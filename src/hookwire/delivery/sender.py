"""Sending one request: one shared aiohttp session, keep-alive, redirects off, a hard timeout,
at most 4 KiB of the answer read, and the SSRF guard at connect time (DESIGN §5).

The guard resolves the host itself and hands aiohttp only addresses it checked, so the address
connected to is the address checked: DNS rebinding between the check and the connect cannot
slip a private address in. Hosts written as addresses skip resolution and are checked here.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from hookwire.domain.attempt import MAX_LOGGED_BODY
from hookwire.domain.targets import is_public, literal_address

READ_CHUNK: Final = 1024


class BlockedTarget(OSError):
    """The target is, or resolves to, a non-public address."""


class GuardedResolver(ThreadedResolver):
    """A resolver that refuses non-public addresses unless private targets are allowed."""

    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        if not self.allow_private:
            for result in found:
                address = literal_address(result["host"])
                if address is None or not is_public(address):
                    raise BlockedTarget(f"{host} resolves to a non-public address")
        return found


@dataclass(frozen=True, slots=True)
class Response:
    """What one request produced. ``error`` is ``timeout``, ``connection_error`` or
    ``blocked`` when no HTTP answer came; ``detail`` says more, for the attempt log."""

    duration_ms: int
    status_code: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    detail: str | None = None


def _blocked_literal(url: str, allow_private: bool) -> bool:
    host = urlsplit(url).hostname or ""
    address = literal_address(host)
    return not allow_private and address is not None and not is_public(address)


def _is_blocked(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BlockedTarget) or isinstance(
            getattr(seen, "os_error", None), BlockedTarget
        ):
            return True
        seen = seen.__cause__
    return False


class Sender:
    """One aiohttp session for every delivery of a process."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        limit: int = 512,
        limit_per_host: int = 64,
    ) -> None:
        self.allow_private = allow_private
        self._limits = (limit, limit_per_host)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._limits[0],
            limit_per_host=self._limits[1],
            resolver=GuardedResolver(self.allow_private),
            ttl_dns_cache=None,  # no cache: every connect is checked against fresh DNS
            enable_cleanup_closed=True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout_s: float
    ) -> Response:
        started = time.monotonic()

        def elapsed() -> int:
            return round((time.monotonic() - started) * 1000)

        if _blocked_literal(url, self.allow_private):
            return Response(elapsed(), error="blocked", detail="the target is a non-public address")
        if self._session is None:
            raise RuntimeError("the sender is not open")
        try:
            return await self._post(url, headers, body, timeout_s, elapsed)
        except TimeoutError:
            return Response(elapsed(), error="timeout", detail=f"no answer within {timeout_s:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            if _is_blocked(exc):
                return Response(elapsed(), error="blocked", detail=str(exc))
            return Response(
                elapsed(), error="connection_error", detail=f"{type(exc).__name__}: {exc}"
            )

    async def _post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout_s: float, elapsed: Any
    ) -> Response:
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with self._session.post(
            url, data=body, headers=dict(headers), allow_redirects=False, timeout=timeout
        ) as answer:
            excerpt = await _read_some(answer)
            if not answer.content.at_eof():
                answer.close()  # a big or endless body: drop the connection, do not drain it
            return Response(
                elapsed(),
                status_code=answer.status,
                headers={str(k): str(v) for k, v in answer.headers.items()},
                body=excerpt,
            )


async def _read_some(answer: aiohttp.ClientResponse) -> bytes:
    """Up to MAX_LOGGED_BODY bytes of the body, without reading the rest."""
    chunks: list[bytes] = []
    size = 0
    while size < MAX_LOGGED_BODY:
        chunk = await answer.content.read(min(READ_CHUNK, MAX_LOGGED_BODY - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


__all__ = ["BlockedTarget", "GuardedResolver", "Response", "Sender"]
