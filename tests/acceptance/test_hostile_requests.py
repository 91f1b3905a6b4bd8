"""Hostile requests against a real server process per store (docs/reliability.md): no input makes
one
request hold the event loop for more than a few milliseconds beyond the linear work of its
size, no answer to one is a 5xx or larger than 100 KB, and ``/healthz`` keeps answering.

Each case is a hostile request and its benign twin of the same size and shape, measured by the
stall probe of ``stall.py`` on ``hookwire serve`` (SQLite) and ``hookwire api`` (PostgreSQL).
The figures are printed as a table at the end of the run (``-s`` shows each row as it comes)::

    .venv/bin/pytest tests/acceptance/test_hostile_requests.py

Sizes are chosen so that today's defects stall for one to ten seconds on a 2-core machine
(clearly failing, yet bounded well under the 30 s request timeout on a slower one).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hookwire.api.limits import MAX_LINE
from hookwire.ids import new_id
from tests import pg
from tests.acceptance.processes import Server, free_port, run, server, service_env
from tests.acceptance.stall import (
    ALLOWANCE_S,
    MAX_ANSWER,
    TIMEOUT_S,
    RawRequest,
    Row,
    Run,
    Runs,
    Table,
    label,
    measure,
    repeat,
)
from tests.conftest import WEBHOOKS
from tests.vendors import VENDORS

EVENT_TYPES, EVENTS = "/api/v1/event-types", "/api/v1/events"
GITHUB, ED25519 = VENDORS["github"], VENDORS["standard-webhooks-ed25519"]
RECEIVER = "http://127.0.0.1:9/hooks"
CLIENT_ERRORS = frozenset(range(400, 500))
TOO_LARGE = frozenset({400, 431})  # a header section refused: 431, or uvicorn's plain 400
_names = itertools.count()
TABLE_PLUGIN = "hostile-requests-table"


# --- the server under attack -------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A running hookwire, and a token for tenant ``hostile`` to set cases up with."""

    store: str
    server: Server
    port: int
    token: str

    @property
    def auth(self) -> tuple[str, str]:
        return ("Authorization", f"Bearer {self.token}")

    def request(
        self, method: str, path: str, body: bytes = b"", *headers: tuple[str, str]
    ) -> RawRequest:
        """An authenticated request (JSON when it has a body)."""
        kind = [("Content-Type", "application/json")] if body else []
        return RawRequest(method, path, [self.auth, *kind, *headers], body)

    async def post(self, path: str, body: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.server.base_url, timeout=TIMEOUT_S) as client:
            return await client.post(path, json=body, headers=dict([self.auth]))

    async def create(self, path: str, body: Any) -> dict[str, Any]:
        response = await self.post(path, body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def event_type(self, schema: Any) -> str:
        """A new tenant event type with this schema for ``data``; its name."""
        name = f"hostile.t{next(_names)}"
        await self.create(EVENT_TYPES, {"name": name, "schema": schema})
        return name

    async def measure(self, request: RawRequest) -> Run:
        return await measure(self.server.base_url, "127.0.0.1", self.port, request)

    async def still_healthy(self) -> bool:
        """The process runs and answers /healthz (given time to finish what it was doing)."""
        async with httpx.AsyncClient(timeout=2 * TIMEOUT_S) as client:
            try:
                answer = await client.get(self.server.base_url + "/healthz")
            except httpx.HTTPError:
                return False
        return self.server.process.poll() is None and answer.status_code == 200


def _database(store: str, tmp: Path) -> tuple[str, str | None]:
    if store == "sqlite":
        return f"sqlite:///{tmp / 'hostile.db'}", None
    name = pg.unique_name("hostile")
    return asyncio.run(pg.create_database(name)), name


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """`hookwire serve` on a SQLite file, or `hookwire api` on a new PostgreSQL database."""
    store: str = request.param
    tmp = tmp_path_factory.mktemp(store)
    url, pg_name = _database(store, tmp)
    port = free_port()
    env = service_env(url, port)
    try:
        if store == "postgres":
            migrated = run(["migrate"], tmp, env)
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        token = run(["token", "--tenant", "hostile", "--ttl", "2h"], tmp, env).stdout.strip()
        with server(["serve" if store == "sqlite" else "api"], tmp, env, port) as running:
            yield Target(store, running, port, token)
    finally:
        if pg_name is not None:
            asyncio.run(pg.drop_database(pg_name))


@pytest.fixture(scope="session")
def table(request: pytest.FixtureRequest) -> Table:
    """The figures, printed in the terminal summary (one table for every module that uses
    this fixture)."""
    manager = request.config.pluginmanager
    printed = manager.get_plugin(TABLE_PLUGIN)
    if not isinstance(printed, Table):
        printed = Table()
        manager.register(printed, TABLE_PLUGIN)
    return printed


# --- cases -----------------------------------------------------------------------------------

Build = Callable[[int], tuple[RawRequest, RawRequest]]  # run number -> (hostile, twin)


@dataclass(frozen=True)
class Pair:
    """A hostile request, its twin, and the statuses the hostile one may get."""

    build: Build
    expected: frozenset[int]

    @classmethod
    def fixed(cls, hostile: RawRequest, twin: RawRequest, expected: Iterable[int]) -> Pair:
        return cls(lambda _: (hostile, twin), frozenset(expected))


Prepare = Callable[[Target], Awaitable[Pair]]


class Cases(dict[str, Prepare]):
    """A suite's cases by name; ``add`` is the decorator that names one after its function."""

    def add(self, prepare: Prepare) -> Prepare:
        self[prepare.__name__.replace("_", "-")] = prepare
        return prepare


CASES = Cases()
case = CASES.add


def same_size(hostile: Any, twin: Any) -> tuple[bytes, bytes]:
    """Both as JSON, the shorter padded with trailing spaces to the other's length."""
    a, b = orjson.dumps(hostile), orjson.dumps(twin)
    width = max(len(a), len(b))
    return a.ljust(width), b.ljust(width)


def nested(depth: int, leaf: Any, key: str = "a") -> Any:
    for _ in range(depth):
        leaf = {key: leaf}
    return leaf


def filler(total: int, parts: int) -> list[tuple[str, str]]:
    """``parts`` headers ``X-Filler-NNN`` whose lines add up to about ``total`` bytes."""
    each = total // parts - len("X-Filler-000: \r\n")
    return [(f"X-Filler-{i:03d}", "f" * each) for i in range(parts)]


def github(hook_id: str, body: bytes, delivery: str, *extra: tuple[str, str]) -> RawRequest:
    """A correctly signed GitHub delivery (``extra`` headers replace or add to it)."""
    signed = GITHUB.headers(body, ts=int(time.time()), delivery_id=delivery)
    headers = signed | dict(extra)
    return RawRequest("POST", f"/api/v1/inbound/{hook_id}", list(headers.items()), body)


def ed25519(hook_id: str, body: bytes, delivery: str, *extra: tuple[str, str]) -> RawRequest:
    """A Standard Webhooks (Ed25519) delivery with valid id and timestamp, ``extra`` replacing
    its headers (an unsigned request then)."""
    signed = ED25519.headers(body, ts=int(time.time()), delivery_id=delivery)
    headers = signed | dict(extra)
    return RawRequest("POST", f"/api/v1/inbound/{hook_id}", list(headers.items()), body)


@case
async def unique_items(t: Target) -> Pair:
    """8,000 event types alternating 0, "0", 1, "1"… (46 KB): jsonschema compares unsortable
    items pairwise for uniqueItems, quadratic, although maxItems (100) has failed already.
    Twin: 8,000 distinct strings (sortable: n log n)."""
    mixed = [x for i in range(4000) for x in (i, str(i))]
    hostile, twin = same_size(
        {"url": RECEIVER, "event_types": mixed},
        {"url": RECEIVER, "event_types": [f"t{i}" for i in range(8000)]},
    )
    return Pair.fixed(
        t.request("POST", WEBHOOKS, hostile), t.request("POST", WEBHOOKS, twin), {422}
    )


@case
async def pattern_backtracking(t: Target) -> Pair:
    """A tenant schema's ``pattern: ^(a+)+$`` against "a"*26 + "!": a backtracking regex
    doubles per extra "a" (about 2 s here). Twin: "b"*26 + "!", refused at its first char."""
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}
    name = await t.event_type(schema)
    hostile, twin = same_size(
        {"type": name, "data": {"s": "a" * 26 + "!"}},
        {"type": name, "data": {"s": "b" * 26 + "!"}},
    )
    return Pair.fixed(t.request("POST", EVENTS, hostile), t.request("POST", EVENTS, twin), {422})


