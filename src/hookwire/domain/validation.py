"""JSON Schema checks that report every error with a JSON Pointer into the checked document.

The engine is jsonschema-rs (Rust): it matches ``pattern`` with a linear-time regular
expression engine (no backtracking: lookaround and backreferences are refused when a schema is
written), checks ``uniqueItems`` by hashing, and validates tens of times faster than a Python
validator. Draft 2020-12, with these deliberate differences from a stock validator:

- ``nullable: true`` (OpenAPI style, used by the seed schemas) lets ``null`` through ``type``
  and ``enum`` in the same schema object, so the seed schemas are used exactly as published;
- ``format`` is enforced for ``email``, ``uri``, ``date-time`` and ``uuid`` only (the others
  are annotations: ``regex``, say, would compile a document's string for every check);
- ``pattern`` follows ECMA-262: ``$`` matches only at the very end, ``\\d`` and ``\\w`` are
  ASCII; a pattern whose compiled form exceeds :data:`PATTERN_SIZE` (counted repetition of a
  broad class, ``.{1,500}``) is refused, and a schema holds at most :data:`MAX_PATTERNS`;
- a tenant's schema must be affordable (``schema_cost``): no ``$ref`` loop that never descends
  into the data, and a bounded number of subschemas applied to any one value;
- references stay inside the schema (``#...``); nothing is ever fetched;
- messages never repeat the document's values (``value is not of type "integer"``); at most
  :data:`MAX_ERRORS` errors are reported, and a document whose values times the errors one
  value can produce exceed :data:`DETAIL_BUDGET`, or deeper than :data:`DETAILED_DEPTH`
  levels, is reported by its first error only (listing every error costs per error, and each
  carries its value), so that an answer stays small and quick.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit

import jsonschema_rs
import orjson

from hookwire.domain.schema_cost import check_cost
from hookwire.domain.schema_graph import SchemaRefused, schema_graph
from hookwire.errors import FieldError, ValidationFailed
from hookwire.timeutil import is_date_time

PATTERN_SIZE: Final = 64 * 1024  # bytes of one compiled pattern: compiles in under 1 ms
MAX_PATTERNS: Final = 64  # distinct patterns in one schema
MAX_ERRORS: Final = 100  # errors reported for one document
DETAIL_BUDGET: Final = 4_000  # values x the errors one value can produce, to list them all
DETAILED_DEPTH: Final = 32  # a deeper document is not listed error by error
WORK_BUDGET: Final = 8_000_000  # values x the work one value can cost (~50 ms at most)
CHEAP_WORK: Final = 60  # below this per value, 256 KB of data is within WORK_BUDGET anyway
NODE_BYTES: Final = 1024  # what a compiled subschema holds, about (600-800 measured)
# what the data a schema holds takes, per byte of its JSON: 37 measured for an array of small
# numbers (the worst found), 13 for strings or an object, 19 for the catalog's schemas
HELD_PER_BYTE: Final = 40
MAX_POINTER: Final = 512  # bytes of a reported pointer, as JSON (a member name can be 200 KB)
_UNDETAILED: Final = (
    "the document is too large or too deep for every error against this schema to be listed "
    "cheaply: only its first error is shown"
)
_INVALID: Final = (
    "does not match its type's schema; the document is too large or too deep for its errors "
    "to be listed cheaply against this schema (its anyOf/oneOf errors carry every branch's)"
)
_TOO_COSTLY: Final = (
    "is too large to check against its type's schema, which applies up to that many checks "
    "to each value: send less data in one event, or simplify the schema"
)
MAX_MESSAGE: Final = 384  # bytes of one error's message, as JSON
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_SPACE = re.compile(r"\s")


def pointer(parts: Iterable[Any], base: str = "") -> str:
    """A JSON Pointer (RFC 6901) from path parts, under ``base``."""
    out = [base]
    for part in parts:
        out.append("/" + str(part).replace("~", "~0").replace("/", "~1"))
    return "".join(out)


def nul_path(value: Any, base: str = "") -> str | None:
    """The pointer to the first string (value or member name) holding U+0000, or None.
    PostgreSQL's text and jsonb cannot store it, so both stores refuse it alike."""
    if isinstance(value, str):
        return base if "\x00" in value else None
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        here = pointer([key], base)
        if isinstance(key, str) and "\x00" in key:
            return here
        found = nul_path(item, here)
        if found is not None:
            return found
    return None


