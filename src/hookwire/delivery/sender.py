"""Sending one request: one shared aiohttp session, keep-alive, redirects off, a hard timeout,
at most 4 KiB of the answer read, and the SSRF guard at connect time.

The URL is parsed once (``domain.targets.parse_target``) and that parsed URL is what aiohttp
gets, so the host checked is the host it connects to. A host that is an address is checked
here (aiohttp connects to it without resolving); a name goes through the guarded resolver,
which hands aiohttp only addresses it checked, so DNS rebinding between a check and the connect
cannot slip a private address in. Nothing is cached: every new connection resolves again, so
a customer's endpoint that moves is followed as its DNS says.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from hookwire.delivery.slots import Slots
from hookwire.domain.attempt import MAX_LOGGED_BODY
from hookwire.domain.targets import InvalidTarget, Target, is_public, literal_address, parse_target

READ_CHUNK: Final = 1024


class BlockedTarget(OSError):
    """The target is, or resolves to, a non-public address."""


class GuardedResolver(AbstractResolver):
    """Resolves with ``lookup`` (the system's resolver, in a thread, by default) and refuses
    non-public addresses unless private targets are allowed."""

    def __init__(self, allow_private: bool, lookup: AbstractResolver | None = None) -> None:
        self.allow_private = allow_private
        self.lookup = lookup or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.lookup.resolve(host, port, family)
        if not self.allow_private:
            for result in found:
                address = literal_address(result["host"])
                if address is None or not is_public(address):
                    raise BlockedTarget(f"{host} resolves to a non-public address")
        return found

    async def close(self) -> None:
        await self.lookup.close()


@dataclass(frozen=True, slots=True)
class Response:
    """What one request produced. ``error`` is ``timeout``, ``connection_error`` or
    ``blocked`` when no HTTP answer came; ``detail`` says more, for the attempt log.
    ``duration_ms`` counts from the request's start; ``queued_ms`` is the wait for a slot
    before it (hookwire's own queue, not the receiver's time)."""

    duration_ms: int
    status_code: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    detail: str | None = None
    queued_ms: int = 0


def _refusal(url: str, allow_private: bool) -> tuple[Target | None, str | None]:
    """The parsed target, or why no request may be made to it."""
    try:
        target = parse_target(url)
    except InvalidTarget as exc:
        return None, str(exc)
    address = target.address
    if not allow_private and address is not None and not is_public(address):
        return None, f"{address} is a non-public address"
    return target, None


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
    """One aiohttp session for every delivery of a process. At most ``limit`` requests run at
    once, ``limit_per_host`` to one host (scheme, host and port, as aiohttp pools them); the
    wait for a slot comes before the request and is not part of its timeout."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        limit: int = 512,
        limit_per_host: int = 64,
        lookup: AbstractResolver | None = None,
    ) -> None:
        """``lookup`` answers DNS questions (the system's resolver by default); its answers
        always pass the guard."""
        self.allow_private = allow_private
        self.slots = Slots(limit, limit_per_host)
        self._lookup = lookup
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0,  # the slots bound the connections: aiohttp never queues a request
            limit_per_host=0,
            resolver=GuardedResolver(self.allow_private, self._lookup),
            use_dns_cache=False,  # every connect resolves again, and is checked again
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
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float,
        wait_s: float | None = None,
    ) -> Response:
        """Send one request once a slot is free (waiting at most ``wait_s`` seconds, or
        raising :class:`~hookwire.delivery.slots.NotStarted` with nothing sent); its
        ``timeout_s`` starts with the request."""
        queued = time.monotonic()
        target, refusal = _refusal(url, self.allow_private)
        if target is None:
            return Response(0, error="blocked", detail=refusal)
        if self._session is None:
            raise RuntimeError("the sender is not open")
        host = (target.url.scheme, target.host, target.url.port)
        async with self.slots.held(host, wait_s):
            started = time.monotonic()
            answer = await self._answer(target, headers, body, timeout_s, started)
        return dataclasses.replace(answer, queued_ms=round((started - queued) * 1000))

    async def _answer(
        self,
        target: Target,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float,
        started: float,
    ) -> Response:
        def elapsed() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            return await self._post(target, headers, body, timeout_s, elapsed)
        except TimeoutError:
            return Response(elapsed(), error="timeout", detail=f"no answer within {timeout_s:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            if _is_blocked(exc):
                return Response(elapsed(), error="blocked", detail=str(exc))
            return Response(
                elapsed(), error="connection_error", detail=f"{type(exc).__name__}: {exc}"
            )

    async def _post(
        self,
        target: Target,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float,
        elapsed: Any,
    ) -> Response:
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with self._session.post(
            target.url, data=body, headers=dict(headers), allow_redirects=False, timeout=timeout
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
