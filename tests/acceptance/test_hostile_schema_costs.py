"""The third review of the tenant-schema bounds: hostile schemas and documents that the
second review's rules accepted, measured like ``test_hostile_schemas`` (the stall probe of
``stall.py``, a benign twin of the same size, the same verdicts and fixtures)::

    .venv/bin/pytest tests/acceptance/test_hostile_schema_costs.py -k sqlite -s

Each case's docstring gives the figures measured in-process on the review machine (2 shared
cores) before its fix; the fixes are tighter rules in ``schema_graph`` and ``schema_cost``
and, for the work no static rule bounds (a slow pattern over a long string, ``multipleOf``,
nested ``uniqueItems``), the schema sandbox: tenant schemas run only in child processes
with a time and a memory limit. Groups:

1. jsonschema-rs resolves a reference to another subschema than ``schema_graph`` does, or
   applies subschemas the graph never reads (the cost analysis then bounds the wrong graph);
2. keywords whose work grows with the size of the value, weighed 1 per application;
3. what the error listing and the cache do not count (bytes carried, bytes held);
4. the schema's own analysis outside the step budget.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.acceptance.stall import Table
from tests.acceptance.test_hostile_requests import (  # noqa: F401 (fixtures)
    CLIENT_ERRORS,
    EVENT_TYPES,
    EVENTS,
    Cases,
    Pair,
    Target,
    _names,
    check,
    creations,
    nested,
    publishing,
    table,
    target,
)
from tests.hostile_schemas import chain_under_content_schema, doubling_defs
from tests.procfs import rss_mb, tree_rss_mb

CASES = Cases()
case = CASES.add
D4 = "http://json-schema.org/draft-04/schema#"
D2019 = "https://json-schema.org/draft/2019-09/schema"


# --- 1. references resolved elsewhere, subschemas applied unseen ----------------------------


@case
async def anchor_kinds_share_a_name(t: Target) -> Pair:
    """``$anchor: x`` at the root and ``$dynamicAnchor: x`` in $defs: schema_graph keeps a
    name's first declaration (the root, read first: a harmless recursion under ``q``) and only
    refuses the same *kind* twice; jsonschema-rs keeps the last it registers ($defs/b), so
    ``$ref: "#x"`` applies a 16-level doubling chain the analysis never reached (cost
    work=2). In-process: 16 levels 2.1 s, 18 levels 10.8 s. Twin: "s" (first branches)."""
    defs = doubling_defs(16, "#/$defs")
    defs["b"] = {"$dynamicAnchor": "x", "$ref": "#/$defs/d0"}
    schema = {"$anchor": "x", "type": "object", "properties": {"q": {"$ref": "#x"}}, "$defs": defs}
    return await publishing(t, schema, ({"q": 5}, {"q": "s"}), CLIENT_ERRORS | {202})


@case
async def content_schema_anchor(t: Target) -> Pair:
    """jsonschema-rs registers anchors under ``contentSchema`` (a subresource in its 2020-12
    walk) and a ``$ref: "#y"`` reaches it; schema_graph never reads ``contentSchema``, so a
    second ``$anchor: y`` under $defs is no duplicate to it and the reference is taken for
    that empty one. Everything under contentSchema is unanalysed. 16 levels: 1.4 s
    in-process (18: 7.4 s). Twin: "s"."""
    schema = chain_under_content_schema()
    return await publishing(t, schema, ({"q": 5}, {"q": "s"}), CLIENT_ERRORS | {202})


def content_schema_patterns(count: int) -> dict[str, Any]:
    patterns = [{"pattern": f"^[a-z]{{1,540}}{i}$"} for i in range(count)]
    return {
        "$defs": {"a": {"$anchor": "y"}},
        "contentSchema": {"$anchor": "y", "anyOf": [*patterns, True]},
        "type": "array",
        "items": {"$ref": "#y"},
    }


@case
async def content_schema_hidden_patterns(t: Target) -> Pair:
    """7,000 large patterns under contentSchema, reached through ``#y``: Compiled.patterns
    counts 0 (MAX_PATTERNS is 64), the footprint is 3 KiB. Creating it holds the event loop
    1.26 s and +400 MB in-process; one publish of one string then takes 0.9 s and +1 GB,
    100 strings 13 s."""
    return Pair(creations(t, content_schema_patterns(7000)), frozenset({201, 422}))


@case
async def recursive_ref_in_draft_2019_subschema(t: Target) -> Pair:
    """``$schema`` in a subschema switches jsonschema-rs to that draft for the subtree (its
    referencing crate detects the draft per subschema; only the root's is forced): under
    2019-09, ``$recursiveRef: "#"`` applies the root, an edge schema_graph does not know.
    An anyOf of two of them doubles the work per level of data (cost work=3): 16 levels
    3.4 s in-process, 18: 18.7 s. Twin: the same nesting under "b" (refused at the root)."""
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {
                "$schema": D2019,
                "anyOf": [{"$recursiveRef": "#"}, {"$recursiveRef": "#", "minProperties": 0}],
            }
        },
    }
    return await publishing(t, schema, (nested(16, {}), nested(16, {}, "b")), CLIENT_ERRORS | {202})


@case
async def draft4_id_moves_the_base(t: Target) -> Pair:
    """A draft-04 subschema's ``id`` is an identifier to jsonschema-rs (schema_graph refuses
    ``$id`` below the root, not ``id``): inside it ``#/$defs/dN`` names the subschema's own
    $defs, while schema_graph resolves it at the document's root, where harmless
    ``$defs/dN: {}`` sit. 16 levels 1.3 s in-process (18: 7.2 s). Twin: "s"."""
    schema = {
        "$defs": {f"d{i}": {} for i in range(16)},
        "properties": {
            "q": {
                "$schema": D4,
                "id": "http://x.example/s",
                "$defs": doubling_defs(16, "#/$defs"),
                "allOf": [{"$ref": "#/$defs/d0"}],
            }
        },
    }
    return await publishing(t, schema, ({"q": 5}, {"q": "s"}), CLIENT_ERRORS | {202})


# --- 2. work that grows with the value, weighed 1 ------------------------------------------

SLOW_PATTERN = r"(?:[ab]{1,5}a[ab]{14}){2,40}c"


def coin_flips(length: int) -> str:
    rng = random.Random(14)
    return "".join(rng.choice("ab") for _ in range(length))


@case
async def slow_pattern_long_string(t: Target) -> Pair:
    """One pattern within PATTERN_SIZE whose lazy DFA does not fit its 64 KiB cache, so the
    regex crate falls back to its NFA simulation: ~4.8 us per character. One 250 KB string
    of a/b is one value (cost work=5, no bound applies): errors() takes 3.5 s in-process
    (is_valid, then iter_errors); three such patterns in allOf 8.1 s. Twin: 250 KB of "d"
    (no "a": refused at once)."""
    schema = {"type": "string", "pattern": SLOW_PATTERN}
    return await publishing(t, schema, (coin_flips(250_000), "d" * 250_000), CLIENT_ERRORS)


@case
async def multiple_of_tiny_divisor(t: Target) -> Pair:
    """``multipleOf: 5e-324`` (every double is a multiple) and 40,000 x ``1e308``: the
    quotient overflows and jsonschema-rs checks exactly, ~26 us per value against a few ns
    (weighed 1): 1.06 s in-process for a 202; allOf of 4: 4.3 s; the most work the bound
    allows (~250 per value, 31,000 values) would be minutes. Twin: 40,000 strings "abc"
    (multipleOf ignores them)."""
    name = await t.event_type({"type": "array", "items": {"multipleOf": 5e-324}})

    def body(item: bytes) -> bytes:
        return b'{"type":"%s","data":[%s]}' % (name.encode(), b",".join([item] * 40_000))

    hostile, twin = body(b"1e308"), body(b'"abc"')
    return Pair.fixed(
        t.request("POST", EVENTS, hostile), t.request("POST", EVENTS, twin), {202, 422}
    )


def unique_nest(depth: int, width: int, bottom: int) -> list[Any]:
    document: list[Any] = list(range(bottom))
    for _ in range(depth):
        document = [document, *range(width - 1)]
    return document


@case
async def nested_unique_items(t: Target) -> Pair:
    """``uniqueItems`` at every level of 240 nested arrays of 20 items over 30,000 numbers:
    jsonschema-rs hashes each item, so every level hashes everything under it (quadratic),
    weighed 1. In-process: 0.37 s with one uniqueItems per level, 1.3 s with allOf of 4,
    5.7 s with 16 (work=18, under CHEAP_WORK: no per-document bound at all). Twin: a flat
    array of distinct numbers, the same size."""
    node = {"allOf": [{"uniqueItems": True}] * 4, "items": {"$ref": "#/$defs/n"}}
    schema = {"$defs": {"n": node}, "$ref": "#/$defs/n"}
    data = unique_nest(240, 20, 30_000), list(range(34_000))
    return await publishing(t, schema, data, CLIENT_ERRORS | {202})


@case
async def dependent_required_triggers(t: Target) -> Pair:
    """``dependentRequired`` with 180 triggers each requiring the same 180 names (weighed 1,
    like any subschema): an object holding all 360 keys costs 32,400 lookups, applied 20
    times by allOf, for each of 60 such objects (200 KB, valid). In-process: 75 ms for one
    application, 10.8 s for 100 (200 triggers and names). Twin: the objects' trigger keys
    renamed (nothing to check)."""
    names = [f"n{i}" for i in range(180)]
    schema = {
        "$defs": {"D": {"dependentRequired": {f"t{j}": names for j in range(180)}}},
        "type": "array",
        "items": {"allOf": [{"$ref": "#/$defs/D"}] * 20},
    }
    full = {**{f"t{j}": 0 for j in range(180)}, **dict.fromkeys(names, 0)}
    inert = {**{f"u{j}": 0 for j in range(180)}, **dict.fromkeys(names, 0)}
    return await publishing(t, schema, ([full] * 60, [inert] * 60), CLIENT_ERRORS | {202})


# --- 3. what the error listing and the cache do not count -----------------------------------


@case
async def errors_carry_big_instances(t: Target) -> Pair:
    """118 required names per level of a recursive schema and data 31 levels deep over a
    250 KB string: 32 values x 122 errors each is within DETAIL_BUDGET, so 3,658 errors
    are built before the first is read, each carrying its instance (everything under it,
    the 250 KB string included): 0.70 s and +472 MB in-process (the same with a 1-character
    leaf: 0.15 s). Twin: the string beside the nesting, at the root."""
    node = {"required": [f"r{i}" for i in range(118)], "properties": {"a": {"$ref": "#/$defs/n"}}}
    schema = {"$defs": {"n": node}, "$ref": "#/$defs/n"}
    big = "x" * 250_000
    return await publishing(
        t, schema, (nested(31, big), {"a": nested(30, "x"), "pad": big}), CLIENT_ERRORS
    )


@case
async def long_pointers_in_answer(t: Target) -> Pair:
    """100 errors under one key of 1,010 U+0001: each pointer is cut at 1,024 *characters*,
    but orjson writes each control character as 6 bytes: a 619 KB answer to a 6 KB request
    (ASCII: 109 KB; emoji: 415 KB). Twin: the same items under a short key."""
    schema = {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    }
    return await publishing(
        t, schema, ({"\u0001" * 1010: [0] * 150}, {"k": [0] * 150, "p": "\u0001" * 1010}), {422}
    )


@case
async def enum_of_arrays(t: Target) -> Pair:
    """The fourth review (of the sandbox): an enum of 5,000 arrays ``[0, 0, 0, i]`` (64 KB)
    and 8,000 items matching the last option (104 KB, valid): each comparison with an array
    converts the value (0.5 us), weighed 1 in all: 22 s in-process, so in the sandbox every
    such publish ran to the time limit, a 422, and a child restarted each second. Twin:
    8,000 items matching the first option."""
    schema = {"type": "array", "items": {"enum": [[0, 0, 0, i] for i in range(5000)]}}
    data = [[0, 0, 0, 4999]] * 8000, [[0, 0, 0, 0]] * 8000
    return await publishing(t, schema, data, {202})


# --- 4. the analysis outside its step budget ------------------------------------------------


@case
async def schema_data_sizes(t: Target) -> Pair:
    """85,000 empty arrays under ``examples`` (255 KB): schema_cost._sizes walks every array
    and object of the schema document, annotations included, outside MAX_WORK: 380 ms of the
    event loop in tenant_schema (jsonschema-rs compiles it in 2 ms; ``const``, ``default`` or
    an unknown key do the same, 250-420 ms)."""
    return Pair(creations(t, {"examples": [[] for _ in range(85_000)]}), frozenset({201, 422}))


# --- memory (run first: a case's freed heap would absorb the growth measured) ---------------


async def _event_type(target: Target, schema: Any) -> str:  # noqa: F811 (the fixture)
    name = f"schema.r{next(_names)}"
    created = await target.post(EVENT_TYPES, {"name": name, "schema": schema})
    assert created.status_code == 201, created.text[:300]
    return name


async def test_the_serving_process_holds_no_tenant_schema(target: Target) -> None:  # noqa: F811
    """40 types, each one ``enum`` of 24,000 strings (240 KB), one publish each: each
    compiled schema holds ~3 MB (5 MB for a ``const`` or ``required`` of the same size) while
    its footprint said 2 KiB, so the cache's 256 MiB bound never applied and its 4,096
    entries could hold 12-20 GB of the API process. Tenant schemas are compiled only in the
    sandbox's processes now, whose caches count a schema by the size of its JSON."""
    pid = target.server.process.pid
    before, tree_before = rss_mb(pid), tree_rss_mb(pid)
    for j in range(40):
        enum = [f"{j}v{i}" for i in range(24_000)]
        name = await _event_type(target, {"type": "array", "items": {"enum": enum}})
        published = await target.post(EVENTS, {"type": name, "data": []})
        assert published.status_code == 202, published.text
    grown, tree_grown = rss_mb(pid) - before, tree_rss_mb(pid) - tree_before
    assert grown < 20, f"40 cached tenant types grew the API process by {grown:.0f} MB"
    # two children, each caching at most 256 MiB of footprints, plus their own start
    assert tree_grown < 612, f"the API and its sandbox grew by {tree_grown:.0f} MB"


