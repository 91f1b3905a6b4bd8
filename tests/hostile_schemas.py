"""JSON Schemas that multiply a validator's work, shared by the unit tests of the schema
bounds and the hostile suites that measure them on a server."""

from __future__ import annotations

from typing import Any


def doubling_defs(levels: int, at: str) -> dict[str, Any]:
    """``levels`` subschemas ``d0``… meant to be kept at the pointer ``at`` (``#/$defs``, say),
    each applying the next twice to the same value, the last ``type: string``: 2**levels
    applications for a value that is not a string, a straight walk down the first branches
    for one that is."""
    chain: dict[str, Any] = {}
    for i in range(levels):
        following = f"{at}/d{i + 1}"
        chain[f"d{i}"] = (
            {"anyOf": [{"$ref": following}, {"allOf": [{"$ref": following}]}]}
            if i < levels - 1
            else {"type": "string"}
        )
    return chain


def doubling_chain(holder: str, levels: int) -> dict[str, Any]:
    """:func:`doubling_defs` kept under ``holder``, and a reference to the first."""
    return {holder: doubling_defs(levels, f"#/{holder}"), "$ref": f"#/{holder}/d0"}


def chain_under_content_schema() -> dict[str, Any]:
    """A doubling chain under ``contentSchema`` behind ``#y``, and a second ``$anchor: y``
    in $defs: jsonschema-rs registers the anchors under contentSchema, which the analysis once
    never read, so it took the reference for the empty one."""
    base = "/contentSchema"
    return {
        "$defs": {"a": {"$anchor": "y"}},
        "contentSchema": {
            "$anchor": "y",
            "$defs": doubling_defs(16, f"#{base}/$defs"),
            "$ref": f"#{base}/$defs/d0",
        },
        "properties": {"q": {"$ref": "#y"}},
    }
