"""Event-type use cases: the built-in catalog plus each tenant's own, versioned types.

Built-in types come from the package (``hookwire.catalog``) and cannot be changed. A tenant's
type keeps every version: a change of ``schema`` or ``example`` writes a new version, while
``description`` and ``deprecated`` change the newest one in place.

A tenant's schema is checked and run only in the schema sandbox (``hookwire.sandbox``): child
processes with a time and a memory limit, which compile each (tenant, name, version) once;
versions never change, so what they keep never goes stale. The built-in types, whose schemas
ship with hookwire, are compiled here, once.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from hookwire.catalog.builtin import load_builtin
from hookwire.domain.event_type import NAME_RE, EventType, same_json
from hookwire.domain.principal import Principal
from hookwire.domain.validation import checked, validator_for
from hookwire.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from hookwire.sandbox import Sandbox
from hookwire.services.paging import Page, check_limit, decode_cursor, page
from hookwire.store.base import Store
from hookwire.timeutil import utcnow

_DESCRIPTION: dict[str, Any] = {"type": "string", "maxLength": 2000}
CREATE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "schema"],
    "properties": {
        "name": {"type": "string", "pattern": f"^{NAME_RE.pattern}$"},
        "description": _DESCRIPTION,
        "schema": {"type": ["object", "boolean"]},
        "example": {},
    },
}
PATCH_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "description": _DESCRIPTION,
        "schema": {"type": ["object", "boolean"]},
        "example": {},
        "deprecated": {"type": "boolean"},
    },
}


def _tenant_level(principal: Principal) -> None:
    """The catalog is the tenant's: every application of the tenant publishes with it, so one
    application's token may read it but not change it (it could break another's publishing)."""
    if principal.app_id is not None:
        raise Forbidden(
            "event types belong to the tenant, not to an application: create, change and "
            "deprecate them with a token that has no app_id"
        )


class EventTypeService:
    """The catalog a tenant sees: built-in types and its own."""

    def __init__(
        self, store: Store, sandbox: Sandbox, builtin: Mapping[str, EventType] | None = None
    ) -> None:
        self.store = store
        self.sandbox = sandbox
        self.builtin = dict(load_builtin() if builtin is None else builtin)

    async def get(self, principal: Principal, name: str, version: int | None = None) -> EventType:
        if name in self.builtin:
            found: EventType | None = self.builtin[name] if version in (None, 1) else None
        else:
            found = await self.store.get_event_type(principal.tenant_id, name, version)
        if found is None:
            which = f" version {version}" if version is not None else ""
            raise NotFound(f"event type {name}{which} not found")
        return found

    async def list(self, principal: Principal, cursor: str | None, limit: int) -> Page[EventType]:
        check_limit(limit)
        after = decode_cursor(cursor, NAME_RE)
        own = await self.store.list_event_types(principal.tenant_id, after, limit + 1)
        builtin = [t for name, t in self.builtin.items() if after is None or name > after]
        merged = sorted([*builtin, *own], key=lambda t: t.name)[: limit + 1]
        return page(merged, limit, lambda t: t.name)

    async def create(self, principal: Principal, body: Any) -> EventType:
        _tenant_level(principal)
        fields = checked(CREATE_SCHEMA, body)
        errors = await self.sandbox.check(
            principal.tenant_id, fields["schema"], fields.get("example"), "example" in fields
        )
        if errors:
            raise ValidationFailed(errors)
        name = fields["name"]
        if name in self.builtin:
            raise Conflict(f"{name} is a built-in event type")
        now = utcnow()
        created = EventType(
            name=name,
            description=fields.get("description", ""),
            schema=fields["schema"],
            example=fields.get("example"),
            tenant_id=principal.tenant_id,
            created_at=now,
            updated_at=now,
        )
        if not await self.store.insert_event_type(created):
            raise Conflict(f"event type {name} exists already; PATCH it to change it")
        return created

    async def update(self, principal: Principal, name: str, body: Any) -> EventType:
        _tenant_level(principal)
        fields = checked(PATCH_SCHEMA, body)
        current = await self._own(principal, name)
        schema = fields.get("schema", current.schema)
        example = fields.get("example", current.example)
        new_version = not same_json(schema, current.schema) or not same_json(
            example, current.example
        )
        has_example = new_version and example is not None
        errors = await self.sandbox.check(principal.tenant_id, schema, example, has_example)
        if errors:
            raise ValidationFailed(errors)
        changed = dataclasses.replace(
            current,
            description=fields.get("description", current.description),
            deprecated=fields.get("deprecated", current.deprecated),
            schema=schema,
            example=example,
            updated_at=utcnow(),
        )
        if new_version:
            changed = dataclasses.replace(
                changed, version=current.version + 1, created_at=changed.updated_at
            )
            written = await self.store.insert_event_type(changed)
        else:
            written = await self.store.update_event_type(changed)
        if not written:
            raise Conflict(f"event type {name} changed meanwhile; read it and retry")
        return changed

    async def deprecate(self, principal: Principal, name: str) -> None:
        await self.update(principal, name, {"deprecated": True})

    async def _own(self, principal: Principal, name: str) -> EventType:
        if name in self.builtin:
            raise Conflict(f"{name} is a built-in event type and cannot be changed")
        found = await self.store.get_event_type(principal.tenant_id, name)
        if found is None:
            raise NotFound(f"event type {name} not found")
        return found

    async def resolve(self, principal: Principal, name: str) -> EventType:
        """The newest version of the type an event names, or 422 at ``/type``."""
        try:
            return await self.get(principal, name)
        except NotFound as exc:
            raise ValidationFailed.at("/type", f"unknown event type {name!r}") from exc

    async def data_errors(self, event_type: EventType, data: Any) -> builtins.list[FieldError]:
        """Every violation of the type's schema by ``data``, pointed at ``/data/...``."""
        if event_type.builtin:  # hookwire's own schema: compiled once, run here
            return validator_for(event_type.schema).errors(data, base="/data")
        return await self.sandbox.errors(event_type, data, "/data")
