"""Event-type use cases: the built-in catalog plus each tenant's own, versioned types.

Built-in types come from the package (``hookwire.catalog``) and cannot be changed. A tenant's
type keeps every version: a change of ``schema`` or ``example`` writes a new version, while
``description`` and ``deprecated`` change the newest one in place.

A tenant's schema is checked and run only in the schema sandbox (``hookwire.sandbox``): child
processes with a time and a memory limit, which compile each (tenant, name, version) once;
versions never change, so what they keep never goes stale. The built-in types, whose schemas
ship with hookwire, are compiled here, once.

The service takes typed input (:class:`~hookwire.domain.event_type.EventTypeDraft` and
:class:`~hookwire.domain.event_type.EventTypePatch`); the edges read and schema-check the JSON
(:mod:`hookwire.domain.event_requests`).
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from typing import Any

from hookwire.catalog.builtin import load_builtin
from hookwire.domain.event_requests import verify_event_type, verify_event_type_patch
from hookwire.domain.event_type import (
    ABSENT,
    NAME_RE,
    EventType,
    EventTypeDraft,
    EventTypePatch,
    check_catalog_writer,
    same_json,
)
from hookwire.domain.principal import Principal
from hookwire.domain.validation import validator_for
from hookwire.errors import Conflict, FieldError, NotFound, ValidationFailed
from hookwire.sandbox import Sandbox
from hookwire.services.paging import Page, check_limit, decode_cursor, page
from hookwire.store.base import Store
from hookwire.timeutil import utcnow


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

    async def create(self, principal: Principal, draft: EventTypeDraft) -> EventType:
        """The tenant's type ``draft`` describes, version 1, once the sandbox accepts it."""
        check_catalog_writer(principal)
        verify_event_type(draft)
        has_example = draft.example is not ABSENT
        example = draft.example if has_example else None
        errors = await self.sandbox.check(principal.tenant_id, draft.schema, example, has_example)
        if errors:
            raise ValidationFailed(errors)
        name = draft.name
        if name in self.builtin:
            raise Conflict(f"{name} is a built-in event type")
        now = utcnow()
        created = EventType(
            name=name,
            description=draft.description,
            schema=draft.schema,
            example=example,
            tenant_id=principal.tenant_id,
            created_at=now,
            updated_at=now,
        )
        if not await self.store.insert_event_type(created):
            raise Conflict(f"event type {name} exists already; PATCH it to change it")
        return created

    async def update(self, principal: Principal, name: str, patch: EventTypePatch) -> EventType:
        """The tenant's type ``name`` changed by ``patch``: a new version when its schema or
        example changes (checked in the sandbox), else the newest one changed in place."""
        check_catalog_writer(principal)
        verify_event_type_patch(patch)
        current = await self._own(principal, name)
        schema, example = patch.schema_for(current), patch.example_for(current)
        new_version = not same_json(schema, current.schema) or not same_json(
            example, current.example
        )
        has_example = new_version and example is not None
        errors = await self.sandbox.check(principal.tenant_id, schema, example, has_example)
        if errors:
            raise ValidationFailed(errors)
        changed = dataclasses.replace(
            current,
            description=current.description if patch.description is None else patch.description,
            deprecated=current.deprecated if patch.deprecated is None else patch.deprecated,
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
        await self.update(principal, name, EventTypePatch(deprecated=True))

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
