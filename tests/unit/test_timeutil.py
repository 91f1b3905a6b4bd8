"""The one wire format of timestamps: RFC 3339, UTC, always six decimals, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hookwire.domain.webhook_requests import read_window
from hookwire.timeutil import is_date_time, iso, parse_iso, parse_moment


def test_iso_always_has_microseconds_and_z() -> None:
    assert iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)) == "2026-01-02T03:04:05.000007Z"
    assert iso(None) is None


def test_iso_converts_other_offsets_to_utc_and_round_trips() -> None:
    local = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert iso(local) == "2026-01-02T01:04:05.123456Z"
    assert parse_iso(iso(local) or "") == local
    assert parse_iso("2026-01-02T01:04:05") == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)


# What a timestamp parameter (MOMENT: the API's, the dashboard's and the CLI's since/until)
# and JSON Schema's date-time format (DATE_TIME) accept, side by side: (value, moment, format).
GRAMMAR = [
    ("2026-11-30T10:00:00Z", True, True),
    ("2026-11-30t10:00:00z", True, True),
    ("2026-11-30 10:00:00+02:00", True, True),
    ("2026-11-30T10:00:00-00:00", True, True),
    ("2026-11-30T10:00:00.123456789Z", True, True),
    ("2026-11-30T10:00:00.1234567891Z", False, True),  # a parameter: at most 9 decimals
    ("2026-11-30T10:00:00", True, False),  # no offset: UTC for a parameter
    ("2026-11-30 10:00", True, False),  # no seconds
    ("2026-11-30T10:00+02:00", True, False),
    ("2026-11-30", False, False),  # what datetime.fromisoformat also reads
    ("20261130T100000Z", False, False),
    ("2026-11-30T10", False, False),
    ("2026-11-30T10:00:00+0200", False, False),
    ("2026-11-30T10:00:00+02:00:30", False, False),
    ("2026-11-30T10:00:00,5Z", False, False),
    ("2026-11-30T10:00:00 Z", False, False),
    ("\uff12\uff10\uff12\uff16-11-30T10:00:00Z", False, False),  # digits, but not ASCII ones
    (" 2026-11-30T10:00:00Z", False, False),
    ("1700000000", False, False),
    ("yesterday", False, False),
    ("2026-02-30T10:00:00Z", False, False),  # the shape, not the calendar
    ("2026-11-30T24:00:00Z", False, False),
]


@pytest.mark.parametrize(("value", "moment", "date_time"), GRAMMAR)
def test_what_a_timestamp_parameter_and_the_date_time_format_accept(
    value: str, moment: bool, date_time: bool
) -> None:
    try:
        parsed: datetime | None = parse_moment(value)
    except ValueError:
        parsed = None
    assert (parsed is not None) == moment
    assert is_date_time(value) == date_time


def test_a_parameter_is_read_in_utc_and_refused_outside_its_calendar() -> None:
    assert parse_moment("2026-11-30t10:00z") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_moment("2026-11-30T12:00:00.5+02:00") == datetime(
        2026, 11, 30, 10, 0, 0, 500000, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="must be an RFC 3339 date and time"):
        parse_moment("1700000000")
    with pytest.raises(ValueError, match="out of range"):
        parse_moment("0001-01-01T00:01:00+01:00")


def test_a_recover_window_reads_every_date_time_the_format_accepts() -> None:
    """RFC 3339 allows a lowercase "t" and "z"; the window's schema accepts them, so reading
    them must not fail afterwards (it was a 422 "Invalid isoformat string")."""
    window = read_window({"since": "2026-01-01t00:00:00z", "until": "2026-01-02T00:00:00Z"})
    assert window.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert window.until == datetime(2026, 1, 2, tzinfo=UTC)
