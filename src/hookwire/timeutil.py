"""UTC timestamps: one clock, one wire format (RFC 3339, microseconds, ``Z``), and the one
definition of what a timestamp given to hookwire may look like.

Two grammars, both RFC 3339's date-time (ASCII digits only), defined here side by side:

- :data:`MOMENT`, a timestamp *parameter* (``since``/``until`` of the API's lists, the
  dashboard's filters, the CLI's ``--since``/``--until``): the seconds and the offset may be
  left out (a time without an offset is UTC), ``T``, ``t`` or a space between date and time,
  at most nine decimals (docs/decisions.md, "HTTP details").
- :data:`DATE_TIME`, JSON Schema's ``date-time`` format (an event type's schema, a request
  body's field): RFC 3339 §5.6 as written, the seconds and the offset required.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}"
_OFFSET = r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
MOMENT: Final = re.compile(rf"{_DATE}(?::[0-9]{{2}}(?:\.[0-9]{{1,9}})?)?{_OFFSET}?")
DATE_TIME: Final = re.compile(rf"{_DATE}:[0-9]{{2}}(?:\.[0-9]+)?{_OFFSET}")
MOMENT_HINT: Final = "must be an RFC 3339 date and time, like 2026-11-30T10:00:00Z"


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC, truncated to microseconds (what both stores keep)."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """``2026-11-22T10:00:00.123456Z``, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_moment(value: str) -> datetime:
    """A timestamp parameter (:data:`MOMENT`) in UTC. ValueError, with a message fit for a
    field error, when it is not one (:data:`MOMENT_HINT`) or not a time in UTC's calendar."""
    if not MOMENT.fullmatch(value):
        raise ValueError(MOMENT_HINT)
    return parse_iso(value.upper())


def is_date_time(value: str) -> bool:
    """Whether ``value`` is a :data:`DATE_TIME` of the calendar (no 30 February)."""
    if not DATE_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return False
    return True


def parse_iso(value: str) -> datetime:
    """Read a timestamp hookwire wrote (:func:`iso`) or checked (:func:`parse_moment`,
    :func:`is_date_time`); a naive one is taken as UTC. ValueError when it is not one, or
    when it is not a time in UTC's calendar (``0001-01-01T00:00+01:00``)."""
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive one taken as UTC); ValueError outside years 1 to 9999."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{value.isoformat()} is out of range") from exc
