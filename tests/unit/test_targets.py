"""Delivery targets: URL shape and which addresses a webhook may reach (SSRF rules)."""

from __future__ import annotations

import ipaddress

import pytest

from hookwire.domain.targets import (
    MAX_URL_LENGTH,
    blocked_reason,
    is_public,
    literal_address,
    parse_url,
)


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://receiver.example/hooks", "receiver.example", None),
        ("http://receiver.example:8080/p?q=1&r=2", "receiver.example", 8080),
        ("HTTPS://Receiver.Example/", "receiver.example", None),
        ("https://[2606:4700::1]:8443/x", "2606:4700::1", 8443),
        (
            "https://a.example/" + "x" * (MAX_URL_LENGTH - len("https://a.example/")),
            "a.example",
            None,
        ),
    ],
)
def test_parse_url_accepts(url: str, host: str, port: int | None) -> None:
    parts, problem = parse_url(url)
    assert problem is None
    assert parts is not None
    assert parts.hostname == host
    assert parts.port == port


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://receiver.example/", "https://"),
        ("file:///etc/passwd", "https://"),
        ("javascript:alert(1)", "https://"),
        ("receiver.example/hooks", "https://"),
        ("", "https://"),
        ("https:///hooks", "host"),
        ("https://:443/hooks", "host"),
        ("https://user:pw@receiver.example/", "credentials"),
        ("https://user@receiver.example/", "credentials"),
        ("https://receiver.example\\@evil.example/", "credentials"),
        ("https://receiver.example:99999/", "not a valid URL"),
        ("https://receiver.example:http/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
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
def test_parse_url_refuses(url: str, words: str) -> None:
    parts, problem = parse_url(url)
    assert parts is None
    assert problem is not None
    assert words in problem


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[::ffff:10.0.0.1]", "::ffff:10.0.0.1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_literal_address(host: str, expected: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(expected)


@pytest.mark.parametrize("host", ["example.com", "localhost", "1.2.3.4.5", "0x7g.1", ""])
def test_names_are_not_literal_addresses(host: str) -> None:
    assert literal_address(host) is None


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
