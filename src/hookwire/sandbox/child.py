"""The schema sandbox's child process: tenants' JSON Schemas are compiled and run here, never
in a process that serves requests.

The schema checks (``domain.schema_graph``, ``domain.schema_cost``) bound what an accepted
schema can cost, but they model another engine from outside, and three reviews each found a
place where the model and jsonschema-rs parted. Here a mistake in the model costs this child
its time limit or its memory (``RLIMIT_AS``, set before anything else), never the event loop
of an API process: the parent kills a child that does not answer in time and starts another.

Run as ``python -m hookwire.sandbox <memory-bytes>``; it reads requests on stdin and answers on
stdout (``protocol``) until stdin closes.
"""

from __future__ import annotations

import resource
import sys
from collections import OrderedDict
from typing import Any, Final

from hookwire.domain.validation import Compiled, tenant_schema
from hookwire.errors import FieldError, ValidationFailed
from hookwire.sandbox.protocol import CACHE_ENTRIES, FrameError, read_frame, write_frame

CACHE_BYTES: Final = 256 * 1024 * 1024  # compiled schemas kept, by their footprints


class SchemaCache:
    """Compiled schemas by key, least recently used evicted past CACHE_ENTRIES or when their
    footprints add up to more than CACHE_BYTES (one larger schema is kept alone)."""

    def __init__(self, entries: int = CACHE_ENTRIES, bytes_held: int = CACHE_BYTES) -> None:
        self._entries, self._bytes, self._held = entries, bytes_held, 0
        self._compiled: OrderedDict[str, Compiled] = OrderedDict()

    def __len__(self) -> int:
        return len(self._compiled)

    def get(self, key: str) -> Compiled | None:
        found = self._compiled.get(key)
        if found is not None:
            self._compiled.move_to_end(key)
        return found

    def put(self, key: str, compiled: Compiled) -> None:
        self._compiled[key] = compiled
        self._held += compiled.footprint
        while len(self._compiled) > 1 and (
            len(self._compiled) > self._entries or self._held > self._bytes
        ):
            self._held -= self._compiled.popitem(last=False)[1].footprint


def check(schema: Any, example: Any, has_example: bool) -> list[FieldError]:
    """Why ``schema`` (and ``example`` against it) cannot be stored, pointed into the body."""
    try:
        compiled = tenant_schema(schema)
    except ValidationFailed as exc:
        return [FieldError("/schema" + e.path, e.message) for e in exc.errors]
    return compiled.errors(example, base="/example") if has_example else []


def validate(cache: SchemaCache, message: dict[str, Any]) -> dict[str, Any]:
    key = message["key"]
    compiled = cache.get(key)
    if compiled is None:
        if "schema" not in message:
            return {"unknown": True}
        try:
            compiled = tenant_schema(message["schema"])
        except ValidationFailed as exc:  # stored by an earlier version, before these rules
            why = f"the schema of {message['name']} cannot be used ({exc.detail}); update it"
            return {"errors": [["/type", why]]}
        cache.put(key, compiled)
    return {"errors": _pairs(compiled.errors(message["document"], message["base"]))}


def _pairs(errors: list[FieldError]) -> list[list[str]]:
    return [[e.path, e.message] for e in errors]


def handle(cache: SchemaCache, message: dict[str, Any]) -> dict[str, Any]:
    if message.get("op") == "check":
        found = check(message["schema"], message.get("example"), "example" in message)
        return {"errors": _pairs(found)}
    if message.get("op") == "validate":
        return validate(cache, message)
    return {"failed": f"unknown request {message.get('op')!r}"}


def main(argv: list[str]) -> None:
    memory = int(argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    cache = SchemaCache()
    write_frame(stdout, {"ready": True})
    while True:
        try:
            message = read_frame(stdin)
        except FrameError:
            return
        try:
            answer = handle(cache, message)
        except Exception as exc:  # the parent hears of it; the child goes on
            answer = {"failed": f"{type(exc).__name__}: {exc}"[:500]}
        write_frame(stdout, answer)
