"""Event-type patterns: ``rfp.*`` and ``integration_*`` match any run of characters at ``*``.

An empty pattern list means "every type". Matching is case-sensitive and whole-string, and
takes time linear in the type and the pattern whatever they hold (a pattern such as
``*a*a*a*a*b`` against a long run of ``a`` made a backtracking regular expression take
seconds): the literal parts between stars are found left to right, each as early as possible,
which is exactly when a match exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PATTERN_RE = re.compile(r"^[A-Za-z0-9_.:*-]{1,200}$")


def matches(pattern: str, event_type: str) -> bool:
    """True when ``event_type`` matches one pattern."""
    if "*" not in pattern:
        return pattern == event_type
    first, *middle, last = pattern.split("*")
    end = len(event_type) - len(last)
    if end < len(first) or not event_type.startswith(first) or not event_type.endswith(last):
        return False
    position = len(first)
    for part in middle:
        found = event_type.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def matches_any(patterns: Iterable[str], event_type: str) -> bool:
    """True when the list is empty or any pattern matches."""
    seen = False
    for pattern in patterns:
        seen = True
        if matches(pattern, event_type):
            return True
    return not seen
