"""The subschemas of a JSON Schema that a validator can apply, and how they apply to a value.

A validator applies the root, the subschemas its applicators name (``allOf``, ``properties``,
``items``…), and what a ``$ref`` points at. The meta-schema checks every subschema written at
those places and under ``$defs`` and ``definitions``; it checks nothing under other keys, where
jsonschema-rs would still apply whatever a ``$ref`` reaches, in forms the meta-schema forbids
(draft 7's ``items: [...]``, ``additionalItems``). So a reference must name one of those checked
places, and the graph holds exactly them: same-value edges (one subschema applies another to
the same value) and child edges (to a member or an item, labelled). ``schema_cost`` bounds the
work the graph can make; ``validation`` reads patterns and ``nullable`` from its nodes.

The rules a tenant's schema must follow to be read at all are checked here, each a
:class:`SchemaRefused` at the subschema at fault: at most :data:`MAX_SUBSCHEMAS`; references
inside the schema (``#``, ``#/pointer``, ``#anchor``), decoded as jsonschema-rs decodes them
(percent-escapes first, then ``/`` and ``~``), naming a checked subschema; ``$id`` only at the
root, and no keyword of another draft below it (``$schema``, ``id``, ``$recursiveRef``); each
anchor name once, ``$anchor`` and ``$dynamicAnchor`` together. Nodes are numbered, so the analysis
never hashes a path: a schema costs a bounded number of steps, whatever its shape.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

from hookwire.domain.digits import ascii_int

MAX_SUBSCHEMAS: Final = 2_000  # a large HRIS model has a few hundred
MAX_WORK: Final = 25_000  # steps of reading and analysing one schema (about 25 ms at most)
_SAME_VALUE_ONE: Final = ("not", "if", "then", "else")
_SAME_VALUE_MANY: Final = ("allOf", "anyOf", "oneOf")
_KEYED_SAME_VALUE: Final = ("dependentSchemas", "dependencies")  # jsonschema-rs applies both
# Checked by the meta-schema, applied only where a $ref reaches (contentSchema: never; but
# jsonschema-rs registers the anchors under it, so it is read like the others).
_CONTAINERS: Final = ("$defs", "definitions")
_ONE_CONTAINED: Final = ("contentSchema",)
# Keywords of other drafts that jsonschema-rs obeys in a subschema (a ``$schema`` there
# switches the subtree's draft; draft 4's ``id`` moves the base of its references).
_OTHER_DRAFTS: Final = ("$schema", "id", "$recursiveRef", "$recursiveAnchor")
_ONE_CHILD: Final = ("items", "contains", "unevaluatedItems")
_ANY_KEY_CHILD: Final = ("additionalProperties", "unevaluatedProperties")

Path = tuple[str | int, ...]


class Label:
    """A child edge's label that no property name can equal."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


ANY_KEY: Final = Label("any key")  # patternProperties, additionalProperties, unevaluated…
ITEM: Final = Label("item")  # items, prefixItems, contains, unevaluatedItems
KEY_NAME: Final = Label("member name")  # propertyNames: applied to each name, as a string
ChildLabel = str | Label


