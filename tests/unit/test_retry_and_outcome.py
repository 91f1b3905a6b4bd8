"""Retry schedule and outcome classification (docs/concepts.md "Retries")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookwire.domain.outcome import of_error, of_response, retry_after
from hookwire.domain.retry import RetryPolicy, backoff_ms
from hookwire.timeutil import utcnow

EXPONENTIAL = RetryPolicy(initial_delay_ms=5000, max_delay_ms=36_000_000)


@pytest.mark.parametrize(
    ("backoff", "retry", "expected"),
    [
        ("exponential", 1, 5000),
        ("exponential", 2, 10_000),
        ("exponential", 5, 80_000),
        ("exponential", 14, 36_000_000),  # 5 s * 2^13 = 40 960 s: capped at 10 h
        ("linear", 1, 5000),
        ("linear", 3, 15_000),
        ("fixed", 1, 5000),
        ("fixed", 7, 5000),
    ],
)
def test_backoff_without_jitter(backoff: str, retry: int, expected: int) -> None:
    policy = RetryPolicy(backoff=backoff, initial_delay_ms=5000)  # type: ignore[arg-type]
    assert backoff_ms(policy, retry, 0.0) == expected


def test_jitter_is_plus_or_minus_twenty_percent_after_the_cap() -> None:
    assert backoff_ms(EXPONENTIAL, 1, 0.2) == 6000
    assert backoff_ms(EXPONENTIAL, 1, -0.2) == 4000
    assert backoff_ms(EXPONENTIAL, 20, 0.2) == 43_200_000  # cap first, then jitter
    with pytest.raises(ValueError):
        backoff_ms(EXPONENTIAL, 1, 0.25)
    with pytest.raises(ValueError):
        backoff_ms(EXPONENTIAL, 0, 0.0)


@pytest.mark.parametrize(
    ("code", "kind"),
    [(200, "succeeded"), (204, "succeeded"), (299, "succeeded"), (301, "retry"), (302, "retry"),
     (400, "retry"), (404, "retry"), (410, "gone"), (429, "retry"), (500, "retry"), (503, "retry")],
)  # fmt: skip
def test_status_codes(code: int, kind: str) -> None:
    outcome = of_response(code, {}, utcnow())
    assert outcome.kind == kind
    assert outcome.status == str(code)


def test_retry_after_is_honoured_for_429_and_503_only() -> None:
    now = utcnow()
    assert of_response(429, {"Retry-After": "120"}, now).retry_after_s == 120
    assert of_response(503, {"retry-after": "7"}, now).retry_after_s == 7
    assert of_response(500, {"Retry-After": "120"}, now).retry_after_s is None


def test_retry_after_as_an_http_date_and_garbage() -> None:
    now = utcnow().replace(microsecond=0)
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after({"Retry-After": later}, now) == pytest.approx(90, abs=1)
    assert retry_after({"Retry-After": "soon"}, now) is None
    assert retry_after({"Retry-After": "999999999"}, now) == 7 * 86400
    past = (now - timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after({"Retry-After": past}, now) == 0


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "\uff11\uff12", "1\u00b2", "-5", "1.5", ""])
def test_retry_after_in_anything_but_ascii_digits_is_ignored(value: str) -> None:
    """'²'.isdigit() is true and float('²') raised: the attempt was never recorded."""
    assert retry_after({"Retry-After": value}, utcnow()) is None


def test_retry_after_of_any_length_is_capped() -> None:
    assert retry_after({"Retry-After": "9" * 8000}, utcnow()) == 7 * 86400


@given(st.text(max_size=40))
def test_retry_after_never_raises(value: str) -> None:
    found = retry_after({"Retry-After": value}, utcnow())
    assert found is None or 0 <= found <= 7 * 86400


@pytest.mark.parametrize("kind", ["timeout", "connection_error", "blocked"])
def test_errors_are_retried_and_named(kind: str) -> None:
    outcome = of_error(kind)  # type: ignore[arg-type]
    assert outcome.kind == "retry" and outcome.status == kind
