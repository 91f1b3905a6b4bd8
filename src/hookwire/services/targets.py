"""Refusing private delivery targets at create and update time (SSRF).

The URL is read as the HTTP client will read it (``domain.targets.parse_target``): a host that
is an address is checked directly; a name (ASCII, after IDNA mapping: the name that will be
looked up at send time) is resolved and every address it resolves to must be public. A name
that does not resolve now is accepted: the connect-time guard of the delivery engine checks
the addresses it actually connects to.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from hookwire.domain.targets import (
    InvalidTarget,
    IPAddress,
    blocked_reason,
    literal_address,
    parse_target,
)
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
    try:
        target = parse_target(url)
    except InvalidTarget as exc:
        raise ValidationFailed.at("/url", str(exc)) from None
    if allow_private:
        return
    addresses = [target.address] if target.address else await resolver(target.host)
    reason = blocked_reason(target.host, addresses)
    if reason:
        raise ValidationFailed.at("/url", reason)