@case
async def wildcard_event_types(t: Target) -> Pair:
    """An inbound webhook filtering on ``*a*a*a*a*a*a*a*a*a*b`` and a correctly signed GitHub
    delivery of event "a"*38: the wildcard, compiled to ``.*a.*a…``, backtracks through every
    way to place nine a's. Twin: event "b"*38 (no "a" to place)."""
    hook = await t.create(WEBHOOKS, GITHUB.create_body(event_types=["*a*a*a*a*a*a*a*a*a*b"]))
    body = b'{"zen": "hostile"}'

    def build(n: int) -> tuple[RawRequest, RawRequest]:
        return (
            github(hook["id"], body, f"hostile-{n}", ("X-GitHub-Event", "a" * 38)),
            github(hook["id"], body, f"twinned-{n}", ("X-GitHub-Event", "b" * 38)),
        )

    return Pair(build, frozenset({200, 202}))


@case
async def repeated_headers(t: Target) -> Pair:
    """50,000 copies of one header on an unauthenticated inbound request: joining repeated
    values one by one copies the growing string each time, before the webhook is looked up.
    Twin: 50,000 distinct headers of the same size. Expected: 431 (or 400), quickly."""
    path = f"/api/v1/inbound/{new_id('wh')}"
    hostile = [("X-Repeated-Hdr", "v" * 40)] * 50_000
    twin = [(f"X-Header-{i:05d}", "v" * 40) for i in range(50_000)]
    return Pair.fixed(RawRequest("POST", path, hostile), RawRequest("POST", path, twin), TOO_LARGE)