async def test_the_sandbox_holds_what_its_caches_count(target: Target) -> None:  # noqa: F811
    """The fourth review: 93 types of one const of 120,000 small numbers (240 KB), each
    published to both children: the caches counted 12 bytes per byte of JSON against 37 held,
    and each child held 739 MiB for its 256 MiB. 60 such types now stay within both caches'
    bounds (2 x 256 MiB) and the children's start."""
    pid = target.server.process.pid
    before = tree_rss_mb(pid)
    for i in range(60):
        name = await _event_type(target, {"const": [i] + [0] * 120_000})
        for _ in range(2):  # the children take turns: each compiles it
            published = await target.post(EVENTS, {"type": name, "data": 0})
            assert published.status_code == 422, published.text
    grown = tree_rss_mb(pid) - before
    assert grown < 700, f"the API and its sandbox grew by {grown:.0f} MB"


async def test_content_schema_patterns_memory(target: Target) -> None:  # noqa: F811
    """Two types of 7,000 patterns under contentSchema, one publish each: the cache counts
    3 KiB per type while each holds over a gigabyte. Such a schema is refused now (its
    patterns are counted); if it were not, only a sandbox process would hold it."""
    pid = target.server.process.pid
    before = tree_rss_mb(pid)
    for _ in range(2):
        created = await target.post(
            EVENT_TYPES,
            {"name": f"schema.c{next(_names)}", "schema": content_schema_patterns(7000)},
        )
        if created.status_code == 422:
            continue
        published = await target.post(
            EVENTS, {"type": created.json()["name"], "data": ["a" * 500 + "!"]}
        )
        assert published.status_code == 202, published.text
    grown = tree_rss_mb(pid) - before
    assert grown < 300, f"the API and its sandbox grew by {grown:.0f} MB for two event types"


@pytest.mark.parametrize("name", list(CASES))
async def test_no_schema_stalls_the_event_loop(
    target: Target,  # noqa: F811 (the fixture imported above)
    table: Table,  # noqa: F811
    name: str,
) -> None:
    await check(target, table, name, await CASES[name](target))
