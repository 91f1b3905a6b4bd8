"""Event types: a named, versioned JSON Schema for an event's ``data``; a tenant's new type and
its changes as the service takes them (their bodies are read at the edges:
:mod:`hookwire.domain.event_requests`); who may change the catalog."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from hookwire.domain.principal import Principal
from hookwire.errors import Forbidden
from hookwire.timeutil import iso

# Tenant-defined names (issue 3 says [a-z0-9][a-z0-9._:-]*; "_" is allowed as well, because
# the seed 003 events every platform already emits are snake_case: see docs/decisions.md).
NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,127}")
MAX_VERSION: Final = 2**31 - 1  # a PostgreSQL integer: a version number a reader may ask for


class Absent(enum.Enum):
    """A field a request left out, told apart from the ``null`` it may send instead."""

    ABSENT = "absent"


ABSENT: Final = Absent.ABSENT


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


@dataclass(frozen=True, slots=True)
class EventTypeDraft:
    """A tenant's new type as it asks for it: shape-checked at the edge; the sandbox checks
    ``schema`` (an object, or true or false) and ``example`` against it, when one is given
    (``null`` is one; :data:`ABSENT`: none)."""

    name: str
    schema: Any
    description: str = ""
    example: Any = ABSENT


@dataclass(frozen=True, slots=True)
class EventTypePatch:
    """A change to a tenant's type, as a JSON merge patch: a field left out stays as it is
    (``None``, which none of the first three can be in JSON; :data:`ABSENT` for ``example``,
    where ``null`` clears it). A new ``schema`` or ``example`` makes a new version."""

    description: str | None = None
    schema: Any = None
    deprecated: bool | None = None
    example: Any = ABSENT

    def schema_for(self, current: EventType) -> Any:
        return current.schema if self.schema is None else self.schema

    def example_for(self, current: EventType) -> Any:
        return current.example if self.example is ABSENT else self.example


def check_catalog_writer(principal: Principal) -> None:
    """The catalog is the tenant's: every application of the tenant publishes with it, so one
    application's token may read it but not change it (it could break another's publishing).
    The service checks it; the edges check it first too, before reading a body, so that such
    a token hears 403 before anything about its body."""
    if principal.app_id is not None:
        raise Forbidden(
            "event types belong to the tenant, not to an application: create, change and "
            "deprecate them with a token that has no app_id"
        )
