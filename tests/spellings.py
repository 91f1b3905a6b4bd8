"""Other ways to write a host that a URL parser or the operating system reads as the same host:
the family an SSRF test walks, generated rather than listed, so that a new member is covered
without anyone having to think of it.

- Unicode: every character that IDNA's mapping (UTS #46, what yarl applies) turns into an ASCII
  digit or a dot, found by scanning Unicode (fullwidth, superscript, circled, mathematical,
  segmented digits; ideographic and fullwidth full stops), mixed at random (seeded).
- Numbers: the forms ``inet_aton`` accepts (one 32-bit number, octal and hex parts, short
  forms), a trailing dot, and IPv6 forms that carry the IPv4 address (mapped, NAT64, 6to4).
- Names: ``localhost`` in letters that IDNA maps to ASCII ones.
"""

from __future__ import annotations

import functools
import ipaddress
import random
import unicodedata

import idna

_TARGETS = "0123456789."
_IDEOGRAPHIC_STOPS = (0x3002, 0xFF61)  # NFKC keeps them; IDNA maps them to "."


@functools.cache
def equivalents() -> dict[str, tuple[str, ...]]:
    """For each ASCII digit and ".", every non-ASCII character IDNA maps to exactly it."""
    found: dict[str, list[str]] = {c: [] for c in _TARGETS}
    for code in range(0x80, 0x20000):  # digits and dots live in planes 0 and 1
        char = chr(code)
        known = unicodedata.category(char) != "Cn"  # assigned in this Python's Unicode
        if (
            known
            and unicodedata.normalize("NFKC", char) not in found
            and code not in _IDEOGRAPHIC_STOPS
        ):
            continue  # a fast filter; IDNA's own, newer table decides below
        try:
            mapped = idna.uts46_remap(char, std3_rules=False, transitional=False)
        except idna.IDNAError:
            continue
        if mapped in found:
            found[mapped].append(char)
    return {c: tuple(chars) for c, chars in found.items()}


def unicode_spellings(text: str, seed: int, count: int) -> list[str]:
    """Spellings of ``text`` (digits and dots) in non-ASCII equivalents: every equivalent once
    in place of all its ASCII character, then ``count`` random mixes."""
    table = equivalents()
    spellings = []
    for ascii_char in sorted(set(text)):
        for other in table[ascii_char]:
            spellings.append(text.replace(ascii_char, other))
    rng = random.Random(seed)
    for _ in range(count):
        spellings.append("".join(rng.choice((c, *table[c])) for c in text))
    return spellings


def numeric_spellings(address: str) -> list[str]:
    """``address`` (IPv4) in the forms resolvers and URL parsers also read as it."""
    ip = ipaddress.IPv4Address(address)
    value, parts = int(ip), [int(p) for p in address.split(".")]
    v6 = [
        f"[::ffff:{address}]",
        f"[::ffff:{value >> 16:x}:{value & 0xFFFF:x}]",
        f"[0:0:0:0:0:ffff:{address}]",
        f"[64:ff9b::{value >> 16:x}:{value & 0xFFFF:x}]",
        f"[2002:{value >> 16:x}:{value & 0xFFFF:x}::1]",
        f"[::{address}]",
    ]
    return [
        str(value),
        hex(value),
        hex(value).upper().replace("X", "x"),
        "0" + oct(value)[2:],
        ".".join(f"0{p:o}" for p in parts),
        ".".join(hex(p) for p in parts),
        ".".join(f"{p:03d}" for p in parts),
        f"{parts[0]}.{value & 0xFFFFFF}",
        f"{parts[0]}.{parts[1]}.{value & 0xFFFF}",
        f"{hex(parts[0])}.{value & 0xFFFFFF}",
        address + ".",
        *v6,
    ]


def localhost_spellings() -> list[str]:
    """``localhost`` in letters IDNA maps to ASCII (fullwidth, script, mathematical)."""
    fullwidth = "".join(chr(ord(c) - ord("a") + 0xFF41) for c in "localhost")
    bold = "".join(chr(ord(c) - ord("a") + 0x1D41A) for c in "localhost")
    return ["localhost", "LOCALHOST", "localhost.", "\u2113ocalhost", fullwidth, bold]


def private_hosts(seed: int = 14, mixes: int = 40) -> list[str]:
    """:func:`private_addresses` and the names of loopback."""
    return [*private_addresses(seed, mixes), *localhost_spellings()]


def private_addresses(seed: int = 14, mixes: int = 40) -> list[str]:
    """Loopback, the unspecified address, link-local metadata (169.254.169.254) and a private
    address, in every spelling above, in URL form (IPv6 in brackets)."""
    loopback = "127.0.0.1"
    return [
        loopback,
        "0",
        "0.0.0.0",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[::]",
        *unicode_spellings(loopback, seed, mixes),
        *unicode_spellings("0.0.0.0", seed + 1, 5),
        *numeric_spellings(loopback),
        *numeric_spellings("169.254.169.254"),
        *numeric_spellings("10.0.0.1"),
    ]
