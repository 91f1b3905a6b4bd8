"""The API reference in Markdown, generated from the app's own OpenAPI document (what /docs
shows), so that docs/api.md cannot drift from what the API checks: ``hookwire openapi
--markdown > docs/api.md`` writes it, and a test fails when the committed copy is stale."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

METHODS: Final = ("get", "post", "patch", "put", "delete")
INTRO: Final = """# API reference

Generated from the OpenAPI document the API serves at `/openapi.json` (interactive at `/docs`)
by `hookwire openapi --markdown`; do not edit by hand. Every request but the inbound endpoint
and the operational ones needs `Authorization: Bearer <JWT>` ([concepts.md](concepts.md)).
Errors are `application/problem+json` with `type, title, status, detail` and, for validation errors,
`errors: [{path, message}]` where `path` is a JSON Pointer into the request.
"""


def kind(schema: Mapping[str, Any]) -> str:
    """A schema in a few words: ``string | null``, ``outbound | inbound``, ``array of string``."""
    if "enum" in schema:
        return " | ".join(f"`{v}`" for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(kind(s) for s in schema["anyOf"])
    types = schema.get("type", "any")
    names = types if isinstance(types, list) else [types]
    if "array" in names and isinstance(schema.get("items"), Mapping):
        names = [f"array of {kind(schema['items'])}" if n == "array" else n for n in names]
    return " | ".join(str(n) for n in names)


def limits(schema: Mapping[str, Any]) -> str:
    words = {"minLength": "≥ {} chars", "maxLength": "≤ {} chars", "minimum": "≥ {}",
             "maximum": "≤ {}", "maxItems": "≤ {} items", "format": "{}",
             "pattern": "`{}`", "default": "default {}"}  # fmt: skip
    said = [text.format(schema[key]) for key, text in words.items() if key in schema]
    fields = schema.get("properties")
    if isinstance(fields, Mapping) and fields:  # an object's fields, one level deep
        said.append("{" + "; ".join(
            f"{name}: {' '.join(filter(None, (kind(field), limits(field))))}"
            for name, field in fields.items()
        ) + "}")  # fmt: skip
    return ", ".join(said)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _parameters(operation: Mapping[str, Any]) -> list[str]:
    params = operation.get("parameters", [])
    if not params:
        return []
    rows = ["| parameter | in | required | type | limits |", "|---|---|---|---|---|"]
    for p in params:
        schema = p.get("schema", {})
        rows.append(f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
                    f"{_cell(kind(schema))} | {_cell(limits(schema))} |")  # fmt: skip
    return ["", *rows]


def _body(operation: Mapping[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return []
    media, spec = next(iter(content.items()))
    schema = spec.get("schema", {})
    properties = schema.get("properties", {})
    head = f"Request body (`{media}`)"
    if not properties:
        return ["", f"{head}: {_cell(operation['requestBody'].get('description', 'any'))}."]
    required = set(schema.get("required", []))
    rows = ["", f"{head}:", "", "| field | type | required | limits |", "|---|---|---|---|"]
    for name, field in properties.items():
        rows.append(f"| `{name}` | {_cell(kind(field))} | {'yes' if name in required else 'no'}"
                    f" | {_cell(limits(field))} |")  # fmt: skip
    return rows


def _responses(operation: Mapping[str, Any]) -> list[str]:
    answers = [f"`{code}` {_cell(spec.get('description', ''))}"
               for code, spec in operation.get("responses", {}).items()]  # fmt: skip
    return ["", "Responses: " + "; ".join(answers) + "."]


def markdown(spec: Mapping[str, Any]) -> str:
    """The reference: one section per tag, one entry per operation, in the document's order."""
    sections: dict[str, list[str]] = {}
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            entry = [f"### `{method.upper()} {path}`", "", operation.get("summary", "")]
            if operation.get("description"):
                entry += ["", operation["description"].strip()]
            entry += _parameters(operation) + _body(operation) + _responses(operation) + [""]
            sections.setdefault(tag, []).extend(entry)
    out = [INTRO]
    for tag, entries in sections.items():
        out += [f"## {tag}", "", *entries]
    return "\n".join(out).rstrip() + "\n"
