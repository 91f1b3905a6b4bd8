"""How a webhook's deliveries are going, from its attempt log: the success rate of a period
and the attempts per time bucket that the dashboard charts. Pure: the store counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Health:
    """A webhook's attempts in a period and how many of them succeeded."""

    attempts: int = 0
    succeeded: int = 0

    @property
    def success_rate(self) -> float | None:
        """Successes over attempts; None when nothing was attempted."""
        return self.succeeded / self.attempts if self.attempts else None


@dataclass(frozen=True, slots=True)
class Bucket:
    """Attempts that started in ``[start, start + width)`` (unix seconds): those that
    succeeded, those that failed and are (or were) tried again, and those that failed for
    good (the delivery's last attempt: exhausted, gone, or cancelled)."""

    start: int
    attempts: int = 0
    succeeded: int = 0
    retrying: int = 0

    @property
    def failed(self) -> int:
        return self.attempts - self.succeeded - self.retrying


def series(buckets: Iterable[Bucket], start: int, width: int, count: int) -> list[Bucket]:
    """``count`` consecutive buckets of ``width`` seconds from ``start`` (floored to a
    multiple of ``width``), empty ones filled in; buckets outside the range are dropped."""
    first = start - start % width
    found = {b.start: b for b in buckets}
    return [found.get(first + n * width, Bucket(first + n * width)) for n in range(count)]
