"""JSON Schemas that multiply a validator's work, shared by the unit tests of the schema
bounds and the hostile suite that measures them on a server."""

from __future__ import annotations

from typing import Any


def doubling_chain(holder: str, levels: int) -> dict[str, Any]:
    """``levels`` subschemas kept under ``holder``, each applying the next twice to the same
    value (2**levels applications for one value), and a reference to the first."""
    chain: dict[str, Any] = {}
    for i in range(levels):
        following = f"#/{holder}/d{i + 1}"
        chain[f"d{i}"] = (
            {"anyOf": [{"$ref": following, "type": "string"}, {"$ref": following}]}
            if i < levels - 1
            else {"type": "string"}
        )
    return {holder: chain, "$ref": f"#/{holder}/d0"}
