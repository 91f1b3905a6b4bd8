"""Whole numbers written by someone else: a header, a query parameter, a form field.

``str.isdigit()`` is true for ``"²"`` and ``"٣"``, which ``int()`` then refuses or reads as a
number nobody wrote, and ``int()`` takes any length: a number an attacker writes must be ASCII
digits, short, and inside the range its reader can hold. This is the one place that decides it.
"""

from __future__ import annotations

from typing import Final

MAX_DIGITS: Final = 18  # below 2**63: every integer column and timedelta field can hold it


def ascii_int(
    text: str | None, *, minimum: int = 0, maximum: int = 10**MAX_DIGITS - 1
) -> int | None:
    """The value of ``text`` (ASCII digits only, surrounding spaces allowed) when it lies in
    ``[minimum, maximum]``; otherwise None."""
    if text is None:
        return None
    text = text.strip(" \t")
    if not (0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None
