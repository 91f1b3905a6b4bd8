"""Refusing private delivery targets at create and update time (DESIGN §5, SSRF).

A host written as an address (in any numeric form) is checked directly; a name is resolved and
every address it resolves to must be public. A name that does not resolve now is accepted: the
connect-time guard of the delivery engine checks the address it actually connects to.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from hookwire.domain.targets import IPAddress, blocked_reason, literal_address, parse_url
from hookwire.errors import ValidationFailed

Resolver = Callable[[str], Awaitable[list[IPAddress]]]
RESOLVE_TIMEOUT_S = 3.0


async def resolve(host: str) -> list[IPAddress]:
    """Every address ``host`` resolves to; empty when it does not resolve in time."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, proto=socket.IPPROTO_TCP), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError, UnicodeError):
        return []
    found: list[IPAddress] = []
    for info in infos:
        address = literal_address(str(info[4][0]))
        if address is not None:
            found.append(address)
    return found


async def check_target(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Raise ValidationFailed at ``/url`` when the target is not allowed."""
    parts, problem = parse_url(url)
    if parts is None or parts.hostname is None:
        raise ValidationFailed.at("/url", problem or "is not a valid URL")
    if allow_private:
        return
    host = parts.hostname
    literal = literal_address(host)
    addresses = [literal] if literal is not None else await resolver(host)
    reason = blocked_reason(host, addresses)
    if reason:
        raise ValidationFailed.at("/url", reason)
