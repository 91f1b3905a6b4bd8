"""Hostile tenant schemas against a real server per store, measured like
``test_hostile_requests`` (its stall probe, twins, verdicts and fixtures): JSON Schemas that
multiply a validator's work, hide work where the cost analysis does not look, or make each
error carry megabytes. The cases come from two reviews of the schema bounds (each stalled
one to several seconds, or took gigabytes, before its fix)::

    .venv/bin/pytest tests/acceptance/test_hostile_schemas.py -k sqlite -s
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.stall import RawRequest, Table
from tests.acceptance.test_hostile_requests import (  # noqa: F401 (fixtures)
    CLIENT_ERRORS,
    EVENT_TYPES,
    EVENTS,
    Cases,
    Pair,
    Prepare,
    Target,
    _names,
    check,
    creations,
    nested,
    publishing,
    same_size,
    table,
    target,
)
from tests.hostile_schemas import doubling_chain
from tests.procfs import tree_rss_mb

CASES = Cases()
case = CASES.add


# --- the first review -------------------------------------------------------------------------


@case
async def chain_under_unknown_keyword(t: Target) -> Pair:
    """16 levels of anyOf-of-two-$refs kept under ``x`` (a $ref reaches anything; the cost
    check looked under $defs only): 65,536 applications to the number 5 (2.1 s)."""
    return await publishing(t, doubling_chain("x", 16), (5, "s"), CLIENT_ERRORS | {202})


@case
async def chain_under_definitions(t: Target) -> Pair:
    """The same chain under draft 7's ``definitions``."""
    return await publishing(t, doubling_chain("definitions", 16), (5, "s"), CLIENT_ERRORS | {202})


@case
async def required_errors(t: Target) -> Pair:
    """20,000 required names and ten empty objects: 200,000 errors built before the first was
    read (2.3 s, 250 MB). Twin: ten numbers (required ignores them)."""
    schema = {"type": "array", "items": {"required": [f"k{i}" for i in range(20_000)]}}
    return await publishing(t, schema, ([{}] * 10, [0] * 10), CLIENT_ERRORS)


@case
async def enum_errors(t: Target) -> Pair:
    """An enum of 10,000 strings applied ten times by $ref, and 400 zeros: 4,000 errors each
    carrying the options into Python (4.3 s). Twin: 400 valid values."""
    enum = {"enum": [f"v{i:06d}" for i in range(10_000)]}
    schema = {"$defs": {"e": enum}, "type": "array",
              "items": {"allOf": [{"$ref": "#/$defs/e"}] * 10}}  # fmt: skip
    return await publishing(t, schema, ([0] * 400, ["v000001"] * 400), CLIENT_ERRORS | {202})


@case
async def format_checks(t: Target) -> Pair:
    """250 ``format: uri`` per item (a Python function each) and 10,000 valid items: 2.2 s for
    a 202. Twin: 10,000 numbers (format does not apply)."""
    schema = {"items": {"allOf": [{"format": "uri"}] * 250}}
    return await publishing(t, schema, (["a:b"] * 10_000, [12345] * 10_000), {202})


@case
async def word_boundaries(t: Target) -> Pair:
    r"""200 ``\b(?:\w+\s){1,5}\bz`` per item over 40 strings of "é " (1.7 s). Twin: ASCII."""
    schema = {"items": {"allOf": [{"pattern": r"\b(?:\w+\s){1,5}\bz"}] * 200}}
    return await publishing(t, schema, (["é " * 1000] * 40, ["ab " * 1000] * 40), CLIENT_ERRORS)


@case
async def hidden_patterns(t: Target) -> Pair:
    """4,000 patterns under ``x``, reached by $ref (they counted as none of the 64 allowed),
    tried on 1,000 strings: 2.4 s, and 80 MB in the validator cache per such type."""
    patterns = [{"pattern": f"^(?:[a-z]{{1,8}}[0-9]{{1,4}}){{1,12}}q{i}$"} for i in range(4000)]
    schema = {"x": {"anyOf": [*patterns, True]}, "type": "array", "items": {"$ref": "#/x"}}
    data = ["abc123" * 5] * 1000, ["1234567890123456789012345678"] * 1000
    return await publishing(t, schema, data, CLIENT_ERRORS | {202})


