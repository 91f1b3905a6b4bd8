"""The subschemas of a JSON Schema that a validator can apply, and how they apply to a value.

A validator applies the root, what the applicators under it name (``allOf``, ``properties``,
``items``…), ``$defs`` and ``definitions`` when a reference reaches them, and whatever a local
``$ref`` points at: jsonschema-rs resolves any JSON pointer, so a subschema kept under an
unknown keyword, or under ``default``, is applied as soon as something refers to it. This
module finds exactly those, as a graph: same-value edges (one subschema applies another to the
same value) and child edges (to a member or an item, labelled). ``schema_cost`` bounds the work
the graph can make, and ``validation`` reads patterns and ``nullable`` from its nodes only.

The rules a tenant's schema must follow to be read at all are checked here, each a
:class:`SchemaRefused` at the subschema at fault: references stay inside the schema (``#``,
``#/pointer``, ``#anchor``) and name something that exists; ``$id`` only at the root (one
resource, so references mean one thing); every ``$anchor`` and ``$dynamicAnchor`` name once.
Reading a schema costs at most :data:`MAX_WORK` steps, whatever its shape.

Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

from hookwire.domain.digits import ascii_int

MAX_WORK: Final = 50_000  # nodes, edges and analysis steps, at most (about 50 ms)
SAME_VALUE_ONE: Final = ("not", "if", "then", "else")
SAME_VALUE_MANY: Final = ("allOf", "anyOf", "oneOf")
_KEYED_SAME_VALUE: Final = ("dependentSchemas", "dependencies")  # jsonschema-rs applies both
_CONTAINERS: Final = ("$defs", "definitions")  # subschemas that only references reach
ANY_KEY: Final = "*"  # patternProperties, additionalProperties, unevaluatedProperties
ITEM: Final = "[]"  # items, prefixItems, contains, unevaluatedItems
KEY_NAME: Final = "#"  # propertyNames: applied to each member name, as a string

Path = tuple[str | int, ...]


class SchemaRefused(ValueError):
    """The schema cannot be used; ``path`` points at the subschema at fault."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(slots=True)
class SchemaGraph:
    """Every subschema that can be applied (``nodes``, by path), the same-value edges
    (``same``) and the child edges with their labels (``child``), both by source."""

    nodes: dict[Path, Any] = field(default_factory=dict)
    same: dict[Path, list[Path]] = field(default_factory=lambda: defaultdict(list))
    child: dict[Path, list[tuple[Path, str]]] = field(default_factory=lambda: defaultdict(list))
    work: int = 0  # steps spent on this schema so far, reading it and analysing it

    def spend(self, steps: int) -> None:
        self.work += steps
        if self.work > MAX_WORK:
            raise SchemaRefused((), "is too large and too recursive to check; simplify it")


def schema_graph(schema: Any) -> SchemaGraph:
    """The graph of ``schema``, or SchemaRefused."""
    graph = SchemaGraph()
    anchors = _anchors(schema)
    stack: list[tuple[Path, Any]] = [((), schema)]
    stack += [((key, name), item) for key in _CONTAINERS for name, item in _entries(schema, key)]
    while stack:
        path, node = stack.pop()
        if path in graph.nodes:
            continue
        graph.nodes[path] = node
        graph.spend(1)
        if not isinstance(node, dict):
            continue
        if "$id" in node and path != ():
            raise SchemaRefused((*path, "$id"), "is only allowed at the schema's root")
        graph.same[path].extend(_same_value_targets(node, path))
        graph.child[path].extend(_child_targets(node, path))
        for key in ("$ref", "$dynamicRef"):
            if key in node:
                for target in _resolve(node[key], schema, anchors, (*path, key)):
                    graph.same[path].append(target)
                    stack.append((target, _at(schema, target)))
        graph.spend(len(graph.same[path]) + len(graph.child[path]))
        stack.extend(_members(path, node))
    return graph


