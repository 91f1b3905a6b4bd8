"""Attempts: one HTTP request of a delivery, as kept in the delivery log (docs/api.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from hookwire.timeutil import iso

MAX_LOGGED_BODY: Final = 4096
MAX_LOGGED_HEADERS: Final = 4096  # bytes of response header fields kept, names and values
MAX_LOGGED_VALUE: Final = 512  # characters of one kept header value
REDACTED: Final = "[redacted]"
_SIGNATURE_HEADERS: Final = frozenset(
    {"webhook-signature", "x-kombo-signature", "x-hub-signature-256", "stripe-signature"}
)


@dataclass(frozen=True, slots=True)
class Attempt:
    id: str
    tenant_id: str
    delivery_id: str
    webhook_id: str
    started_at: datetime
    duration_ms: int
    outcome: str
    status_code: int | None = None
    request_headers: Mapping[str, str] = field(default_factory=dict)
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: str | None = None
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": iso(self.started_at),
            "duration_ms": self.duration_ms,
            "status_code": self.status_code,
            "outcome": self.outcome,
            "success": self.success,
            "request_headers": dict(self.request_headers),
            "response_headers": dict(self.response_headers),
            "response_body": self.response_body,
            "error": self.error,
        }


def storable(text: str) -> str:
    """``text`` with U+0000 replaced: PostgreSQL's text and jsonb cannot hold it, and one such
    character from a receiver made a whole batch of attempts fail to record."""
    return text.replace("\x00", "\ufffd")


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    """Request headers as logged: signatures replaced, so the log never helps a forger."""
    return {k: REDACTED if k.lower() in _SIGNATURE_HEADERS else v for k, v in headers.items()}


def logged_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Response header fields as kept in the log: in order, each value cut to
    MAX_LOGGED_VALUE characters, until MAX_LOGGED_HEADERS bytes (a receiver may send 128
    fields of 8 KiB: a megabyte per attempt)."""
    kept: dict[str, str] = {}
    size = 0
    for name, value in headers.items():
        shown = (
            value if len(value) <= MAX_LOGGED_VALUE else value[: MAX_LOGGED_VALUE - 1] + "\u2026"
        )
        size += len(name) + len(shown)
        if size > MAX_LOGGED_HEADERS:
            break
        kept[storable(name)] = storable(shown)
    return kept


def excerpt(body: bytes) -> str:
    """At most 4 KiB of a response body, decoded leniently, storable."""
    return storable(body[:MAX_LOGGED_BODY].decode("utf-8", errors="replace"))
