"""Keyset pagination shared by every list: opaque cursors and ``{data, next_cursor}`` pages."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Generic, Protocol, TypeVar

from hookwire.errors import ValidationFailed
from hookwire.ids import ID_PATTERN

T = TypeVar("T")
MAX_LIMIT: Final = 200
_BAD_CURSOR = "is not a cursor this API returned"


class Resource(Protocol):
    """What a list holds: a resource with a JSON shape."""

    def to_public(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Resource)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None

    def to_public(self: Page[R]) -> dict[str, Any]:
        """The answer of every list, for the API and ``hookwire.Client`` alike:
        ``{"data": [resource, ...], "next_cursor": ...}``."""
        return {"data": [item.to_public() for item in self.items], "next_cursor": self.next_cursor}


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.at("/limit", f"must be between 1 and {MAX_LIMIT}")


def check_window(since: datetime | None, until: datetime | None) -> None:
    """A list's time filters: ``until`` must come after ``since``."""
    if since and until and until <= since:
        raise ValidationFailed.at("/until", "must be after since")


def encode_cursor(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, valid: re.Pattern[str]) -> str | None:
    """The key a cursor carries; ``valid`` is the shape the key must have."""
    if cursor is None:
        return None
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed.at("/cursor", _BAD_CURSOR) from exc
    if not valid.fullmatch(value):
        raise ValidationFailed.at("/cursor", _BAD_CURSOR)
    return value


class Keyset(Protocol):
    """A list query: ``limit`` rows with ids below ``before_id``, newest first."""

    @property
    def limit(self) -> int: ...

    @property
    def before_id(self) -> str | None: ...


Q = TypeVar("Q", bound=Keyset)


async def paged(
    query: Q,
    cursor: str | None,
    fetch: Callable[[Q], Awaitable[Sequence[T]]],
    key: Callable[[T], str],
) -> Page[T]:
    """One page of a keyset-paginated list: the limit checked, the cursor decoded, one extra
    row fetched to tell whether there is more."""
    check_limit(query.limit)
    before = decode_cursor(cursor, ID_PATTERN)
    probe = dataclasses.replace(query, limit=query.limit + 1, before_id=before)  # type: ignore[type-var]
    return page(await fetch(probe), query.limit, key)


def page(rows: Sequence[T], limit: int, key: Callable[[T], str]) -> Page[T]:
    """A page from ``limit + 1`` fetched rows: the extra row only says there is more."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page(items, encode_cursor(key(items[-1])) if more and items else None)
