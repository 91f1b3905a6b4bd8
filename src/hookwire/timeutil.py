"""UTC timestamps: one clock and one wire format (RFC 3339, microseconds, ``Z``)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC, truncated to microseconds (what both stores keep)."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """``2026-11-22T10:00:00.123456Z``, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_iso(value: str) -> datetime:
    """Parse an RFC 3339 timestamp; a naive one is taken as UTC. ValueError when it is not
    one, or when it is not a time in UTC's calendar (``0001-01-01T00:00+01:00``)."""
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive one taken as UTC); ValueError outside years 1 to 9999."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{value.isoformat()} is out of range") from exc