SIGNATURES_PER_LINE = (MAX_LINE - 100) // len("v1a," + "A" * 88 + " ")


@functools.cache
def well_formed_signatures(count: int) -> tuple[str, ...]:
    """Ed25519 signatures of other messages: a valid point R and S below the group order, so
    each costs a full verification (random bytes mostly fail the range check at once)."""
    key = Ed25519PrivateKey.generate()
    return tuple(base64.b64encode(key.sign(i.to_bytes(4, "big"))).decode() for i in range(count))


@case
async def signature_list(t: Target) -> Pair:
    """As many well-formed ``v1a`` signatures as one header line holds (api.limits: 8 KiB;
    the review sent 8,000 before there was a limit) on an Ed25519 inbound webhook, no
    credential: at most 5 are verified. Twin: the same with ``v1b``, a version nobody checks."""
    hook = await t.create(WEBHOOKS, ED25519.create_body())
    sigs, body = well_formed_signatures(SIGNATURES_PER_LINE), b'{"n": 1}'

    def signed_by(version: str, n: int) -> RawRequest:
        listed = " ".join(f"{version},{s}" for s in sigs)
        return ed25519(hook["id"], body, f"msg-{n}", ("webhook-signature", listed))

    return Pair(lambda n: (signed_by("v1a", n), signed_by("v1b", n)), frozenset({401}))


def creations(t: Target, schema: Any) -> Build:
    """Creating a type with ``schema`` (hostile) or with ``{"type": "object"}`` (twin)."""

    def build(n: int) -> tuple[RawRequest, RawRequest]:
        hostile, twin = same_size(
            {"name": f"hostile.t{next(_names)}", "schema": schema},
            {"name": f"hostile.t{next(_names)}", "schema": {"type": "object"}},
        )
        return t.request("POST", EVENT_TYPES, hostile), t.request("POST", EVENT_TYPES, twin)

    return build


