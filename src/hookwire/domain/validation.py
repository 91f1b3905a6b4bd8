"""JSON Schema checks that report every error with a JSON Pointer into the checked document.

Draft 2020-12, with three deliberate differences from a stock validator (DESIGN §7):

- ``nullable: true`` (OpenAPI style, used by the seed schemas) lets ``null`` through ``type``
  and ``enum`` in the same schema object, so the seed schemas are used exactly as published;
- ``format`` is enforced for ``email``, ``uri``, ``date-time`` and ``uuid``;
- ``pattern`` follows ECMA-262, where ``$`` matches only at the very end of the input. Python's
  ``$`` also matches before a final newline, which would let ``"name\\n"`` through
  ``"^[a-z]+$"`` (a header-injection hole), so such ``$`` become ``\\Z``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError

from hookwire.errors import FieldError, ValidationFailed

_ECMA_END = re.compile(r"(?<!\\)\$(?=$|[|)])")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


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

FORMATS = FormatChecker(formats=())


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or _EMAIL.fullmatch(value) is not None


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(_URI_SCHEME.fullmatch(parts.scheme)) and bool(parts.netloc or parts.path)


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return False
    return True


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36 and value[8] == value[13] == value[18] == value[23] == "-"


for _name, _check in {
    "email": _is_email,
    "uri": _is_uri,
    "date-time": _is_date_time,
    "uuid": _is_uuid,
}.items():
    FORMATS.checks(_name)(_check)


# --- keywords that differ from the stock draft 2020-12 validator --------------------------


@lru_cache(maxsize=4096)
def _ecma(pattern: str) -> re.Pattern[str]:
    return re.compile(_ECMA_END.sub(r"\\Z", pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _nullable(keyword: Any) -> Any:
    def check(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        if instance is None and schema.get("nullable") is True:
            return
        yield from keyword(validator, value, instance, schema)

    return check


_STOCK = Draft202012Validator.VALIDATORS
Validator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "type": _nullable(_STOCK["type"]), "enum": _nullable(_STOCK["enum"])},
)


# --- compiled, cached validators ----------------------------------------------------------


@lru_cache(maxsize=1024)
def _validator(schema_json: bytes) -> Any:
    return Validator(orjson.loads(schema_json), format_checker=FORMATS)


def validator_for(schema: Mapping[str, Any]) -> Any:
    """A compiled validator, cached by the schema's canonical bytes."""
    return _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))


def schema_problems(schema: Any) -> list[FieldError]:
    """Why ``schema`` is not a valid draft 2020-12 schema (pointers into the schema)."""
    if not isinstance(schema, dict | bool):
        return [FieldError("", "a JSON Schema must be an object or a boolean")]
    try:
        Validator.check_schema(schema)
    except SchemaError as exc:
        return [FieldError(pointer(exc.absolute_path), exc.message)]
    for path, key, value in _keywords(schema, ()):
        if key == "pattern" and isinstance(value, str):
            try:
                _ecma(value)
            except re.error as exc:
                return [FieldError(pointer(path), f"is not a valid regular expression: {exc}")]
        if key in {"$ref", "$dynamicRef"} and isinstance(value, str) and value[:1] != "#":
            return [
                FieldError(pointer(path), "only references within the schema (#...) are allowed")
            ]
    return []


def _keywords(schema: Any, at: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
    """Every (path, keyword, value) in a schema document, depth first."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield (*at, key), key, value
            yield from _keywords(value, (*at, key))
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _keywords(item, (*at, index))


def _field_errors(error: ValidationError, base: str) -> list[FieldError]:
    where = pointer(error.absolute_path, base)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        return [
            FieldError(pointer([name], where), "is not a known field")
            for name in error.instance
            if name not in allowed
        ]
    if error.validator == "required" and isinstance(error.validator_value, list):
        present = error.instance if isinstance(error.instance, dict) else {}
        return [
            FieldError(pointer([name], where), "is required")
            for name in error.validator_value
            if name not in present
        ]
    return [FieldError(where, error.message)]


def errors_of(validator: Any, document: Any, base: str = "") -> list[FieldError]:
    """Every violation found by a compiled ``validator``, sorted by pointer, deduplicated."""
    found: dict[tuple[str, str], FieldError] = {}
    for error in validator.iter_errors(document):
        for field_error in _field_errors(error, base):
            found.setdefault((field_error.path, field_error.message), field_error)
    return sorted(found.values(), key=lambda e: e.path)


def schema_errors(schema: Mapping[str, Any], document: Any, base: str = "") -> list[FieldError]:
    """Every violation of ``schema`` by ``document``."""
    return errors_of(validator_for(schema), document, base)


def checked(schema: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """A request body that is a JSON object satisfying ``schema``, or ValidationFailed with
    every violation."""
    if not isinstance(body, dict):
        raise ValidationFailed.at("", "the body must be a JSON object")
    errors = schema_errors(schema, body)
    if errors:
        raise ValidationFailed(errors)
    return body
