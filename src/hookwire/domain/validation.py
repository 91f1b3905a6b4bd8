"""JSON Schema checks that report every error with a JSON Pointer into the checked document."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from hookwire.errors import FieldError

# JSON Schema patterns are ECMA-262 regexes, where "$" matches only at the very end of the
# input. Python's "$" also matches before a final newline, which would let "name\n" through
# a "^[a-z]+$" pattern (a header-injection hole). Translate such "$" to Python's "\Z".
_ECMA_END = re.compile(r"(?<!\\)\$(?=$|[|)])")


@lru_cache(maxsize=4096)
def _ecma(pattern: str) -> re.Pattern[str]:
    return re.compile(_ECMA_END.sub(r"\\Z", pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not _ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})


def pointer(parts: Iterable[Any], base: str = "") -> str:
    """A JSON Pointer (RFC 6901) from path parts, under ``base``."""
    out = [base]
    for part in parts:
        out.append("/" + str(part).replace("~", "~0").replace("/", "~1"))
    return "".join(out)


@lru_cache(maxsize=1024)
def _validator(schema_json: bytes) -> Any:
    return Validator(orjson.loads(schema_json))


def validator_for(schema: Mapping[str, Any]) -> Any:
    """A compiled validator, cached by the schema's canonical bytes."""
    return _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))


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


def schema_errors(schema: Mapping[str, Any], document: Any, base: str = "") -> list[FieldError]:
    """Every violation of ``schema`` by ``document``, sorted by pointer, without duplicates."""
    found: dict[tuple[str, str], FieldError] = {}
    for error in validator_for(schema).iter_errors(document):
        for field_error in _field_errors(error, base):
            found.setdefault((field_error.path, field_error.message), field_error)
    return sorted(found.values(), key=lambda e: e.path)