class SchemaRefused(ValueError):
    """The schema cannot be used; ``path`` points at the subschema at fault."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(slots=True)
class SchemaGraph:
    """Every subschema that can be applied, numbered: ``nodes[i]``, where it is
    (:meth:`path`), its same-value edges ``same[i]`` and child edges ``child[i]``."""

    nodes: list[Any] = field(default_factory=list)
    same: list[list[int]] = field(default_factory=list)
    child: list[list[tuple[int, ChildLabel]]] = field(default_factory=list)
    _parent: list[tuple[int, Path]] = field(default_factory=list)
    _slots: dict[tuple[int, Any], int] = field(default_factory=dict)
    work: int = 0  # steps spent on this schema so far, reading it and analysing it

    def spend(self, steps: int) -> None:
        self.work += steps
        if self.work > MAX_WORK:
            raise SchemaRefused((), "is too large and too recursive to check; simplify it")

    def path(self, node: int) -> Path:
        """Where node ``node`` is in the schema."""
        parts: list[Path] = []
        while node > 0:
            node, step = self._parent[node]
            parts.append(step)
        return tuple(part for step in reversed(parts) for part in step)

    def numbered(self, container: Any, key: Any) -> int | None:
        """The number of the subschema at ``container[key]``, if it is one."""
        return self._slots.get((id(container), key))

    def node_at(self, container: Any, key: Any, value: Any, parent: int, step: Path) -> int:
        """The number of the subschema ``value`` held at ``container[key]``, given one if new
        (``parent`` and ``step`` say where it is)."""
        slot = (id(container), key)
        found = self._slots.get(slot)
        if found is None:
            found = len(self.nodes)
            if found >= MAX_SUBSCHEMAS:
                raise SchemaRefused((), f"holds more than {MAX_SUBSCHEMAS} subschemas")
            self._slots[slot] = found
            self.nodes.append(value)
            self.same.append([])
            self.child.append([])
            self._parent.append((parent, step))
        return found


def schema_graph(schema: Any) -> SchemaGraph:
    """The graph of ``schema``, or SchemaRefused."""
    graph = SchemaGraph()
    pending = [graph.node_at(None, None, schema, 0, ())]
    references: list[tuple[int, str]] = []
    anchors: dict[str, int] = {}
    seen: set[int] = set()
    while pending:
        number = pending.pop()
        if number in seen:
            continue
        seen.add(number)
        node = graph.nodes[number]
        if not isinstance(node, dict):
            continue
        graph.spend(1 + len(node))
        _check_node(graph, number, node, anchors)
        references += [(number, key) for key in ("$ref", "$dynamicRef") if key in node]
        pending += _link(graph, number, node)
    for number, key in references:
        target = _resolve(graph, schema, graph.nodes[number][key], anchors, number, key)
        graph.same[number].append(target)
    return graph


def _check_node(
    graph: SchemaGraph, number: int, node: dict[str, Any], anchors: dict[str, int]
) -> None:
    if "$id" in node and number != 0:
        raise SchemaRefused((*graph.path(number), "$id"), "is only allowed at the schema's root")
    for key in _OTHER_DRAFTS:
        if key in node and (number != 0 or key != "$schema"):
            raise SchemaRefused(
                (*graph.path(number), key),
                "belongs to another draft of JSON Schema: hookwire reads draft 2020-12 only",
            )
    for key in ("$anchor", "$dynamicAnchor"):
        name = node.get(key)
        if isinstance(name, str):
            if name in anchors:  # either kind: jsonschema-rs keeps one anchor per name
                raise SchemaRefused((*graph.path(number), key), f"names {name!r} a second time")
            anchors[name] = number


def _entries(node: Any, key: str) -> Iterator[tuple[str, Any]]:
    value = node.get(key) if isinstance(node, dict) else None
    yield from (value.items() if isinstance(value, dict) else ())


_SAME = Label("same value")  # an edge to a subschema applied to the same value
_NONE = Label("no edge")  # a subschema that only a reference reaches ($defs)


def _link(graph: SchemaGraph, number: int, node: dict[str, Any]) -> list[int]:
    """Number the subschemas written under ``node`` and add its edges to them; their numbers."""
    found: list[int] = []
    for container, key, step, edge in _members(node):
        target = graph.node_at(container, key, container[key], number, step)
        found.append(target)
        if edge is _SAME:
            graph.same[number].append(target)
        elif edge is not _NONE:
            graph.child[number].append((target, edge))
    graph.spend(len(found))
    return found


def _members(node: dict[str, Any]) -> Iterator[tuple[Any, Any, Path, ChildLabel]]:
    """(container, key, step from ``node``, edge) of every subschema written under ``node``."""
    for key, value in node.items():
        if key in _SAME_VALUE_MANY or key == "prefixItems":
            edge = ITEM if key == "prefixItems" else _SAME
            for index in range(len(value) if isinstance(value, list) else 0):
                yield value, index, (key, index), edge
        elif key in _SAME_VALUE_ONE:
            yield node, key, (key,), _SAME
        elif key in _ONE_CONTAINED:
            yield node, key, (key,), _NONE
        elif key in _ONE_CHILD or key in _ANY_KEY_CHILD or key == "propertyNames":
            yield node, key, (key,), _one_label(key)
        elif key in ("properties", "patternProperties", *_KEYED_SAME_VALUE, *_CONTAINERS):
            for name, item in _entries(node, key):
                if isinstance(item, dict | bool):  # dependencies: ["b"] is a requirement
                    yield value, name, (key, name), _keyed_edge(key, name)


def _one_label(key: str) -> ChildLabel:
    if key == "propertyNames":
        return KEY_NAME
    return ITEM if key in _ONE_CHILD else ANY_KEY


def _keyed_edge(key: str, name: str) -> ChildLabel:
    if key == "properties":
        return name
    if key == "patternProperties":
        return ANY_KEY
    return _NONE if key in _CONTAINERS else _SAME


def _resolve(
    graph: SchemaGraph, root: Any, ref: Any, anchors: dict[str, int], at: int, key: str
) -> int:
    """The node a local reference names (``#``, ``#/json/pointer`` or ``#anchor``)."""
    where = (*graph.path(at), key)
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise SchemaRefused(where, "only references within the schema (#...) are allowed")
    fragment = unquote(ref[1:])  # as jsonschema-rs reads it: escapes first, then tokens
    if fragment and not fragment.startswith("/"):
        if fragment in anchors:
            return anchors[fragment]
        raise SchemaRefused(where, f"names no anchor of this schema: {ref[:100]}")
    container: Any = None
    token: Any = None
    node: Any = root
    for raw in fragment.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        index = ascii_int(part) if isinstance(node, list) else None
        if index is not None and index < len(node):
            container, token, node = node, index, node[index]
        elif isinstance(node, dict) and part in node:
            container, token, node = node, part, node[part]
        else:
            raise SchemaRefused(where, f"points at nothing in this schema: {ref[:100]}")
    found = graph.numbered(container, token)
    if found is None or graph.nodes[found] is not node:
        raise SchemaRefused(
            where,
            f"points at {ref[:100]}, which is not a subschema hookwire checks: refer to the "
            "root, to $defs, or to a schema under an applicator",
        )
    return found
