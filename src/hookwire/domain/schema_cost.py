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

The same walk bounds how many errors one value can produce, and what they carry (each missing
``required`` name is one error; a ``not`` carries its subschema, an ``enum`` its options):
``validation`` lists a document's errors only when its values times that bound stay small,
since building an error costs microseconds, and more for what it carries.

Pure: no I/O. The graph comes from ``schema_graph``.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from hookwire.domain.schema_graph import (
    ANY_KEY,
    ITEM,
    KEY_NAME,
    Label,
    SchemaGraph,
    SchemaRefused,
)

MAX_WORK_PER_VALUE: Final = 256  # weighted subschema applications to any one value
MAX_DEPTH: Final = 256  # deeper than any document hookwire accepts (254 levels)
PATTERN_WEIGHT: Final = 3
FORMAT_WEIGHT: Final = 127
MULTIPLE_OF_WEIGHT: Final = 15  # exact division when a float will not do: much slower
COMPARISON_WEIGHT: Final = 63  # a value compared with an array or object (enum, const)
NAMES_PER_CHECK: Final = 4  # required and depended-on names looked up per cheap check
CARRIED_BYTES_PER_ERROR: Final = 512  # what an error carries costs as much as an error

_OTHER: Final = Label("other member")
Counts = dict[int, int]  # walks from the root reaching each subschema (by number), at a value
Level = dict[frozenset[tuple[int, int]], Counts]


@dataclass(frozen=True, slots=True)
class Cost:
    """The most a schema makes one value cost: weighted ``work``, and ``errors`` (in errors of
    the plain kind, what they carry counted)."""

    work: int
    errors: int


def check_cost(graph: SchemaGraph) -> Cost:
    """The schema's cost per value; SchemaRefused when its work can exceed
    MAX_WORK_PER_VALUE at some value of some document, or it recurses without descending
    into the data."""
    sizes = _sizes(graph, graph.nodes[0])
    works = [work_weight(node) for node in graph.nodes]
    errors_of = [error_weight(node, sizes) for node in graph.nodes]
    graph.spend(len(graph.nodes))
    rank = _same_value_order(graph)
    level = _distinct([_close(graph, rank, {0: 1})])
    work = errors = 0
    for depth in range(MAX_DEPTH):
        for counts in level.values():
            here = sum(count * works[node] for node, count in counts.items())
            if here > MAX_WORK_PER_VALUE:
                raise SchemaRefused(
                    graph.path(max(counts, key=lambda n: counts[n])),
                    f"applies more than {MAX_WORK_PER_VALUE} subschemas to one value {depth} "
                    "levels deep (applicators such as anyOf, allOf and $ref multiply each "
                    "other's work; a pattern counts 4, a format 128); simplify it",
                )
            work = max(work, here)
            errors = max(errors, sum(count * errors_of[n] for n, count in counts.items()))
            graph.spend(len(counts))
        following = _next_level(graph, rank, level.values())
        if not following or following.keys() == level.keys():
            break  # no deeper value is reached, or every deeper level costs the same
        level = following
    return Cost(work, errors)


def work_weight(node: Any) -> int:
    """What applying ``node`` costs, in keyword checks of the cheap kind (a few nanoseconds in
    jsonschema-rs): a regular expression costs 4 (about 30 ns measured), a format 128 (the
    four enforced ones are Python functions, about a microsecond each), ``multipleOf`` 16,
    an array or object among ``enum``'s options or as ``const`` 64 (the value is converted
    for each such comparison: 0.5 µs measured for four numbers, more for larger values), and
    every four names ``required`` or a dependency lists one more. The schema sandbox's time
    limit catches what a weight misses (a pattern's cost grows with the string)."""
    if not isinstance(node, dict):
        return 1
    patterned = node.get("patternProperties")
    patterns = len(patterned) if isinstance(patterned, dict) else 0
    patterns += isinstance(node.get("pattern"), str)
    return (
        1
        + PATTERN_WEIGHT * patterns
        + FORMAT_WEIGHT * ("format" in node)
        + MULTIPLE_OF_WEIGHT * ("multipleOf" in node)
        + COMPARISON_WEIGHT * _containers_compared(node)
        + _names_listed(node) // NAMES_PER_CHECK
    )


def _containers_compared(node: dict[str, Any]) -> int:
    options = node.get("enum")
    listed = options if isinstance(options, list) else []
    return sum(isinstance(o, dict | list) for o in [*listed, node.get("const")])


def _names_listed(node: dict[str, Any]) -> int:
    return _length(node.get("required")) + sum(map(len, _name_lists(node)))


def _name_lists(node: dict[str, Any]) -> Iterator[list[Any]]:
    """The lists of names ``dependentRequired`` and draft 7's ``dependencies`` hold."""
    for key in ("dependentRequired", "dependencies"):
        groups = node.get(key)
        for group in groups.values() if isinstance(groups, dict) else ():
            if isinstance(group, list):
                yield group