def _entries(node: Any, key: str) -> Iterator[tuple[str, Any]]:
    value = node.get(key) if isinstance(node, dict) else None
    yield from (value.items() if isinstance(value, dict) else ())


def _members(path: Path, node: dict[str, Any]) -> Iterator[tuple[Path, Any]]:
    """The subschemas written directly under ``node`` that it applies."""
    for key, value in node.items():
        if key in SAME_VALUE_MANY or key == "prefixItems":
            for index, item in enumerate(value if isinstance(value, list) else []):
                yield (*path, key, index), item
        elif key in ("properties", "patternProperties", *_KEYED_SAME_VALUE, *_CONTAINERS):
            for name, item in _entries(node, key):
                if isinstance(item, dict | bool):  # dependencies: ["b"] is a requirement
                    yield (*path, key, name), item
        elif key in (*SAME_VALUE_ONE, "items", "contains", "additionalProperties",
                     "unevaluatedProperties", "unevaluatedItems", "propertyNames"):  # fmt: skip
            yield (*path, key), value


def _same_value_targets(node: dict[str, Any], path: Path) -> Iterator[Path]:
    for key in SAME_VALUE_MANY:
        for index in range(len(node.get(key) or ())):
            yield (*path, key, index)
    for key in SAME_VALUE_ONE:
        if key in node:
            yield (*path, key)
    for key in _KEYED_SAME_VALUE:
        for name, item in _entries(node, key):
            if isinstance(item, dict | bool):
                yield (*path, key, name)


def _child_targets(node: dict[str, Any], path: Path) -> Iterator[tuple[Path, str]]:
    for name, _ in _entries(node, "properties"):
        yield (*path, "properties", name), name
    for name, _ in _entries(node, "patternProperties"):
        yield (*path, "patternProperties", name), ANY_KEY
    for key in ("additionalProperties", "unevaluatedProperties"):
        if key in node:
            yield (*path, key), ANY_KEY
    for index in range(len(node.get("prefixItems") or ())):
        yield (*path, "prefixItems", index), ITEM
    for key in ("items", "contains", "unevaluatedItems"):
        if key in node:
            yield (*path, key), ITEM
    if "propertyNames" in node:
        yield (*path, "propertyNames"), KEY_NAME


def _anchors(schema: Any) -> dict[str, list[Path]]:
    """Every ``$anchor`` and ``$dynamicAnchor`` of the document, wherever it is (a reference
    may reach any of them), each name at most once per keyword."""
    found: dict[str, list[Path]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    stack: list[tuple[Path, Any]] = [((), schema)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key in ("$anchor", "$dynamicAnchor"):
                name = node.get(key)
                if isinstance(name, str):
                    if (key, name) in seen:
                        raise SchemaRefused((*path, key), f"names {name!r} a second time")
                    seen.add((key, name))
                    found[name].append(path)
            stack.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node))
    return found


def _resolve(ref: Any, root: Any, anchors: dict[str, list[Path]], at: Path) -> list[Path]:
    """The paths a local reference names (``#``, ``#/json/pointer`` or ``#anchor``)."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise SchemaRefused(at, "only references within the schema (#...) are allowed")
    fragment = ref[1:]
    if fragment and not fragment.startswith("/"):
        if fragment in anchors:
            return anchors[fragment]
        raise SchemaRefused(at, f"names no anchor of this schema: {ref[:100]}")
    path: list[str | int] = []
    node = root
    for raw in fragment.split("/")[1:]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        index = ascii_int(part) if isinstance(node, list) else None
        if index is not None and index < len(node):
            path.append(index)
            node = node[index]
        elif isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        else:
            raise SchemaRefused(at, f"points at nothing in this schema: {ref[:100]}")
    if not isinstance(node, dict | bool):
        raise SchemaRefused(at, f"points at something that is not a schema: {ref[:100]}")
    return [tuple(path)]


def _at(root: Any, path: Path) -> Any:
    node = root
    for part in path:
        node = node[part]
    return node
