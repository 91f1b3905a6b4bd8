"""Event types: a named, versioned JSON Schema for an event's ``data`` (DESIGN §4, §7)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from hookwire.timeutil import iso

# Tenant-defined names (issue 3 says [a-z0-9][a-z0-9._:-]*; "_" is allowed as well, because
# the seed 003 events every platform already emits are snake_case: see docs/decisions.md).
NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,127}")
MAX_VERSION: Final = 2**31 - 1  # a PostgreSQL integer: a version number a reader may ask for


@dataclass(frozen=True, slots=True)
class EventType:
    """One version of an event type. Built-in types have version 1 and no tenant."""

    name: str
    description: str
    schema: Mapping[str, Any]
    version: int = 1
    deprecated: bool = False
    builtin: bool = False
    example: Any = None
    tenant_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "schema": self.schema,
            "version": self.version,
            "deprecated": self.deprecated,
            "builtin": self.builtin,
            "example": self.example,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


def same_json(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are written the same as JSON, whatever their keys' order.
    Python's ``==`` is not that: ``True == 1 == 1.0``, and a schema's ``const: true`` is not
    its ``const: 1``."""
    sort = orjson.OPT_SORT_KEYS
    return orjson.dumps(a, option=sort) == orjson.dumps(b, option=sort)