async def publishing(
    t: Target, schema: Any, data: tuple[Any, Any], expected: Iterable[int]
) -> Pair:
    """Publishing hostile and twin ``data`` under a new type with ``schema``. A server may
    refuse such a schema instead (422): then the case is that refusal, which must be as
    fast as creating a plain type."""
    name = f"hostile.t{next(_names)}"
    created = await t.post(EVENT_TYPES, {"name": name, "schema": schema})
    if created.status_code == 422:
        return Pair(creations(t, schema), frozenset({422}))
    assert created.status_code == 201, created.text
    hostile, twin = same_size({"type": name, "data": data[0]}, {"type": name, "data": data[1]})
    return Pair.fixed(t.request("POST", EVENTS, hostile), t.request("POST", EVENTS, twin), expected)


@case
async def recursive_schema(t: Target) -> Pair:
    """A recursive tenant schema (``$defs.n`` refers to itself under ``a``) and data nested
    250 deep: jsonschema recurses ten frames a level and raises RecursionError (a 500).
    Twin: the same nesting under ``b``, which the schema does not descend into."""
    node = {"type": "object", "properties": {"a": {"$ref": "#/$defs/n"}}}
    schema = {"$defs": {"n": node}, "$ref": "#/$defs/n"}
    data = nested(250, {}), nested(250, {}, "b")
    return await publishing(t, schema, data, CLIENT_ERRORS | {202})


EXPONENTIAL = {
    "$defs": {
        "n": {
            "anyOf": [
                {"properties": {"a": {"$ref": "#/$defs/n"}}, "required": ["a"]},
                {"properties": {"a": {"$ref": "#/$defs/n"}}, "required": ["a"], "minProperties": 0},
            ]
        }
    },
    "$ref": "#/$defs/n",
}


@case
async def exponential_errors(t: Target) -> Pair:
    """A schema whose ``anyOf`` branches both recurse, and data 14 deep that is invalid at the
    leaf: every level doubles the work of collecting errors (about 3 s here). Twin: a valid
    leaf (0: no object, so nothing is required), which the first branch accepts."""
    return await publishing(t, EXPONENTIAL, (nested(14, {}), nested(14, 0)), {422})


@case
async def pattern_compile(t: Target) -> Pair:
    """40 properties each with ``^\\p{L}{1,N}$`` (N differing, so nothing is cached): costly to
    compile for an engine with Unicode classes. Twin: ``^[A-Za-z]{1,N}$``."""

    def schema(char_class: str) -> dict[str, Any]:
        properties = {
            f"p{i}": {"type": "string", "pattern": f"^{char_class}{{1,{61 + i}}}$"}
            for i in range(40)
        }
        return {"type": "object", "properties": properties}

    def build(n: int) -> tuple[RawRequest, RawRequest]:
        hostile, twin = same_size(
            {"name": f"hostile.compile.h{n}", "schema": schema("\\p{L}")},
            {"name": f"hostile.compile.t{n}", "schema": schema("[A-Za-z]")},
        )
        return t.request("POST", EVENT_TYPES, hostile), t.request("POST", EVENT_TYPES, twin)

    return Pair(build, frozenset({201, 422}))


@case
async def huge_output(t: Target) -> Pair:
    """An array-of-integers schema and 20,000 strings: one error each, a problem body of
    megabytes and 130 ms building them. Twin: 20,000 integers but the last (one error)."""
    name = await t.event_type({"type": "array", "items": {"type": "integer"}})
    hostile, twin = same_size(
        {"type": name, "data": ["a"] * 20_000}, {"type": name, "data": [100] * 19_999 + ["a"]}
    )
    return Pair.fixed(t.request("POST", EVENTS, hostile), t.request("POST", EVENTS, twin), {422})