# --- formats ---------------------------------------------------------------------------


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or _EMAIL.fullmatch(value) is not None


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _SPACE.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(_URI_SCHEME.fullmatch(parts.scheme)) and bool(parts.netloc or parts.path)


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or is_date_time(value)


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36 and value[8] == value[13] == value[18] == value[23] == "-"


FORMATS: Final = {"email": _is_email, "uri": _is_uri, "date-time": _is_date_time, "uuid": _is_uuid}


# --- compiling ------------------------------------------------------------------------------


class Compiled:
    """A schema read (``schema_graph``), bounded (``schema_cost``) and compiled: its cost
    per value, and what keeping it costs (``footprint``, in bytes: the data it holds, every
    subschema, and every pattern up to PATTERN_SIZE compiled plus as much of lazy DFA).
    SchemaRefused or jsonschema_rs.ValidationError when the schema cannot be used;
    :func:`tenant_schema` turns both into a 422."""

    def __init__(self, schema: Any) -> None:
        written = orjson.dumps(schema)
        prepared = orjson.loads(written)  # a copy, adjusted below
        graph = schema_graph(prepared)
        _adjust(graph.nodes)
        self.patterns = len(_patterns(graph.nodes))
        if self.patterns > MAX_PATTERNS:
            raise SchemaRefused((), f"holds {self.patterns} patterns; at most {MAX_PATTERNS}")
        self.cost = check_cost(graph)
        self.footprint = (
            len(written) * HELD_PER_BYTE
            + len(graph.nodes) * NODE_BYTES
            + self.patterns * 2 * PATTERN_SIZE
        )
        self._contexts = any(
            isinstance(node, dict) and ("anyOf" in node or "oneOf" in node) for node in graph.nodes
        )
        self._validator = jsonschema_rs.Draft202012Validator(
            prepared,
            formats=FORMATS,
            validate_formats=True,
            pattern_options=jsonschema_rs.RegexOptions(
                size_limit=PATTERN_SIZE, dfa_size_limit=PATTERN_SIZE
            ),
            mask="value",
            offline=True,
        )

    def errors(self, document: Any, base: str = "") -> list[FieldError]:
        """Every violation by ``document``, sorted by pointer, deduplicated, at most
        MAX_ERRORS (then a count of the rest), when listing them costs little; else its first
        violation, or only that it has one (see the module's docstring)."""
        try:
            if self.cost.work > CHEAP_WORK and not _within(document, WORK_BUDGET // self.cost.work):
                return [FieldError(base, _TOO_COSTLY)]
            if self._validator.is_valid(document):
                return []
            if _within(document, DETAIL_BUDGET // max(self.cost.errors, 1), DETAILED_DEPTH):
                return self._listed(document, base)
        except ValueError as exc:  # not JSON (a Python caller's dict with int keys, bytes)
            return [FieldError(base, f"is not JSON: {exc}")]
        return self._first(document, base) if not self._contexts else [FieldError(base, _INVALID)]

    def _listed(self, document: Any, base: str) -> list[FieldError]:
        found: dict[tuple[str, str], FieldError] = {}
        for error in self._validator.iter_errors(document):
            for field_error in _field_errors(error, base):
                found.setdefault((field_error.path, field_error.message), field_error)
        ordered = sorted(found.values(), key=lambda e: e.path)
        if len(ordered) > MAX_ERRORS:
            rest = len(ordered) - MAX_ERRORS
            ordered = [*ordered[:MAX_ERRORS], FieldError(base, f"and {rest} more errors")]
        return ordered

    def _first(self, document: Any, base: str) -> list[FieldError]:
        """The first violation, from a validation that stops there (with no anyOf or oneOf
        in the schema: their error carries every error of every branch, built before)."""
        try:
            self._validator.validate(document)
        except jsonschema_rs.ValidationError as error:
            return [*_field_errors(error, base), FieldError(base, _UNDETAILED)]
        return []


def _within(document: Any, values: int, depth: int = 1 << 30) -> bool:
    """Whether ``document`` holds at most ``values`` values and ``depth`` levels. Counting
    stops at the limits, so the check costs little itself."""
    stack, seen = [(document, 1)], 1
    while stack:
        value, level = stack.pop()
        if level > depth:
            return False
        members = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            seen += len(members)
            if seen > values:
                return False
            stack.extend((item, level + 1) for item in members)
    return seen <= values


def _adjust(nodes: Iterable[Any]) -> None:
    """In place: ``nullable: true`` adds null to the same object's ``type`` and ``enum``; a
    format that is not enforced is dropped (an annotation, never checked)."""
    for node in nodes:
        if not isinstance(node, dict):
            continue
        if node.get("format") not in FORMATS:
            node.pop("format", None)
        if node.get("nullable") is True:
            kinds = node.get("type")
            if isinstance(kinds, str) and kinds != "null":
                node["type"] = [kinds, "null"]
            elif isinstance(kinds, list) and "null" not in kinds:
                node["type"] = [*kinds, "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]


def _patterns(nodes: Iterable[Any]) -> set[str]:
    """Every distinct regular expression of the nodes (pattern, patternProperties)."""
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            patterned = node.get("patternProperties")
            found.update(patterned if isinstance(patterned, dict) else ())
    return found


@lru_cache(maxsize=128)  # about 10 request schemas and 22 built-in event types
def _own(schema_json: bytes) -> Compiled:
    return Compiled(orjson.loads(schema_json))


def validator_for(schema: Mapping[str, Any]) -> Compiled:
    """hookwire's own schemas (its requests', the built-in event types'), compiled once
    (cached by their canonical bytes: 1.6 us a lookup). A tenant's schema is compiled only in
    the schema sandbox, by :func:`tenant_schema`, which checks it first."""
    return _own(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))


def tenant_schema(schema: Any) -> Compiled:
    """A tenant's draft 2020-12 schema, compiled; ValidationFailed (pointers into the schema)
    when it is invalid, refers outside itself, holds too many or too large patterns, or is
    too costly to validate with."""
    if not isinstance(schema, dict | bool):
        raise ValidationFailed.at("", "a JSON Schema must be an object or a boolean")
    try:
        return Compiled(schema)
    except SchemaRefused as exc:
        raise ValidationFailed.at(pointer(exc.path), str(exc)) from None
    except jsonschema_rs.ValidationError as exc:
        raise ValidationFailed.at(pointer(exc.instance_path), _schema_message(exc)) from None


def _schema_message(error: jsonschema_rs.ValidationError) -> str:
    if error.message.endswith('is not a "regex"'):  # pattern, or a patternProperties name
        return (
            "is not a regular expression hookwire can match in linear time: lookaround and "
            "backreferences are not supported, and counted repetition of a broad class "
            "(.{1,500}) compiles too large; use minLength/maxLength with a pattern like ^.+$"
        )
    return _short(error.message.splitlines()[0])


def _short(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut so that it takes at most ``limit`` bytes once written as JSON (a control
    character takes six, ``é`` two): 100 errors stay under 100 KB whatever they hold."""
    if len(text) * 6 <= limit:
        return text
    used = 0
    for index, char in enumerate(text):
        used += 6 if char < " " else 2 if char in '"\\' else len(char.encode("utf-8", "replace"))
        if used > limit - 3:
            return text[:index] + "\u2026"
    return text


def _field_errors(error: jsonschema_rs.ValidationError, base: str) -> Iterator[FieldError]:
    for found in _raw_field_errors(error, base):
        yield FieldError(_short(found.path, MAX_POINTER), found.message)


def _raw_field_errors(error: jsonschema_rs.ValidationError, base: str) -> Iterator[FieldError]:
    where = pointer(error.instance_path, base)
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        for name in kind.unexpected:
            yield FieldError(pointer([name], where), "is not a known field")
    elif isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        yield FieldError(pointer([kind.property], where), "is required")
    else:
        yield FieldError(where, _short(error.message))


def schema_errors(schema: Mapping[str, Any], document: Any, base: str = "") -> list[FieldError]:
    """Every violation of one of hookwire's own ``schema`` by ``document``."""
    return validator_for(schema).errors(document, base)


def checked(schema: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """A request body that is a JSON object satisfying ``schema``, or ValidationFailed with
    every violation."""
    if not isinstance(body, dict):
        raise ValidationFailed.at("", "the body must be a JSON object")
    errors = schema_errors(schema, body)
    if errors:
        raise ValidationFailed(errors)
    return body
