"""Who is calling: the verified claims of a token, reduced to what scopes the data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller. ``tenant_id`` scopes every row; ``app_id``, when present, narrows it further."""

    tenant_id: str
    sub: str | None = None
    app_id: str | None = None