def error_weight(node: Any, sizes: dict[int, int]) -> int:
    """How many errors ``node`` can report at one value, in errors of the plain kind: one per
    keyword, one per missing ``required`` or depended-on name, and one per
    CARRIED_BYTES_PER_ERROR of what its errors carry (a ``not`` its subschema, an ``enum``
    its options, a ``const`` its value, a name itself)."""
    if not isinstance(node, dict):
        return 1
    carried = sum(_size(node.get(key), sizes) for key in ("required", "enum", "const", "not"))
    carried += sum(_size(group, sizes) for group in _name_lists(node))
    return len(node) + _names_listed(node) + carried // CARRIED_BYTES_PER_ERROR


def _length(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _size(value: Any, sizes: dict[int, int]) -> int:
    if isinstance(value, dict | list):
        return sizes.get(id(value), 0)
    return len(value) if isinstance(value, str) else 8 if value is not None else 0


def _sizes(graph: SchemaGraph, document: Any) -> dict[int, int]:
    """About how many bytes of JSON each object and array of ``document`` is (by ``id``), in
    one pass (a step per object or array, charged: a schema may hold a lot of data): a
    subschema's size is asked for once per keyword that carries it."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack:
        value, done = stack.pop()
        if not isinstance(value, dict | list):
            continue
        graph.spend(0 if done else 1)
        members = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        if done:
            keys = sum(len(str(k)) + 4 for k, _ in members) if isinstance(value, dict) else 0
            sizes[id(value)] = 2 + keys + sum(_size(v, sizes) + 1 for _, v in members)
        else:
            stack.append((value, True))
            stack.extend((v, False) for _, v in members)
    return sizes


def _distinct(counts: Iterable[Counts]) -> Level:
    return {frozenset(c.items()): c for c in counts}


def _next_level(graph: SchemaGraph, rank: list[int], level: Iterable[Counts]) -> Level:
    """The distinct walk counts one level deeper, one per kind of child of each."""
    return _distinct(child for counts in level for child in _children(graph, rank, counts))


def _same_value_order(graph: SchemaGraph) -> list[int]:
    """Each subschema's place in an order where it comes before those it applies to the same
    value; a cycle (a $ref loop that never descends into the data) is refused."""
    state = [0] * len(graph.nodes)  # 1: on the current path, 2: done
    order: list[int] = []
    for start in range(len(graph.nodes)):
        if state[start]:
            continue
        stack: list[tuple[int, Iterator[int]]] = [(start, iter(graph.same[start]))]
        state[start] = 1
        while stack:
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                state[node] = 2
                order.append(node)
            elif state[target] == 1:
                raise SchemaRefused(
                    graph.path(target),
                    "refers to itself without descending into the data (a $ref loop)",
                )
            elif not state[target]:
                state[target] = 1
                stack.append((target, iter(graph.same[target])))
        graph.spend(1)
    rank = [0] * len(graph.nodes)
    for place, node in enumerate(reversed(order)):
        rank[node] = place
    return rank


def _close(graph: SchemaGraph, rank: list[int], seeds: Counts) -> Counts:
    """``seeds`` plus every walk from them through same-value edges, counted (capped, so that
    numbers stay small), visiting only what the seeds reach, each after all its sources."""
    closed = dict(seeds)
    queue = [(rank[node], node) for node in seeds]
    heapq.heapify(queue)
    done: set[int] = set()
    while queue:
        _, node = heapq.heappop(queue)
        if node in done:
            continue
        done.add(node)
        graph.spend(1 + len(graph.same[node]))
        for target in graph.same[node]:
            closed[target] = min(closed.get(target, 0) + closed[node], MAX_WORK_PER_VALUE + 1)
            heapq.heappush(queue, (rank[target], target))
    return closed


def _children(graph: SchemaGraph, rank: list[int], counts: Counts) -> Iterator[Counts]:
    """The walks that reach one child value, for each kind of child (a property name, any
    other key, an item, a member name as a string): walks for different children never add
    up. A ``*`` edge (patternProperties, additionalProperties) reaches every member."""
    by_label: dict[Any, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for source, count in counts.items():
        edges = graph.child[source]
        graph.spend(len(edges))
        for target, label in edges:
            by_label[label][target] += count
    wildcard = by_label.pop(ANY_KEY, {})
    by_label.setdefault(_OTHER, {})  # a member no "properties" names: the wildcard edges alone
    for label, seeds in by_label.items():
        if label is not ITEM and label is not KEY_NAME:
            seeds = {t: seeds.get(t, 0) + wildcard.get(t, 0) for t in {*seeds, *wildcard}}
        if seeds:
            yield _close(graph, rank, seeds)
