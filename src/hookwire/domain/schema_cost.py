"""How much work a JSON Schema can make one value cost, bounded before the schema is accepted.

A validator applies subschemas to each value of a document: the schema's own applicators
(``allOf``, ``anyOf``, ``$ref``…) apply several to the same value, ``properties`` and ``items``
apply them to its children. A tenant's schema can multiply these without limit at small size:
``allOf`` of two ``$ref``\\ s to a definition that does the same again doubles the work at every
level (2^30 for a 1 KB schema), and an ``anyOf`` whose branches both recurse into one property
doubles it at every level of the data. Validators short-circuit ``is_valid`` but not error
reporting, which walks every branch: a publish of invalid data then takes seconds, or forever.

This module bounds the work of the schema applications at any one value, for every document up
to :data:`MAX_DEPTH` levels deep, from the schema alone (each application weighs 1, more when
it checks a regular expression or a format: :func:`work_weight`). A walk from the root to a
value follows same-value edges (applicators) and child edges (labelled by a property name,
``*`` for any key, or ``[]`` for array items); the walks that end at one value are those whose
child labels spell its path. For each depth it computes, per subschema, an upper bound of the
walks that reach it for ANY single path (a child edge's count is the largest sum over one
label), so the total is a bound on the work at any value at that depth. A schema whose bound
exceeds :data:`MAX_WORK_PER_VALUE` is refused; a cycle of ``$ref`` that never descends into the
data (infinite recursion for a naive validator) is refused. The work of validating a document
is then at most linear in its size: its values times the bound.

The same walk bounds how many errors one value can produce (each missing ``required`` name
is one, and an error carries its ``enum``): ``validation`` lists a document's errors only
when its values times that bound stay small, since building an error costs microseconds.

Pure: no I/O. The graph comes from ``schema_graph``.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from hookwire.domain.schema_graph import (
    ANY_KEY,
    ITEM,
    KEY_NAME,
    Path,
    SchemaGraph,
    SchemaRefused,
)

MAX_WORK_PER_VALUE: Final = 256  # weighted subschema applications to any one value
MAX_DEPTH: Final = 256  # deeper than any document hookwire accepts (254 levels)
_OPTIONS_PER_UNIT: Final = 64  # enum options an error carries for the cost of one error
PATTERN_WEIGHT: Final = 3
FORMAT_WEIGHT: Final = 63

Counts = dict[Path, int]  # walks from the root reaching each subschema, at one value
Level = dict[frozenset[tuple[Path, int]], Counts]


@dataclass(frozen=True, slots=True)
class Cost:
    """The most a schema makes one value cost: weighted ``work`` and ``errors``."""

    work: int
    errors: int


def check_cost(graph: SchemaGraph) -> Cost:
    """The schema's cost per value; SchemaRefused when its work can exceed
    MAX_WORK_PER_VALUE at some value of some document, or it recurses without descending
    into the data."""
    rank = {node: index for index, node in enumerate(_same_value_order(graph))}
    level = _distinct([_close(graph, rank, {(): 1})])
    work = errors = 0
    for depth in range(MAX_DEPTH):
        for counts in level.values():
            here = _weighed(graph, counts, work_weight)
            if here > MAX_WORK_PER_VALUE:
                raise SchemaRefused(
                    max(counts, key=lambda p: counts[p]),
                    f"applies more than {MAX_WORK_PER_VALUE} subschemas to one value {depth} "
                    "levels deep (applicators such as anyOf, allOf and $ref multiply each "
                    "other's work; a pattern counts 4, a format 64); simplify it",
                )
            work = max(work, here)
            errors = max(errors, _weighed(graph, counts, error_weight))
        following = _next_level(graph, rank, level.values())
        if not following or following.keys() == level.keys():
            break  # no deeper value is reached, or every deeper level costs the same
        level = following
    return Cost(work, errors)


def work_weight(node: Any) -> int:
    """What applying ``node`` costs, in keyword checks of the cheap kind (a few nanoseconds in
    jsonschema-rs): a regular expression costs 4 (about 30 ns measured), a format 64 (the
    four enforced ones are Python functions, about a microsecond each)."""
    if not isinstance(node, dict):
        return 1
    patterns = len(node.get("patternProperties") or ()) + isinstance(node.get("pattern"), str)
    return 1 + PATTERN_WEIGHT * patterns + FORMAT_WEIGHT * ("format" in node)


def error_weight(node: Any) -> int:
    """How many errors ``node`` can report at one value, in errors of the plain kind: one per
    missing ``required`` or depended-on name, more for an ``enum`` or ``const`` it carries."""
    if not isinstance(node, dict):
        return 1
    names = _length(node.get("required"))
    for key in ("dependentRequired", "dependencies"):
        groups = node.get(key)
        names += sum(map(_length, groups.values())) if isinstance(groups, dict) else 0
    carried = _length(node.get("enum")) // _OPTIONS_PER_UNIT
    if "const" in node:
        carried += len(orjson.dumps(node["const"])) // 1024
    return len(node) + names + carried


def _length(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _weighed(graph: SchemaGraph, counts: Counts, weight: Callable[[Any], int]) -> int:
    return sum(count * weight(graph.nodes.get(node)) for node, count in counts.items())


def _distinct(counts: Iterable[Counts]) -> Level:
    return {frozenset(c.items()): c for c in counts}


def _next_level(graph: SchemaGraph, rank: dict[Path, int], level: Iterable[Counts]) -> Level:
    """The distinct walk counts one level deeper, one per kind of child of each."""
    return _distinct(child for counts in level for child in _children(graph, rank, counts))


def _same_value_order(graph: SchemaGraph) -> list[Path]:
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
                raise SchemaRefused(
                    target, "refers to itself without descending into the data (a $ref loop)"
                )
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(graph.same.get(target, ()))))
    order.reverse()
    return order


def _close(graph: SchemaGraph, rank: dict[Path, int], seeds: dict[Path, int]) -> dict[Path, int]:
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
            closed[target] = min(closed.get(target, 0) + closed[node], MAX_WORK_PER_VALUE + 1)
            heapq.heappush(queue, (rank[target], target))
    return closed


def _children(graph: SchemaGraph, rank: dict[Path, int], counts: Counts) -> Iterator[Counts]:
    """The walks that reach one child value, for each kind of child (a property name, any
    other key, an item, a key as a string): walks for different children never add up."""
    by_label: dict[str, dict[Path, int]] = defaultdict(lambda: defaultdict(int))
    for source, count in counts.items():
        edges = graph.child.get(source, ())
        graph.spend(len(edges))
        for target, label in edges:
            by_label[label][target] += count
    wildcard = by_label.pop(ANY_KEY, {})
    by_label.setdefault("", {})  # a key no "properties" names: the wildcard edges alone
    for label, seeds in by_label.items():
        if label not in (ITEM, KEY_NAME):
            seeds = {t: seeds.get(t, 0) + wildcard.get(t, 0) for t in {*seeds, *wildcard}}
        if seeds:
            yield _close(graph, rank, seeds)
