"""Event-type patterns: ``rfp.*`` and ``integration_*`` match any run of characters at ``*``.

An empty pattern list means "every type". Matching is case-sensitive and whole-string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

PATTERN_RE = re.compile(r"^[A-Za-z0-9_.:*-]{1,200}$")


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.S)


def matches(pattern: str, event_type: str) -> bool:
    """True when ``event_type`` matches one pattern."""
    if "*" not in pattern:
        return pattern == event_type
    return _compile(pattern).fullmatch(event_type) is not None


def matches_any(patterns: Iterable[str], event_type: str) -> bool:
    """True when the list is empty or any pattern matches."""
    seen = False
    for pattern in patterns:
        seen = True
        if matches(pattern, event_type):
            return True
    return not seen
