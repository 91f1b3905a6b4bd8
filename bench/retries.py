"""The retries scenario's bookkeeping: what a receiver that fails 10 % of requests saw.

bench/deliver.py drains N events for one webhook into nginx's failing variant (bench/nginx.py,
``fail_percent=10``: 500 to a random tenth of requests, each request drawn anew) and feeds
every logged request to a :class:`RetryTally`. The *first attempt* of a delivery is the first
request with its webhook-id; a retry is any later request with that id. The figure of the
scenario is how many first attempts succeed per second while the failed ones are being retried
alongside (hookwire's default policy: first retry after 5 s ± 20 %, then doubling), compared
with the plain drain of the same run: if retrying cost the healthy deliveries nothing, it
would be about 0.9x the plain rate (a tenth of first attempts fail).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


def ok(status: int) -> bool:
    return 200 <= status < 300


@dataclass(slots=True)
class RetryTally:
    """Per webhook-id (or path + webhook-id): the first request's time and status, how many
    requests came, and whether one of them succeeded."""

    first_at: dict[str, float] = field(default_factory=dict)
    first_status: dict[str, int] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    succeeded: set[str] = field(default_factory=set)

    def note(self, key: str, arrived_at: float, status: int) -> None:
        """One logged request (bench/deliver.py's Arrivals calls this per log line)."""
        if key not in self.first_status:
            self.first_at[key] = arrived_at
            self.first_status[key] = status
        self.requests[key] += 1
        if ok(status):
            self.succeeded.add(key)

    def failed_first(self) -> list[str]:
        """The keys whose first attempt did not succeed."""
        return [key for key, status in self.first_status.items() if not ok(status)]

    def not_retried(self) -> list[str]:
        """Failed first attempts with no second request yet."""
        return [key for key in self.failed_first() if self.requests[key] < 2]


@dataclass(frozen=True, slots=True)
class Retries:
    """The retries scenario's figures for one store (one JSON line)."""

    setup: str
    events: int  # published, one delivery each
    first_attempts: int  # events whose first request arrived
    first_ok: int  # ... and got a 2xx
    first_failed: int  # ... and got something else (500)
    retried: int  # failed first attempts with a second request before the end
    delivered: int  # events with a 2xx by the end (first attempt or a retry)
    seconds: float  # first arrival → last first attempt
    first_attempts_per_s: float
    first_ok_per_s: float
    plain_per_s: float | None  # the plain drain of the same run and store
    ratio: float | None  # first_ok_per_s / plain_per_s
    capped: bool
    cpu: dict[str, float]
    note: str = ""


def summarize(
    setup: str,
    keys: list[str],
    tally: RetryTally,
    plain_per_s: float | None,
    capped: bool,
    cpu: dict[str, float],
    note: str = "",
) -> Retries:
    """Figures over the expected ``keys`` (one per event) from what the receiver logged."""
    firsts = [tally.first_at[key] for key in keys if key in tally.first_at]
    oks = sum(1 for key in keys if ok(tally.first_status.get(key, 0)))
    failed = [key for key in keys if key in tally.first_status and not ok(tally.first_status[key])]
    seconds = max(max(firsts) - min(firsts), 1e-3) if firsts else 0.0
    first_ok_per_s = round(oks / seconds, 1) if seconds else 0.0
    return Retries(
        setup=setup,
        events=len(keys),
        first_attempts=len(firsts),
        first_ok=oks,
        first_failed=len(failed),
        retried=sum(1 for key in failed if tally.requests[key] >= 2),
        delivered=sum(1 for key in keys if key in tally.succeeded),
        seconds=round(seconds, 3),
        first_attempts_per_s=round(len(firsts) / seconds, 1) if seconds else 0.0,
        first_ok_per_s=first_ok_per_s,
        plain_per_s=plain_per_s,
        ratio=round(first_ok_per_s / plain_per_s, 2) if plain_per_s else None,
        capped=capped,
        cpu=cpu,
        note=note,
    )
