"""The one wire format of timestamps: RFC 3339, UTC, always six decimals, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hookwire.timeutil import iso, parse_iso


def test_iso_always_has_microseconds_and_z() -> None:
    assert iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)) == "2026-01-02T03:04:05.000007Z"
    assert iso(None) is None


def test_iso_converts_other_offsets_to_utc_and_round_trips() -> None:
    local = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert iso(local) == "2026-01-02T01:04:05.123456Z"
    assert parse_iso(iso(local) or "") == local
    assert parse_iso("2026-01-02T01:04:05") == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)
