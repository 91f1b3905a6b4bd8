"""Delivery targets: URL shape and which addresses a webhook may reach (SSRF rules)."""

from __future__ import annotations

import ipaddress
import unicodedata

import pytest
from aiohttp.helpers import is_ip_address
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from hookwire.domain.targets import (
    MAX_URL_LENGTH,
    InvalidTarget,
    blocked_reason,
    is_public,
    literal_address,
    looks_like_address,
    parse_target,
    target_problem,
)
from tests import spellings


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://receiver.example/hooks", "receiver.example", None),
        ("http://receiver.example:8080/p?q=1&r=2", "receiver.example", 8080),
        ("HTTPS://Receiver.Example/", "receiver.example", None),
        ("https://[2606:4700::1]:8443/x", "2606:4700::1", 8443),
        ("https://fa\u00df.example/", "xn--fa-hia.example", None),  # IDNA 2008, as yarl
        (
            "https://a.example/" + "x" * (MAX_URL_LENGTH - len("https://a.example/")),
            "a.example",
            None,
        ),
    ],
)
def test_parse_target_accepts(url: str, host: str, port: int | None) -> None:
    target = parse_target(url)
    assert target.host == host
    assert target.url.explicit_port == port
    assert target.url.raw_host == host  # what aiohttp will resolve or connect to


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://receiver.example/", "https://"),
        ("file:///etc/passwd", "https://"),
        ("javascript:alert(1)", "https://"),
        ("receiver.example/hooks", "https://"),
        ("", "https://"),
        ("https:///hooks", "host"),
        ("https://:443/hooks", "not a valid URL"),
        ("https://user:pw@receiver.example/", "credentials"),
        ("https://user@receiver.example/", "credentials"),
        ("https://receiver.example\\@evil.example/", "not a valid URL"),
        ("https://receiver.example:99999/", "not a valid URL"),
        ("https://receiver.example:http/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
        ("https://receiver.example:0/", "port 0"),
        ("https://receiver.example/a b", "whitespace"),
        (" https://receiver.example/", "whitespace"),
        ("https://receiver.example/\t", "whitespace"),
        ("https://receiver.example/\r\nX-Evil: 1", "whitespace"),
        ("https://receiver.example/\x00", "control"),
        ("https://receiver.example/\x7f", "control"),
        ("https://receiver.example/#section", "fragment"),
        ("https://a.example/" + "x" * (MAX_URL_LENGTH - len("https://a.example/") + 1), "2048"),
    ],
)
def test_parse_target_refuses(url: str, words: str) -> None:
    with pytest.raises(InvalidTarget) as refused:
        parse_target(url)
    assert words in str(refused.value)
    assert target_problem(url) == str(refused.value)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("fe80::1%25eth0", "fe80::1"),
        ("[::ffff:10.0.0.1]", "::ffff:10.0.0.1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_literal_address(host: str, expected: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(expected)


@pytest.mark.parametrize(
    "host", ["example.com", "localhost", "1.2.3.4.5", "2130706433", "0x7f.1", "127.1", ""]
)
def test_only_standard_forms_are_literal_addresses(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "127.1", "10.1", "127.0.0.1.",
     "1.2.3.4.5", "0", "08.08.08.08", "134744072"],
)  # fmt: skip
def test_addresses_in_other_forms_are_refused_even_when_public(host: str) -> None:
    """aiohttp connects to digits-and-dots hosts without its resolver, and the OS reads them
    its own way (inet_aton, or a DNS search list for ``1.2.3.4.5``): only standard forms."""
    with pytest.raises(InvalidTarget, match="not a valid host"):
        parse_target(f"http://{host}/hooks")


def test_every_spelling_of_a_private_address_is_that_address_or_refused() -> None:
    """The family of tests/spellings.py (Unicode digits and dots, numeric forms, IPv6 carrying
    IPv4): each parses to the non-public address the client would connect to, or is refused;
    none passes as a name (which the create-time check would try to resolve, and fail)."""
    for host in spellings.private_hosts():
        if "ocalhost" in unicodedata.normalize("NFKC", host).lower():
            continue  # names: resolved, and refused by their addresses (integration tests)
        try:
            target = parse_target(f"http://{host}:8080/x")
        except InvalidTarget:
            continue
        assert target.address is not None, host
        assert not is_public(target.address), host


def test_the_unicode_spelling_of_the_review_is_loopback() -> None:
    target = parse_target(
        "http://\U0001fbf1\U0001fbf2\U0001fbf7.\U0001fbf0.\U0001fbf0.\U0001fbf1:81/x"
    )
    assert target.address == ipaddress.ip_address("127.0.0.1")


@given(st.text(alphabet="0123456789.:abcdefx[]%-_", max_size=24))
def test_looks_like_address_is_aiohttps_rule(host: str) -> None:
    """Which hosts aiohttp connects to without resolving must be decided as aiohttp does."""
    assert looks_like_address(host) == is_ip_address(host)


@given(st.text(max_size=30))
def test_a_parsed_target_host_is_what_yarl_gives_aiohttp(host: str) -> None:
    url = f"http://{host}/x"
    try:
        target = parse_target(url)
    except InvalidTarget:
        return
    assert target.host == URL(url).raw_host
    assert target.host.isascii()
    if looks_like_address(target.host):
        assert target.address is not None


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "100.64.0.1",
        "100.127.255.254",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::",
        "::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "2002:a00:1::",
        "2001:db8::",
        "2001:db8::1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_blocked_reason_names_the_host_and_the_address() -> None:
    addresses = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.7")]
    reason = blocked_reason("internal.example", addresses)
    assert reason is not None
    assert "internal.example" in reason
    assert "10.0.0.7" in reason
    assert "8.8.8.8" not in reason
    assert "HOOKWIRE_ALLOW_PRIVATE_TARGETS" in reason


def test_blocked_reason_for_an_ipv6_loopback() -> None:
    reason = blocked_reason("[::1]", [ipaddress.ip_address("::1")])
    assert reason is not None and "::1" in reason


def test_public_addresses_are_not_blocked() -> None:
    public = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("2606:4700:4700::1111")]
    assert blocked_reason("dns.example", public) is None


@pytest.mark.parametrize("address", ["fec0::1", "feff::1", "3fff::1"])
def test_ranges_python_calls_global_that_are_not_public(address: str) -> None:
    """Site-local IPv6 (fec0::/10) was accepted and connected to (Python 3.11 counts it
    global); 3fff::/20 is the documentation prefix of 2024."""
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "host", ["1.1.1.1%2540127.0.0.1", "a%2eb.example", "evil.example%00", "a b", "a*b.example"]
)
def test_a_host_that_is_neither_an_address_nor_a_name_is_refused(host: str) -> None:
    """``1.1.1.1%2540127.0.0.1`` was read as the public 1.1.1.1 at create (the zone cut
    applied to IPv4 too) while aiohttp resolves it as a name."""
    assert target_problem(f"http://{host}/") is not None