@case
async def nested_errors(t: Target) -> Pair:
    """A recursive schema with an error at every level of data nested 250 deep, each level
    carrying 900 bytes: every error carries everything under it (70 ms to list them). Twin:
    the same document with one error, at the bottom."""
    node = {"type": "object", "properties": {"a": {"$ref": "#/$defs/n"}}}
    name = await t.event_type({"$defs": {"n": {**node, "maxProperties": 1}}, "$ref": "#/$defs/n"})
    twin_name = await t.event_type({"$defs": {"n": node}, "$ref": "#/$defs/n"})
    hostile_data: Any = {}
    twin_data: Any = {"a": 1}  # not an object: the one error
    for _ in range(250):
        hostile_data = {"a": hostile_data, "pad": "x" * 900}
        twin_data = {"a": twin_data, "pad": "x" * 900}
    hostile, twin = same_size(
        {"type": name, "data": hostile_data}, {"type": twin_name, "data": twin_data}
    )
    return Pair.fixed(t.request("POST", EVENTS, hostile), t.request("POST", EVENTS, twin), {422})


@case
async def huge_header_inbound(t: Target) -> Pair:
    """One 200 KB header on a correctly signed inbound delivery: the header section must be
    refused (431/400) quickly, not stored. Twin: the same bytes in 100 headers of 2 KB."""
    hook = await t.create(WEBHOOKS, GITHUB.create_body())
    body = b'{"zen": "big"}'

    def build(n: int) -> tuple[RawRequest, RawRequest]:
        return (
            github(hook["id"], body, f"hostile-{n}", *filler(200_000, 1)),
            github(hook["id"], body, f"twinned-{n}", *filler(200_000, 100)),
        )

    return Pair(build, TOO_LARGE)


@case
async def huge_header_api(t: Target) -> Pair:
    """One 200 KB header on an authenticated API request: refused (431/400) quickly.
    Twin: the same bytes in 100 headers of 2 KB."""
    return Pair.fixed(
        t.request("GET", WEBHOOKS, b"", *filler(200_000, 1)),
        t.request("GET", WEBHOOKS, b"", *filler(200_000, 100)),
        TOO_LARGE,
    )


# --- further hostile inputs --------------------------------------------------------------------


@case
async def deep_json_body(t: Target) -> Pair:
    """A publish body of 200,000 nested ``[``: refused by the parser's depth bound, quickly.
    Twin: a flat array of the same size."""
    hostile = b"[" * 200_000
    twin = b"[" + b"0," * 99_999 + b"0]"
    return Pair.fixed(
        t.request("POST", EVENTS, hostile), t.request("POST", EVENTS, twin), {400, 413, 422}
    )


@case
async def unknown_fields(t: Target) -> Pair:
    """20,000 unknown fields in a webhook: one error each, a problem body of megabytes.
    Twin: the same keys one level down, under one unknown field."""
    keys = {f"k{i:05d}": 0 for i in range(20_000)}
    hostile, twin = same_size({"url": RECEIVER, **keys}, {"url": RECEIVER, "x": keys})
    return Pair.fixed(
        t.request("POST", WEBHOOKS, hostile), t.request("POST", WEBHOOKS, twin), {422}
    )


@case
async def duplicate_keys(t: Target) -> Pair:
    """Data with one key 20,000 times (JSON parsers keep the last). Twin: 20,000 distinct keys."""
    name = await t.event_type({"type": "object"})
    pairs = ",".join(['"aaaaaa":0'] * 20_000)
    distinct = ",".join(f'"k{i:05d}":0' for i in range(20_000))
    hostile = f'{{"type":"{name}","data":{{{pairs}}}}}'.encode()
    twin = f'{{"type":"{name}","data":{{{distinct}}}}}'.encode()
    return Pair.fixed(t.request("POST", EVENTS, hostile), t.request("POST", EVENTS, twin), {202})


