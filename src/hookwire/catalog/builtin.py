"""The built-in event types, read from the JSON files in ``hookwire/catalog/data``.

One file per type, named after the type with ``:`` written as ``__``
(``assessment__order-received.json``), holding ``name, description, origin, schema, example``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from hookwire.domain.event_type import EventType
from hookwire.errors import ConfigurationError


class CatalogError(ConfigurationError):
    """A built-in catalog file is malformed: a packaging bug, not a caller's mistake."""


def file_name(type_name: str) -> str:
    """The data file that holds ``type_name``."""
    return type_name.replace(":", "__") + ".json"


@cache
def load_builtin() -> dict[str, EventType]:
    """Every built-in event type by name (read once per process)."""
    found: dict[str, EventType] = {}
    entries = sorted(files("hookwire.catalog").joinpath("data").iterdir(), key=lambda e: e.name)
    for entry in entries:
        if not entry.name.endswith(".json"):
            continue
        document: dict[str, Any] = json.loads(entry.read_text(encoding="utf-8"))
        name = document.get("name")
        if not isinstance(name, str) or file_name(name) != entry.name:
            raise CatalogError(
                f"catalog file {entry.name} declares name {name!r}; "
                f"expected the file to be named after its type"
            )
        if name in found:
            raise CatalogError(f"event type {name!r} is declared by two catalog files")
        found[name] = EventType(
            name=name,
            description=document["description"],
            schema=document["schema"],
            version=1,
            deprecated=False,
            builtin=True,
            example=document["example"],
        )
    return found
