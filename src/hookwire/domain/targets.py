"""Which delivery targets are allowed: URL shape and the addresses it may reach (SSRF).

Pure rules only. Resolving a host name is I/O and lives with the caller, which passes the
resolved addresses to :func:`blocked_reason`.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def parse_url(url: str) -> tuple[SplitResult | None, str | None]:
    """Split a target URL, or say what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        return None, f"must be at most {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return None, "must not contain whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return None, f"is not a valid URL ({exc})"
    if parts.scheme not in {"https", "http"}:
        return None, "must start with https:// or http://"
    if not parts.hostname:
        return None, "must name a host"
    if parts.username is not None or parts.password is not None:
        return None, "must not carry credentials; send them in headers instead"
    if "#" in url:
        return None, "must not have a #fragment"
    if parts.port == 0:
        return None, "must not use port 0"
    return parts, None


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, in any form a resolver accepts.

    Covers dotted quads, IPv6 (with or without brackets) and the legacy numeric forms that
    ``inet_aton`` accepts and connect() would follow: ``2130706433``, ``0x7f.1``, ``0177.0.0.1``.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


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
        address.is_multicast or address.is_reserved or address.is_unspecified
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
