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
    """Parse an RFC 3339 timestamp; a naive one is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
