"""How much work a JSON Schema can make one value cost, bounded before the schema is accepted.

A validator applies subschemas to each value of a document: the schema's own applicators
(``allOf``, ``anyOf``, ``$ref``…) apply several to the same value, ``properties`` and ``items``
apply them to its children. A tenant's schema can multiply these without limit at small size:
``allOf`` of two ``$ref``\\ s to a definition that does the same again doubles the work at every
level (2^30 for a 1 KB schema), and an ``anyOf`` whose branches both recurse into one property
doubles it at every level of the data. Validators short-circuit ``is_valid`` but not error
reporting, which walks every branch: a publish of invalid data then takes seconds, or forever.

This module bounds the number of schema applications at any one value, for every document
up to :data:`MAX_DEPTH` levels deep, from the schema alone. A walk from the root to a value
follows same-value edges (applicators) and child edges (labelled by a property name, ``*``
for any key, or ``[]`` for array items); the walks that end at one value are those whose child
labels spell its path. For each depth it computes, per subschema, an upper bound of the walks
that reach it for ANY single path (a child edge's count is the largest sum over one label),
so the total is a bound on the work at any value at that depth. A schema whose bound exceeds
:data:`MAX_APPLICATIONS` is refused; a cycle of ``$ref`` that never descends into the data
(infinite recursion for a naive validator) is refused. The work of validating a document is
then at most linear in its size: its values times the bound.

Pure: no I/O. ``$ref`` must already be local (``#...``) and the schema valid draft 2020-12.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

MAX_APPLICATIONS: Final = 256  # subschemas applied to any one value, at most
MAX_DEPTH: Final = 256  # deeper than any document hookwire accepts (254 levels)
MAX_WORK: Final = 50_000  # edges the analysis itself follows (about 50 ms at most)

_SAME_VALUE_ONE = ("not", "if", "then", "else")
_SAME_VALUE_MANY = ("allOf", "anyOf", "oneOf")
_ANY_KEY = "*"  # patternProperties, additionalProperties, unevaluatedProperties
_ITEM = "[]"  # items, prefixItems, contains, unevaluatedItems
_KEY_NAME = "#"  # propertyNames: applied to each key, as a string

Path = tuple[str | int, ...]
Counts = dict[Path, int]  # walks from the root reaching each subschema, at one value


class SchemaTooCostly(ValueError):
    """The schema can make validation too costly; ``path`` points at the subschema."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(slots=True)
class _Graph:
    nodes: dict[Path, Any] = field(default_factory=dict)
    same: dict[Path, list[Path]] = field(default_factory=lambda: defaultdict(list))
    child: dict[Path, list[tuple[Path, str]]] = field(default_factory=lambda: defaultdict(list))
    work: int = 0  # edges followed by the analysis so far

    def spend(self, steps: int) -> None:
        self.work += steps
        if self.work > MAX_WORK:
            raise SchemaTooCostly((), "is too large and too recursive to check; simplify it")


def check_cost(schema: Any) -> None:
    """Raise SchemaTooCostly when ``schema`` can apply more than MAX_APPLICATIONS subschemas
    to one value of some document, or recurses without descending into the data."""
    graph = _graph(schema)
    rank = {node: index for index, node in enumerate(_same_value_order(graph))}
    level = _distinct([_close(graph, rank, {(): 1})])  # the walk counts of one depth
    for depth in range(MAX_DEPTH):
        worst = max(level.values(), key=lambda counts: sum(counts.values()))
        if sum(worst.values()) > MAX_APPLICATIONS:
            raise SchemaTooCostly(
                max(worst, key=lambda p: worst[p]),
                f"applies more than {MAX_APPLICATIONS} subschemas to one value {depth} levels "
                "deep (applicators such as anyOf, allOf and $ref multiply each other's work); "
                "simplify it",
            )
        following = _next_level(graph, rank, level.values())
        if not following or following.keys() == level.keys():
            return  # no deeper value is reached, or every deeper level costs the same
        level = following


Level = dict[frozenset[tuple[Path, int]], Counts]


def _distinct(counts: Iterable[Counts]) -> Level:
    return {frozenset(c.items()): c for c in counts}


def _next_level(graph: _Graph, rank: dict[Path, int], level: Iterable[Counts]) -> Level:
    """The distinct walk counts one level deeper, one per kind of child of each."""
    return _distinct(child for counts in level for child in _children(graph, rank, counts))


def _graph(schema: Any) -> _Graph:
    graph = _Graph()
    anchors: dict[str, list[Path]] = defaultdict(list)
    references: list[tuple[Path, str, str]] = []
    for path, node in subschemas(schema):
        graph.nodes[path] = node
        if not isinstance(node, dict):
            continue
        graph.same[path].extend(_same_value_targets(node, path))
        graph.child[path].extend(_child_targets(node, path))
        for key in ("$anchor", "$dynamicAnchor"):  # a dynamic reference may reach any of
            if isinstance(node.get(key), str):  # the subschemas of its name: all count
                anchors[node[key]].append(path)
        for key in ("$ref", "$dynamicRef"):
            if isinstance(node.get(key), str):
                references.append((path, key, node[key]))
    for path, key, ref in references:
        graph.same[path].extend(_resolve(ref, schema, anchors, (*path, key)))
    return graph


