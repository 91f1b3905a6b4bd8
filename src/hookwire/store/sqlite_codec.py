"""Values between hookwire and SQLite, and SQLite's executor of flow steps.

SQLite keeps JSON as text and times as RFC 3339 text; a column's name says which
(``rows.JSON_COLUMNS``, ``rows.TIME_COLUMNS``). A parameter that is a list or a dict is JSON
text too (``json_each(:ids)``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from hookwire.domain.delivery import Delivery
from hookwire.store import rows
from hookwire.store.queries import load
from hookwire.store.rows import JSON_COLUMNS, TIME_COLUMNS
from hookwire.store.steps import Execute, ExecuteMany, Fetch, FetchMany, InsertEvent, Step
from hookwire.timeutil import iso, parse_iso

Q = load("sqlite")


_JSON_VALUES = (list, dict, tuple)


def encode(params: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values -> SQLite values (one loop, no call per value: the writer's hot path)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name in JSON_COLUMNS or isinstance(value, _JSON_VALUES):
            out[name] = orjson.dumps(value).decode()
        elif isinstance(value, datetime):
            out[name] = iso(value)
        else:
            out[name] = value
    return out


def decode(row: sqlite3.Row) -> dict[str, Any]:
    """A fetched row -> plain values."""
    values = dict(row)
    for name in JSON_COLUMNS & values.keys():
        values[name] = orjson.loads(values[name])
    for name in TIME_COLUMNS & values.keys():
        if values[name] is not None:
            values[name] = parse_iso(values[name])
    return values


def run(conn: sqlite3.Connection, step: Step) -> Any:
    """Run one step of a flow on ``conn``."""
    match step:
        case Fetch(name, params):
            return [decode(row) for row in conn.execute(Q[name].text, encode(params))]
        case Execute(name, params):
            return conn.execute(Q[name].text, encode(params)).rowcount
        case ExecuteMany(name, batch):
            conn.executemany(Q[name].text, [encode(params) for params in batch])
            return None
        case FetchMany(name, batch):
            text = Q[name].text
            return [decode(row) for params in batch for row in conn.execute(text, encode(params))]
        case InsertEvent(event, deliveries):
            conn.execute(Q["insert_event"].text, encode(rows.event_to_row(event)))
            # The writer is alone: each delivery is written as fan-out chose, in one batch, but
            # for a gated one, which FIFO may make wait: that one is read back as written.
            insert = Q["insert_delivery"].text
            conn.executemany(insert, [encode(rows.delivery_to_row(d)) for d in deliveries
                                      if not d.gated])  # fmt: skip
            return [_written(conn, insert, d) if d.gated else d for d in deliveries]
    raise TypeError(f"not a step: {step!r}")


def _written(conn: sqlite3.Connection, insert: str, delivery: Delivery) -> Delivery:
    """Insert one delivery; it as written (``RETURNING status, gated, next_attempt_at``)."""
    row = conn.execute(insert, encode(rows.delivery_to_row(delivery))).fetchone()
    return rows.as_written(delivery, *row)
