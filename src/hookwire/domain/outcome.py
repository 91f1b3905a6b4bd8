"""What an attempt's result means for the delivery and its webhook (docs/concepts.md "Retries").

2xx succeeds. Redirects are not followed, so 3xx fails (and is retried like any failure).
410 fails for good and pauses the webhook. 429 and 503 with ``Retry-After`` wait at least
that long. Everything else, timeouts and connection errors are retried by the policy until
``maxAttempts``. ``blocked`` (an SSRF refusal at connect time) is retried too: DNS may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Final, Literal

Kind = Literal["succeeded", "retry", "gone"]
MAX_RETRY_AFTER_S: Final = 7 * 86400


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    status: str  # last_delivery_status: "200", "500", "timeout", "connection_error", "blocked",
    # "error" (hookwire failed inside the attempt)
    retry_after_s: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.kind == "succeeded"


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), capped."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() alone is true; float("²") raises
        return min(float(value), MAX_RETRY_AFTER_S)  # a longer one than a float holds is inf
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


def of_response(status_code: int, headers: Mapping[str, str], now: datetime) -> Outcome:
    if 200 <= status_code < 300:
        return Outcome("succeeded", str(status_code))
    if status_code == 410:
        return Outcome("gone", "410")
    wait = retry_after(headers, now) if status_code in (429, 503) else None
    return Outcome("retry", str(status_code), wait)


def of_error(kind: Literal["timeout", "connection_error", "blocked", "error"]) -> Outcome:
    """A failed attempt without an answer; ``error`` is a failure inside hookwire itself."""
    return Outcome("retry", kind)