def subschemas(schema: Any) -> Iterator[tuple[Path, Any]]:
    """Every subschema that can be applied, with its path (``$defs`` included: a ``$ref``
    may reach them)."""
    stack: list[tuple[Path, Any]] = [((), schema)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, dict):
            stack.extend(_members(path, node))


def _members(path: Path, node: dict[str, Any]) -> Iterator[tuple[Path, Any]]:
    for key, value in node.items():
        if key in _SAME_VALUE_MANY or key == "prefixItems":
            for index, item in enumerate(value if isinstance(value, list) else []):
                yield (*path, key, index), item
        elif key in ("properties", "patternProperties", "dependentSchemas", "$defs"):
            for name, item in (value if isinstance(value, dict) else {}).items():
                yield (*path, key, name), item
        elif key in (*_SAME_VALUE_ONE, "items", "contains", "additionalProperties",
                     "unevaluatedProperties", "unevaluatedItems", "propertyNames"):  # fmt: skip
            yield (*path, key), value


def _same_value_targets(node: dict[str, Any], path: Path) -> Iterator[Path]:
    for key in _SAME_VALUE_MANY:
        for index in range(len(node.get(key) or ())):
            yield (*path, key, index)
    for key in _SAME_VALUE_ONE:
        if key in node:
            yield (*path, key)
    for name in node.get("dependentSchemas") or {}:
        yield (*path, "dependentSchemas", name)


def _child_targets(node: dict[str, Any], path: Path) -> Iterator[tuple[Path, str]]:
    for name in node.get("properties") or {}:
        yield (*path, "properties", name), name
    for name in node.get("patternProperties") or {}:
        yield (*path, "patternProperties", name), _ANY_KEY
    for key in ("additionalProperties", "unevaluatedProperties"):
        if key in node:
            yield (*path, key), _ANY_KEY
    for index in range(len(node.get("prefixItems") or ())):
        yield (*path, "prefixItems", index), _ITEM
    for key in ("items", "contains", "unevaluatedItems"):
        if key in node:
            yield (*path, key), _ITEM
    if "propertyNames" in node:
        yield (*path, "propertyNames"), _KEY_NAME


def _resolve(ref: str, root: Any, anchors: dict[str, list[Path]], at: Path) -> list[Path]:
    """The paths a local reference names (``#``, ``#/json/pointer`` or ``#anchor``)."""
    fragment = ref.partition("#")[2]
    if not fragment.startswith("/") and fragment:
        if fragment in anchors:
            return anchors[fragment]
        raise SchemaTooCostly(at, f"names no anchor of this schema: {ref}")
    path: list[str | int] = []
    node = root
    for raw in fragment.split("/")[1:]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            path.append(int(part))
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        else:
            raise SchemaTooCostly(at, f"points at nothing in this schema: {ref}")
    return [tuple(path)]


def _same_value_order(graph: _Graph) -> list[Path]:
    """The subschemas in an order where each comes before those it applies to the same
    value; a cycle (a $ref loop that never descends into the data) is refused."""
    state: dict[Path, int] = {}  # 1: on the current path, 2: done
    order: list[Path] = []
    for start in graph.nodes:
        if start in state:
            continue
        stack: list[tuple[Path, Iterator[Path]]] = [(start, iter(graph.same.get(start, ())))]
        state[start] = 1
        while stack:
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                state[node] = 2
                order.append(node)
            elif state.get(target) == 1:
                raise SchemaTooCostly(
                    target, "refers to itself without descending into the data (a $ref loop)"
                )
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(graph.same.get(target, ()))))
    order.reverse()
    return order


def _close(graph: _Graph, rank: dict[Path, int], seeds: dict[Path, int]) -> dict[Path, int]:
    """``seeds`` plus every walk from them through same-value edges, counted (capped, so that
    numbers stay small), visiting only what the seeds reach, each after all its sources."""
    closed = dict(seeds)
    queue = [(rank[node], node) for node in seeds]
    heapq.heapify(queue)
    done: set[Path] = set()
    while queue:
        _, node = heapq.heappop(queue)
        if node in done:
            continue
        done.add(node)
        graph.spend(1 + len(graph.same.get(node, ())))
        for target in graph.same.get(node, ()):
            closed[target] = min(closed.get(target, 0) + closed[node], MAX_APPLICATIONS + 1)
            heapq.heappush(queue, (rank[target], target))
    return closed


def _children(graph: _Graph, rank: dict[Path, int], counts: Counts) -> Iterator[Counts]:
    """The walks that reach one child value, for each kind of child (a property name, any
    other key, an item, a key as a string): walks for different children never add up."""
    by_label: dict[str, dict[Path, int]] = defaultdict(lambda: defaultdict(int))
    for source, count in counts.items():
        edges = graph.child.get(source, ())
        graph.spend(len(edges))
        for target, label in edges:
            by_label[label][target] += count
    wildcard = by_label.pop(_ANY_KEY, {})
    by_label.setdefault("", {})  # a key no "properties" names: the wildcard edges alone
    for label, seeds in by_label.items():
        if label not in (_ITEM, _KEY_NAME):
            seeds = {t: seeds.get(t, 0) + wildcard.get(t, 0) for t in {*seeds, *wildcard}}
        if seeds:
            yield _close(graph, rank, seeds)