@case
async def repeated_anchors(t: Target) -> Pair:
    """5,500 ``$anchor: a`` and 5,500 ``$ref: #a`` (245 KB): 30 million edges walked before
    the analysis counted its work (3.9 s, then a 422). Twin: the same keys with ``title``."""
    hostile_properties: dict[str, Any] = {f"{i}": {"$anchor": "a"} for i in range(5500)}
    hostile_properties.update({f"r{i}": {"$ref": "#a"} for i in range(5500)})
    twin_properties = {key: {"title": "a"} for key in hostile_properties}

    def build(n: int) -> tuple[RawRequest, RawRequest]:
        hostile, twin = same_size(
            {"name": f"hostile.t{next(_names)}", "schema": {"properties": hostile_properties}},
            {"name": f"hostile.t{next(_names)}", "schema": {"properties": twin_properties}},
        )
        return t.request("POST", EVENT_TYPES, hostile), t.request("POST", EVENT_TYPES, twin)

    return Pair(build, frozenset({201, 422}))


# --- the second review ------------------------------------------------------------------------


# --- 1. what jsonschema-rs applies that schema_graph does not see ----------------------------


@case
async def chain_behind_items_array(t: Target) -> Pair:
    """jsonschema-rs applies the draft-7 array form of ``items`` (and ``additionalItems``) in a
    subschema the meta-schema does not check (under an unknown keyword, reached by $ref);
    schema_graph takes that ``items`` for one child node that is a list and never looks into
    it. A 16-level doubling chain behind it is accepted (cost work=2) and publishing [5]
    takes seconds (18 levels: 9 s; each two levels x4). Twin: ["s"], valid at the first
    branch."""
    schema = {
        "c": doubling_chain("c", 16)["c"],
        "x": {"items": [{"$ref": "#/c/d0"}]},
        "type": "array",
        "$ref": "#/x",
    }
    return await publishing(t, schema, ([5], ["s"]), CLIENT_ERRORS | {202})


@case
async def chain_behind_additional_items(t: Target) -> Pair:
    """The same chain behind ``additionalItems`` (not in schema_graph's keyword lists at all),
    applied to the second item."""
    schema = {
        "c": doubling_chain("c", 16)["c"],
        "x": {"items": [{}], "additionalItems": {"$ref": "#/c/d0"}},
        "type": "array",
        "$ref": "#/x",
    }
    return await publishing(t, schema, ([0, 5], [0, "s"]), CLIENT_ERRORS | {202})


@case
async def chain_behind_encoded_slash(t: Target) -> Pair:
    """``$ref: "#/x%2Fy"``: jsonschema-rs percent-decodes the fragment before splitting it, so
    it applies ``x`` then ``y``; schema_graph._resolve splits first and reads one key
    ``x/y`` (an empty schema here). The chain reached from ``x.y`` is never analysed."""
    schema = {
        "c": doubling_chain("c", 16)["c"],
        "x/y": {},
        "x": {"y": {"$ref": "#/c/d0"}},
        "$ref": "#/x%2Fy",
    }
    return await publishing(t, schema, (5, "s"), CLIENT_ERRORS | {202})


def hidden_patterns_schema(count: int) -> dict[str, Any]:
    """``count`` distinct patterns, each compiling close to PATTERN_SIZE, behind an array-form
    ``items``: Compiled.patterns counts 0 of them (MAX_PATTERNS is 64)."""
    patterns = [{"pattern": f"^[a-z]{{1,540}}{i}$"} for i in range(count)]
    return {"x": {"items": [{"anyOf": [*patterns, True]}]}, "$ref": "#/x"}


