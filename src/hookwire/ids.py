"""Prefixed ULIDs: ``wh_01J…``.

A ULID is 48 bits of milliseconds since the epoch and 80 random bits, written in Crockford's
base32 (26 characters), so ids sort by creation time. Within one millisecond the generator
increments the random part, so ids made by one process are strictly increasing: keyset
pagination over ids is then a total, stable order.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Final

_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS: Final = 80
_RANDOM_MAX: Final = (1 << _RANDOM_BITS) - 1

PREFIXES: Final = frozenset({"wh", "evt", "dlv", "att", "inm"})
ID_PATTERN: Final = re.compile(r"^(wh|evt|dlv|att|inm)_[0-9A-HJKMNP-TV-Z]{26}$")

_lock = threading.Lock()
_last_ms = 0
_last_random = 0


_PAIRS: Final = tuple(_ALPHABET[i >> 5] + _ALPHABET[i & 31] for i in range(1024))
_SHIFTS: Final = tuple(range(120, -1, -10))


def _encode(value: int) -> str:
    """26 Crockford base32 characters of a 128-bit value, most significant first, ten bits
    (two characters) at a time from a table."""
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def _next_value() -> int:
    global _last_ms, _last_random
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms and _last_random < _RANDOM_MAX:
            _last_random += 1
        else:
            _last_ms = max(now, _last_ms + (1 if now <= _last_ms else 0))
            _last_random = int.from_bytes(os.urandom(10), "big") >> 1  # room to increment
        return (_last_ms << _RANDOM_BITS) | _last_random


def new_id(prefix: str) -> str:
    """A new id such as ``wh_01JD3S7A2M8Q9X4T6V5B0C1N2P``."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{_encode(_next_value())}"


def is_id(value: str, prefix: str) -> bool:
    """True when ``value`` is a well-formed id with this prefix."""
    return value.startswith(prefix + "_") and ID_PATTERN.fullmatch(value) is not None