@case
async def huge_number(t: Target) -> Pair:
    """Data holding an integer of 100,000 digits (converting decimal digits is quadratic).
    Twin: the same digits as a string."""
    name = await t.event_type({"type": "object"})
    digits = "1" + "0" * 100_000
    hostile = f'{{"type":"{name}","data":{{"n":{digits}}}}}'.encode()
    twin = f'{{"type":"{name}","data":{{"n":"{digits[2:]}"}}}}'.encode()
    return Pair.fixed(
        t.request("POST", EVENTS, hostile), t.request("POST", EVENTS, twin), {400, 413, 422}
    )


# A URL over 64 KB is refused by uvicorn's HTTP parser (a plain 400) before hookwire sees it;
# the URL cases stay under that bound so that the application's own handling is what is timed.
URL_BYTES = 60_000


@case
async def many_query_params(t: Target) -> Pair:
    """6,000 ``type=`` query parameters on the event log. Twin: 6,000 distinct names."""
    count = URL_BYTES // 10
    hostile = "&".join(["type=abcd"] * count)
    twin = "&".join(f"x{i:05d}=ab" for i in range(count))
    return Pair.fixed(
        t.request("GET", f"{EVENTS}?{hostile}"),
        t.request("GET", f"{EVENTS}?{twin}"),
        {200, 400, 414, 422},
    )


@case
async def huge_limit(t: Target) -> Pair:
    """``limit`` of 60,000 digits (a decimal conversion quadratic in its length, if tried).
    Twin: ``limit=50`` and a padding parameter of the same size."""
    return Pair.fixed(
        t.request("GET", f"{EVENTS}?limit={'9' * URL_BYTES}"),
        t.request("GET", f"{EVENTS}?limit=50&pad={'9' * (URL_BYTES - 6)}"),
        {400, 414, 422},
    )


@case
async def huge_cursor(t: Target) -> Pair:
    """A 60 KB cursor that decodes to 45 KB: it must be refused by its shape, in linear
    time. Twin: a cursor of the same size that is not base64 at all."""
    return Pair.fixed(
        t.request("GET", f"{EVENT_TYPES}?cursor={'YWFh' * (URL_BYTES // 4)}"),
        t.request("GET", f"{EVENT_TYPES}?cursor={'.' * URL_BYTES}"),
        {400, 414, 422},
    )


@case
async def long_path(t: Target) -> Pair:
    """An event-type name of 60,000 characters in the path. Twin: a short name and a query
    parameter of the same size."""
    return Pair.fixed(
        t.request("GET", f"{EVENT_TYPES}/{'a' * URL_BYTES}"),
        t.request("GET", f"{EVENT_TYPES}/a?x={'a' * (URL_BYTES - 4)}"),
        {400, 404, 414, 422},
    )


@case
async def huge_if_match(t: Target) -> Pair:
    """A PATCH whose If-Match is ``"1"``, a header line of spaces and an ``x``: the version
    pattern must not backtrack over the spaces. Twin: If-Match of as many x's."""
    hook = await t.create(WEBHOOKS, {"url": RECEIVER})
    path, body = f"{WEBHOOKS}/{hook['id']}", b'{"name": "x"}'
    width = MAX_LINE - 100
    return Pair.fixed(
        t.request("PATCH", path, body, ("If-Match", '"1"' + " " * width + "x")),
        t.request("PATCH", path, body, ("If-Match", "x" * (width + 4))),
        {400},
    )


@case
async def deep_token(t: Target) -> Pair:
    """A bearer token whose header segment is nested ``[`` as far as one header line allows
    (the JSON decoder's recursion): refused with a 401. Twin: a header segment of ``a``."""

    def token(header: bytes) -> str:
        return base64.urlsafe_b64encode(header).decode().rstrip("=") + ".e30.c2ln"

    depth = (MAX_LINE - 200) * 3 // 4
    return Pair.fixed(
        RawRequest("GET", WEBHOOKS, [("Authorization", f"Bearer {token(b'[' * depth)}")]),
        RawRequest("GET", WEBHOOKS, [("Authorization", f"Bearer {token(b'a' * depth)}")]),
        {401},
    )


