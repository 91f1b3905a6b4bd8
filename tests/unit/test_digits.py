"""Numbers written by someone else: only ASCII digits, only in range."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookwire.domain.digits import MAX_DIGITS, ascii_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), (" 7\t", 7), ("007", 7), ("9" * MAX_DIGITS, 10**MAX_DIGITS - 1)],
)
def test_ascii_digits_are_read(text: str, expected: int) -> None:
    assert ascii_int(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        " ",
        "²",
        "٣",
        "\uff11\uff12",  # fullwidth 12
        "1²",
        "-1",
        "+1",
        "1.0",
        "1e3",
        "0x10",
        "9" * (MAX_DIGITS + 1),
        "1 2",
        "\n1",
    ],
)
def test_anything_else_is_none(text: str | None) -> None:
    assert ascii_int(text) is None


def test_the_range_is_inclusive() -> None:
    assert ascii_int("5", minimum=5, maximum=9) == 5
    assert ascii_int("9", minimum=5, maximum=9) == 9
    assert ascii_int("4", minimum=5, maximum=9) is None
    assert ascii_int("10", minimum=5, maximum=9) is None


@given(st.text(max_size=30))
def test_never_raises_and_agrees_with_int_on_what_it_accepts(text: str) -> None:
    value = ascii_int(text)
    if value is not None:
        assert value == int(text.strip(" \t"))
        assert text.strip(" \t").isascii()
