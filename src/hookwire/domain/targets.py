"""Which delivery targets are allowed: URL shape and the addresses it may reach (SSRF).

A URL is read once, by the parser the HTTP client itself uses (yarl, under aiohttp), and every
decision is taken on what that parser produced: the host after IDNA and Unicode (UTS #46)
mapping, which turns 127.0.0.1 written in segmented (U+1FBF0…) or fullwidth digits and dots
into ``127.0.0.1``. The sender is
handed the same parsed URL, so the host checked is the host connected to.

aiohttp connects to a host without resolving it when the host looks like an address (it has a
``:`` or only digits and dots). Such a host must therefore be an address in its standard form,
which is then checked here; ``2130706433``, ``0177.0.0.1`` or ``127.0.0.1.`` would otherwise
reach the operating system's own number parsing (or its DNS search list) unchecked, and are
refused. Every other host is a name, resolved by the caller, which passes the addresses to
:func:`blocked_reason`.

Pure rules only: resolving a name is I/O and lives with the caller.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from yarl import URL

MAX_URL_LENGTH: Final = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Ranges Python 3.11 calls global that no public endpoint lives in: IPv6 site-local (RFC 3879,
# deprecated but still routed inside some networks) and the 2024 documentation prefix.
_NOT_PUBLIC: Final = (ipaddress.ip_network("fec0::/10"), ipaddress.ip_network("3fff::/20"))
_NAME = re.compile(r"[a-z0-9_.-]+")


class InvalidTarget(ValueError):
    """The URL cannot be a delivery target; the message says why, for a 422 at ``/url``."""


@dataclass(frozen=True, slots=True)
class Target:
    """A delivery URL as the HTTP client will use it."""

    url: URL  # given to the client as it is: never parsed again
    host: str  # ASCII, lowercase, no brackets: what is resolved or connected to
    address: IPAddress | None  # the host, when it is an address (then nothing is resolved)


def target_problem(url: str) -> str | None:
    """Why ``url`` cannot be a target, or None."""
    try:
        parse_target(url)
    except InvalidTarget as exc:
        return str(exc)
    return None


@lru_cache(maxsize=4096)  # the sender reads the same few URLs on every attempt
def parse_target(url: str) -> Target:
    """The target ``url`` names, or InvalidTarget."""
    _check_characters(url)
    try:
        parsed = URL(url)
        port = parsed.explicit_port
    except (ValueError, UnicodeError) as exc:
        raise InvalidTarget(f"is not a valid URL ({exc})") from exc
    if parsed.scheme not in {"https", "http"}:
        raise InvalidTarget("must start with https:// or http://")
    host = parsed.raw_host
    if not host:
        raise InvalidTarget("must name a host")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise InvalidTarget("must not carry credentials; send them in headers instead")
    if "#" in url:
        raise InvalidTarget("must not have a #fragment")
    if port == 0:
        raise InvalidTarget("must not use port 0")
    return Target(parsed, host, host_address(host))


def _check_characters(url: str) -> None:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidTarget(f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidTarget("must not contain whitespace or control characters")


def looks_like_address(host: str) -> bool:
    """Whether aiohttp takes ``host`` for an address and connects without resolving it
    (``aiohttp.helpers.is_ip_address``; a test keeps the two in step)."""
    return ":" in host or host.replace(".", "").isdigit()


def host_address(host: str) -> IPAddress | None:
    """The address ``host`` (as the URL parser left it) is, None for a name; InvalidTarget
    for an address in a non-standard form."""
    address = literal_address(host)
    if address is not None:
        return address
    if looks_like_address(host) or _legacy_ipv4(host) or not _NAME.fullmatch(host):
        raise InvalidTarget(
            f"{host[:100]} is not a valid host: write an address as a dotted quad (1.2.3.4) "
            "or in IPv6 form, and a name with letters, digits, dots and hyphens"
        )
    return None


def literal_address(text: str) -> IPAddress | None:
    """The address ``text`` is in standard form (IPv6 with or without brackets, a zone id
    allowed, ``%25`` encoded or not), else None. Only IPv6 has zone ids: ``1.1.1.1%25…`` is
    no address."""
    text = text.strip("[]")
    if ":" in text:
        text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _legacy_ipv4(host: str) -> bool:
    """``0x7f.1``, ``127.1``: forms ``inet_aton`` reads as an address."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def is_public(address: IPAddress) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or any(address in network for network in _NOT_PUBLIC)
    )


def blocked_reason(host: str, addresses: list[IPAddress]) -> str | None:
    """Why a host may not be a target, given the addresses it is or resolves to."""
    for address in addresses:
        if not is_public(address):
            return (
                f"{host} resolves to {address}, a non-public address; "
                "set HOOKWIRE_ALLOW_PRIVATE_TARGETS=true to allow it"
            )
    return None
