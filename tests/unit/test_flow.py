"""Flow control's decisions (domain/flow.py): the rate window's guarantee, and what a claim
writes back to a gate."""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookwire.domain.flow import (
    NEVER,
    SLOTS,
    SPAN,
    Gate,
    RateLimit,
    Window,
    after_claim,
)

T0 = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)
PER_S = {"second": 1, "minute": 60, "hour": 3600}


def _simulate(limit: RateLimit, steps: list[tuple[int, int]]) -> list[datetime]:
    """Claims at T0 + each offset (µs, increasing) asking for ``want`` starts: the starts."""
    window, starts, now = Window(), [], T0
    for offset, want in steps:
        now += timedelta(microseconds=offset)
        taken = min(want, window.room(limit, now))
        if taken:
            window = window.record(window.slot(limit, now), taken)
            starts += [now] * taken
        assert window == Window.from_json(window.to_json(limit), limit)
        assert len(window.counts) <= SPAN
    return starts


@settings(max_examples=300, deadline=None)
@given(
    max_=st.integers(1, 50),
    per=st.sampled_from(["second", "minute", "hour"]),
    steps=st.lists(st.tuples(st.integers(0, 2_000_000), st.integers(1, 80)), max_size=200),
    scale=st.sampled_from([1, 100, 3600]),
)
def test_no_window_of_a_period_and_a_slot_holds_more_than_max(
    max_: int, per: str, steps: list[tuple[int, int]], scale: int
) -> None:
    """A start may leave up to one slot after its lease: so the guarantee is over windows one
    slot longer than the period, of lease times."""
    limit = RateLimit(max_, per)  # type: ignore[arg-type]
    starts = _simulate(limit, [(gap * scale, want) for gap, want in steps])
    reach = timedelta(seconds=PER_S[per]) + timedelta(microseconds=limit.slot_us)
    for i, start in enumerate(starts):
        inside = bisect_left(starts, start + reach) - i
        assert inside <= max_, (start, inside)


@pytest.mark.parametrize("per", ["second", "minute", "hour"])
@pytest.mark.parametrize("max_", [1, 7, 100, 100_000])
def test_a_busy_webhook_gets_at_least_97_percent_of_its_limit(per: str, max_: int) -> None:
    limit = RateLimit(max_, per)  # type: ignore[arg-type]
    period_us = PER_S[per] * 1_000_000
    step = period_us // 240  # claims four times a slot, always with more to send
    starts = _simulate(limit, [(step, max_)] * 240 * 20)  # 20 periods
    achieved = len(starts) / 20
    assert achieved >= max_ * SLOTS / SPAN - max_ / 20
    assert achieved <= max_


@given(
    max_=st.integers(1, 20),
    counts=st.lists(st.integers(0, 20), min_size=1, max_size=SPAN),
    offset=st.integers(0, 10_000_000),
)
def test_opens_at_is_the_first_moment_with_room(max_: int, counts: list[int], offset: int) -> None:
    limit = RateLimit(max_, "second")
    now = T0 + timedelta(microseconds=offset)
    window = Window(limit.slot_of(now) - len(counts) + 1, tuple(counts))
    opens = window.opens_at(limit, now)
    assert opens >= now
    assert window.room(limit, opens) >= 1
    if opens > now:
        assert window.room(limit, opens - timedelta(microseconds=1)) == 0


def _gate(**changes: object) -> Gate:
    values: dict[str, object] = {
        "webhook_id": "wh_1",
        "rate_limit": None,
        "max_in_flight": None,
        "window": Window(),
        "work_at": T0 - timedelta(seconds=1),
    }
    values.update(changes)
    return Gate(**values)  # type: ignore[arg-type]


def test_room_is_the_least_of_budget_rate_and_cap() -> None:
    assert _gate().room(T0, 10) == 10
    assert _gate(max_in_flight=3, in_flight=1).room(T0, 10) == 2
    assert _gate(max_in_flight=3, in_flight=5).room(T0, 10) == 0  # lowered below what flies
    assert _gate(rate_limit=RateLimit(600, "second")).room(T0, 100) == 20  # its burst
    assert _gate(rate_limit=RateLimit(600, "second")).room(T0, 5) == 5
    assert _gate(rate_limit=RateLimit(4, "minute")).room(T0, 10) == 4


def test_a_full_cap_closes_the_gate_until_the_first_lease_ends() -> None:
    ends = [T0 + timedelta(seconds=40), T0 + timedelta(seconds=35)]
    state = after_claim(_gate(max_in_flight=2), ends, T0, more=True)
    assert (state.closed_by, state.open_at) == ("max_in_flight", T0 + timedelta(seconds=35))
    assert state.work_at == T0 - timedelta(seconds=1)  # it still has work


def test_a_spent_rate_closes_the_gate_until_the_window_moves_on() -> None:
    limit = RateLimit(3, "second")
    state = after_claim(_gate(rate_limit=limit), [T0] * 3, T0, more=True)
    assert state.closed_by == "rate_limit"
    assert state.open_at >= T0 + timedelta(seconds=1)
    assert state.window.room(limit, state.open_at) == min(limit.burst, limit.max)


def test_an_open_gate_goes_to_the_back_of_the_line() -> None:
    state = after_claim(_gate(max_in_flight=5), [T0 + timedelta(seconds=31)], T0, more=True)
    assert (state.closed_by, state.open_at, state.work_at) == (None, T0, _gate().work_at)


def test_a_drained_gate_sleeps_until_a_retry_or_a_lease_ends() -> None:
    retry = T0 + timedelta(seconds=5)
    assert after_claim(_gate(next_due_at=retry), [], T0, more=False).work_at == retry
    lease = T0 + timedelta(seconds=3)
    assert after_claim(_gate(next_due_at=retry), [lease], T0, more=False).work_at == lease
    assert after_claim(_gate(), [], T0, more=False).work_at == NEVER


def test_a_worker_whose_clock_is_behind_counts_in_the_latest_slot() -> None:
    limit = RateLimit(5, "second")
    ahead = Window().record(limit.slot_of(T0), 5)
    behind = T0 - timedelta(seconds=3)
    assert ahead.room(limit, behind) == 0
    assert ahead.opens_at(limit, behind) > T0


def test_counts_of_another_period_are_not_kept() -> None:
    per_second, per_minute = RateLimit(5, "second"), RateLimit(5, "minute")
    spent = Window().record(per_second.slot_of(T0), 5)
    assert Window.from_json(spent.to_json(per_second), per_second) == spent
    assert Window.from_json(spent.to_json(per_second), per_minute) == Window()
    assert Window.from_json(spent.to_json(per_second), RateLimit(9, "second")) == spent


@pytest.mark.parametrize(
    ("max_", "per", "burst"),
    [(1, "second", 8), (200, "second", 8), (600, "second", 20), (100_000, "second", 3334),
     (100, "minute", 500), (100_000, "minute", 3334), (100_000, "hour", 30_000)],
)  # fmt: skip
def test_starts_are_spread_over_the_period(max_: int, per: str, burst: int) -> None:
    limit = RateLimit(max_, per)  # type: ignore[arg-type]
    assert limit.burst == burst
    window = Window().record(limit.slot_of(T0), burst)
    assert window.room(limit, T0) == 0
    assert window.opens_at(limit, T0) == limit.slot_start(limit.slot_of(T0) + 1) or max_ <= burst
