"""The executor port: the few steps a flow asks a database for, and the two ways to drive it.

A flow (``store/flows.py``) is a generator that yields steps and gets each step's result back,
so every multi-statement transaction is written once, with no I/O of its own. Each adapter is
an executor: it runs a step on its own connection (``sqlite3`` synchronously on the writer
thread or a reader, ``asyncpg`` asynchronously) and sends the result back into the flow. Rows
come back as plain values (lists and dicts, bools, aware datetimes), whatever the dialect.

The steps are the primitives every adapter must have, plus one that is truly dialect-specific:
inserting an event with its deliveries (one locked statement on PostgreSQL, see there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from hookwire.domain.delivery import Delivery
from hookwire.domain.event import Event

T = TypeVar("T")
Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Fetch:
    """Run the named statement; its rows, as plain values."""

    name: str
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Execute:
    """Run the named statement; how many rows it changed."""

    name: str
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ExecuteMany:
    """Run the named statement once per parameter set; nothing."""

    name: str
    batch: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class FetchMany:
    """Run the named statement once per parameter set (PostgreSQL: pipelined in one round
    trip); every row of every run, in order."""

    name: str
    batch: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class InsertEvent:
    """Insert the event and its deliveries; the deliveries as written (a waiting delivery's
    status follows its webhook's state when the statement ran)."""

    event: Event
    deliveries: Sequence[Delivery]


Step = Fetch | Execute | ExecuteMany | FetchMany | InsertEvent
Flow = Generator[Step, Any, T]


def fetch(name: str, params: Mapping[str, Any]) -> Flow[list[Row]]:
    return cast(list[Row], (yield Fetch(name, params)))


def execute(name: str, params: Mapping[str, Any]) -> Flow[int]:
    return cast(int, (yield Execute(name, params)))


def execute_many(name: str, batch: Sequence[Mapping[str, Any]]) -> Flow[None]:
    if batch:
        yield ExecuteMany(name, batch)


def fetch_many(name: str, batch: Sequence[Mapping[str, Any]]) -> Flow[list[Row]]:
    if not batch:
        return []
    return cast(list[Row], (yield FetchMany(name, batch)))


def insert_event(event: Event, deliveries: Sequence[Delivery]) -> Flow[list[Delivery]]:
    return cast(list[Delivery], (yield InsertEvent(event, deliveries)))


def one(name: str, params: Mapping[str, Any]) -> Flow[Row | None]:
    """The first row of the named statement, if any."""
    found = yield from fetch(name, params)
    return found[0] if found else None


def drive(flow: Flow[T], run: Callable[[Step], Any]) -> T:
    """Run ``flow`` to its end, each step by ``run`` (a synchronous executor)."""
    try:
        step = next(flow)
        while True:
            step = flow.send(run(step))
    except StopIteration as done:
        return cast(T, done.value)


async def drive_async(flow: Flow[T], run: Callable[[Step], Awaitable[Any]]) -> T:
    """Run ``flow`` to its end, each step awaited by ``run`` (an asynchronous executor)."""
    try:
        step = next(flow)
        while True:
            step = flow.send(await run(step))
    except StopIteration as done:
        return cast(T, done.value)