@case
async def hidden_patterns_compile(t: Target) -> Pair:
    """7,000 large patterns behind an array-form ``items`` (224 KB): accepted, compiling them
    holds the event loop ~1.3 s and ~400 MB per copy (a publish then caches it, ~1 GB after
    one match; ValidatorCache counts its patterns as 0)."""
    return Pair(creations(t, hidden_patterns_schema(7000)), frozenset({201, 422}))


# --- 2. where schema_cost under-counts -------------------------------------------------------


def label_collision(name: str) -> dict[str, Any]:
    """A property whose name is one of schema_cost's internal labels ("[]" for items, "#" for
    propertyNames): its walks are added to the items' (or names') instead of to the
    wildcard's, so properties + patternProperties both recursing counts 1 per level."""
    return {
        "type": "object",
        "properties": {name: {"$ref": "#"}},
        "patternProperties": {"": {"$ref": "#"}},
    }


@case
async def property_named_items_label(t: Target) -> Pair:
    """Property "[]" and patternProperties "" both $ref the root: accepted (work=5), while
    every level of {"[]": …} doubles the work of listing errors (16 levels 1.7 s, 18: 10 s,
    20: 51 s in-process). Twin: the same nesting with a valid leaf."""
    data = nested(17, 5, "[]"), nested(17, {}, "[]")
    return await publishing(t, label_collision("[]"), data, CLIENT_ERRORS | {202})


@case
async def property_named_names_label(t: Target) -> Pair:
    """The same with a property named "#" (propertyNames' label)."""
    data = nested(17, 5, "#"), nested(17, {}, "#")
    return await publishing(t, label_collision("#"), data, CLIENT_ERRORS | {202})


# --- 3. error listing whose weight ignores what each error carries ---------------------------

BIG = "x" * 200_000


@case
async def big_not_messages(t: Target) -> Pair:
    """``items: {not: {title: <200 KB>}}``: error_weight is 2, so 1,999 items are listed in
    detail, and each error's message serializes the whole ``not`` subschema: 1.3 s and
    1.4 GB of Python memory for a 4 KB event. Twin: a string of the same size (valid)."""
    schema = {"items": {"not": {"title": BIG}}}
    return await publishing(t, schema, ([0] * 1999, "s" * 3997), {422})


@case
async def long_required_name(t: Target) -> Pair:
    """One required name of 200 KB: each missing one is an error whose *path* holds the name,
    never shortened, so the 422 carries 100 of them (19.5 MB) after 1.2 s and 1.2 GB.
    Twin: strings (required ignores them)."""
    schema = {"items": {"required": ["b" + BIG]}}
    return await publishing(t, schema, ([{}] * 1999, ["ab"] * 1999), {422})


@case
async def first_error_any_of_context(t: Target) -> Pair:
    """A document too large to list (60,000 values): Compiled._first calls validate(), whose
    anyOf error is built with the context of every failing branch, so 60,000 item errors
    are still built and converted (1.3 s in-process). Twin: the same size with one error."""
    schema = {"anyOf": [{"items": {"type": "integer"}}, {"type": "null"}]}
    return await publishing(t, schema, (["a"] * 60_000, [111] * 59_999 + ["a"]), {422})


@case
async def first_error_context_memory(t: Target) -> Pair:
    """The same context, each item's error carrying a 240 KB ``not`` message: 1,000 zeros
    (2 KB of data) cost 0.5 s and ~700 MB of RSS; 3,000 zeros 1.6 s and 2.1 GB; a 60 KB event
    would need ~20 GB. Twin: a string of the same size."""
    schema = {"anyOf": [{"items": {"not": {"title": "x" * 240_000}}}, {"type": "null"}]}
    return await publishing(t, schema, ([0] * 1000, "s" * 1997), {422})


