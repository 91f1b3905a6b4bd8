"""Retry policy: the shape clients send, its defaults, and its JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

Backoff = Literal["exponential", "linear", "fixed"]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 100},
        "backoff": {"enum": ["exponential", "linear", "fixed"]},
        "initialDelayMs": {"type": "integer", "minimum": 0, "maximum": 86_400_000},
        "maxDelayMs": {"type": "integer", "minimum": 0, "maximum": 604_800_000},
        "timeoutMs": {"type": "integer", "minimum": 100, "maximum": 120_000},
        "pauseAfterFailures": {"type": "integer", "minimum": 1, "maximum": 100_000},
    },
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A webhook's ``retry_policy`` (docs/api.md): ``{maxAttempts, backoff, initialDelayMs,
    maxDelayMs, timeoutMs,
    pauseAfterFailures}`` with defaults filled in."""

    max_attempts: int = 8
    backoff: Backoff = "exponential"
    initial_delay_ms: int = 5_000
    max_delay_ms: int = 36_000_000
    timeout_ms: int = 15_000
    pause_after_failures: int = 20

    @classmethod
    def from_json(cls, data: Mapping[str, Any], default_pause_after: int) -> RetryPolicy:
        """Fill defaults into an already schema-checked policy object."""
        return cls(
            max_attempts=data.get("maxAttempts", 8),
            backoff=data.get("backoff", "exponential"),
            initial_delay_ms=data.get("initialDelayMs", 5_000),
            max_delay_ms=data.get("maxDelayMs", 36_000_000),
            timeout_ms=data.get("timeoutMs", 15_000),
            pause_after_failures=data.get("pauseAfterFailures", default_pause_after),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "maxAttempts": self.max_attempts,
            "backoff": self.backoff,
            "initialDelayMs": self.initial_delay_ms,
            "maxDelayMs": self.max_delay_ms,
            "timeoutMs": self.timeout_ms,
            "pauseAfterFailures": self.pause_after_failures,
        }

    def problem(self) -> str | None:
        """A rule across fields that the schema cannot say."""
        if self.max_delay_ms < self.initial_delay_ms:
            return "maxDelayMs must not be less than initialDelayMs"
        return None


JITTER: Final = 0.2


def backoff_ms(policy: RetryPolicy, retry: int, jitter: float) -> int:
    """Milliseconds before the ``retry``-th retry (1 after the first failed attempt): the
    policy's delay capped at ``maxDelayMs``, then scaled by ``1 + jitter`` where
    ``jitter`` is in [-0.2, 0.2] (docs/concepts.md "Retries")."""
    if retry < 1:
        raise ValueError("retries are numbered from 1")
    if not -JITTER <= jitter <= JITTER:
        raise ValueError(f"jitter must be within ±{JITTER}")
    factor: int = {"exponential": 2 ** (retry - 1), "linear": retry, "fixed": 1}[policy.backoff]
    base = min(policy.initial_delay_ms * factor, policy.max_delay_ms)
    return round(base * (1 + jitter))