@case
async def huge_timestamp(t: Target) -> Pair:
    """A ``webhook-timestamp`` of digits as long as a header line may be, on an Ed25519
    inbound webhook, no credential: refused (401) without converting it. Twin: letters."""
    hook = await t.create(WEBHOOKS, ED25519.create_body())
    body, width = b'{"n": 2}', MAX_LINE - 100

    def build(n: int) -> tuple[RawRequest, RawRequest]:
        return (
            ed25519(hook["id"], body, f"ts-{n}", ("webhook-timestamp", "9" * width)),
            ed25519(hook["id"], body, f"ts-{n}", ("webhook-timestamp", "x" * width)),
        )

    return Pair(build, frozenset({401}))


@case
async def inbound_deep_payload(t: Target) -> Pair:
    """A correctly signed delivery whose body nests 1,000 arrays: readable, but too deep to
    publish as JSON; kept as text and accepted. Twin: a flat array of the same size."""
    hook = await t.create(WEBHOOKS, GITHUB.create_body())
    deep, flat = b"[" * 1000 + b"]" * 1000, b"[" + b"0," * 999 + b"0]"

    def build(n: int) -> tuple[RawRequest, RawRequest]:
        return github(hook["id"], deep, f"deep-{n}"), github(hook["id"], flat, f"flat-{n}")

    return Pair(build, frozenset({200, 202}) | CLIENT_ERRORS)


# --- the test --------------------------------------------------------------------------------


def _statuses(runs: Runs) -> str:
    return "/".join(label(s) for s in sorted(set(runs.statuses())))


def faults(pair: Pair, hostile: Runs, twin: Runs, healthy: bool) -> list[str]:
    """Why the case fails (nothing when it passes)."""
    found = []
    limit = twin.least.stall + ALLOWANCE_S
    if hostile.least.stall > limit:
        found.append(f"stalled {hostile.least.stall * 1000:.0f} ms > {limit * 1000:.0f} ms")
    wrong = sorted({s for s in hostile.statuses() if s not in pair.expected})
    if wrong:
        found.append("answered " + ", ".join(map(label, wrong)))
    if any(not 200 <= s < 500 for s in twin.statuses()):
        found.append("twin answered " + ", ".join(map(label, twin.statuses())))
    biggest = max(len(r.answer.body) for r in hostile.runs)
    if biggest > MAX_ANSWER:
        found.append(f"{biggest} bytes of answer")
    if any(r.probe_failures for r in hostile.runs):
        found.append("/healthz failed meanwhile")
    if not healthy:
        found.append("/healthz no longer answers")
    return found


def row(name: str, store: str, hostile: Runs, twin: Runs, found: list[str]) -> Row:
    least = hostile.least
    return Row(
        name, store, _statuses(hostile), _statuses(twin), least.stall * 1000,
        twin.least.stall * 1000, least.answer.seconds * 1000,
        max(len(r.answer.body) for r in hostile.runs) / 1000,
        "; ".join(found) or "ok",
    )  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
async def test_no_request_stalls_the_event_loop(target: Target, table: Table, name: str) -> None:
    """The case's hostile request stalls /healthz no longer than its twin (plus
    ``ALLOWANCE_S``), gets an expected answer of at most 100 KB, and the server still answers
    afterwards."""
    await check(target, table, name, await CASES[name](target))


async def check(target: Target, table: Table, name: str, pair: Pair) -> None:
    """Measure ``pair`` on ``target`` (twin first), add its row, and fail on any fault."""
    hostile, twin = pair.build(0)
    sizes = [len(r.encode("h")) for r in (hostile, twin)]
    assert abs(sizes[0] - sizes[1]) <= max(sizes) // 100, f"twin not the same size: {sizes}"
    twins = await repeat(lambda n: target.measure(pair.build(n)[1]))
    limit = twins.least.stall + ALLOWANCE_S
    hostiles = await repeat(lambda n: target.measure(pair.build(n)[0]), limit)
    found = faults(pair, hostiles, twins, await target.still_healthy())
    table.add(row(name, target.store, hostiles, twins, found))
    assert not found, f"{name} on {target.store}: " + "; ".join(found)