@case
async def allowed_work_per_value(t: Target) -> Pair:
    """Within the bound: 255 ``type: integer`` under ``allOf`` (work=256, the most allowed)
    and 120,000 zeros (240 KB), all valid: ~200 ms of the event loop for a 202, where the
    same document against ``items: {type: integer}`` takes ~1 ms. MAX_WORK_PER_VALUE bounds
    work per value, not per request: 256 x the values of a 256 KB body. Now a document whose
    values times that work pass WORK_BUDGET is refused (422) before any check."""
    name = await t.event_type({"items": {"allOf": [{"type": "integer"}] * 255}})
    twin_name = await t.event_type({"items": {"type": "integer"}})
    hostile, twin = same_size(
        {"type": name, "data": [0] * 120_000}, {"type": twin_name, "data": [0] * 120_000}
    )
    return Pair.fixed(
        t.request("POST", EVENTS, hostile), t.request("POST", EVENTS, twin), {202, 422}
    )


# --- 4. the analysis itself ---------------------------------------------------------------------


def const_chain(levels: int, labels: int, floats: int) -> dict[str, Any]:
    """``levels`` distinct depths, each with ``labels`` leaf properties reaching one node that
    holds a large ``const``: error_weight serializes the const once per walk-count table per
    depth (about labels x levels times), which MAX_WORK does not count."""
    defs: dict[str, Any] = {
        f"d{i}": {"properties": {"a": {"$ref": f"#/$defs/d{i + 1}"}}, "$ref": "#/$defs/B"}
        for i in range(levels)
    }
    defs[f"d{levels}"] = {}
    defs["B"] = {"properties": {f"b{j}": {"$ref": "#/$defs/C"} for j in range(labels)}}
    defs["C"] = {"const": [i * 1.1 for i in range(floats)]}
    return {"$defs": defs, "$ref": "#/$defs/d0"}


@case
async def analysis_const_dumps(t: Target) -> Pair:
    """Creating a type whose analysis serializes a 220 KB const ~11,000 times: 4.5 s of the
    event loop in tenant_schema (then refused, or accepted at 44 labels) for a 239 KB body.
    Twin: {"type": "object"} padded to the same size."""
    return Pair(creations(t, const_chain(256, 46, 17_000)), frozenset({201, 422}))


@case
async def analysis_deep_paths(t: Target) -> Pair:
    """12,000 properties under 124 levels of ``properties.a``: every analysis step hashes a
    path tuple of ~250 parts, so tenant_schema takes ~0.8 s where the same properties at
    the root take ~0.2 s."""
    schema: dict[str, Any] = {"properties": {f"p{i}": {} for i in range(12_000)}}
    for _ in range(124):
        schema = {"properties": {"a": schema}}
    return Pair(creations(t, schema), frozenset({201, 422}))


@pytest.mark.parametrize("name", list(CASES))
async def test_no_schema_stalls_the_event_loop(
    target: Target,  # noqa: F811 (the fixture imported above)
    table: Table,  # noqa: F811
    name: str,
) -> None:
    await check(target, table, name, await CASES[name](target))


async def test_cached_validators_hold_bounded_memory(target: Target) -> None:  # noqa: F811
    """Two event types of 7,000 patterns behind an array-form ``items`` (224 KB each), one
    publish each: ValidatorCache kept both and counted 0 patterns, and the server grew ~1 GB
    per type (+1.05 GB for each of three). Such a schema is refused now; if it were not, the
    cache is bounded by the footprint of what it holds, and tenant schemas are compiled only
    in the sandbox's processes, each limited to 1 GiB (the API's and theirs are counted)."""
    pid = target.server.process.pid
    before = tree_rss_mb(pid)
    for _ in range(2):
        created = await target.post(
            EVENT_TYPES, {"name": f"schema.m{next(_names)}", "schema": hidden_patterns_schema(7000)}
        )
        if created.status_code == 422:
            continue
        name = created.json()["name"]
        published = await target.post(EVENTS, {"type": name, "data": ["a" * 500 + "!"]})
        assert published.status_code == 202, published.text
    grown = tree_rss_mb(pid) - before
    assert grown < 300, f"the API and its sandbox grew by {grown:.0f} MB for two cached event types"
