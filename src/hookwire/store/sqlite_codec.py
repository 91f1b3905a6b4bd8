"""Values between hookwire and SQLite: JSON as text, times as RFC 3339 text, rows to objects."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from hookwire.domain.delivery import Candidate, Delivery
from hookwire.domain.webhook import Webhook
from hookwire.store import rows
from hookwire.store.queries import load
from hookwire.timeutil import iso, parse_iso

Q = load("sqlite")


def plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def encode(table: rows.Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values -> SQLite values: JSON as text, times as RFC 3339 text."""
    out = {name: plain(value) for name, value in row.items()}
    for name in table.json & out.keys():
        out[name] = orjson.dumps(out[name]).decode()
    return out


def decode(table: rows.Table, row: sqlite3.Row) -> dict[str, Any]:
    values = dict(row)
    for name in table.json & values.keys():
        values[name] = orjson.loads(values[name])
    for name in table.time & values.keys():
        if values[name] is not None:
            values[name] = parse_iso(values[name])
    return values


def webhook_of(row: sqlite3.Row) -> Webhook:
    return rows.webhook_from_row(decode(rows.WEBHOOKS, row))


def candidate_of(row: sqlite3.Row) -> Candidate:
    return rows.candidate_from_row(decode(rows.WEBHOOKS, row))


def delivery_of(row: sqlite3.Row) -> Delivery:
    return rows.delivery_from_row(decode(rows.DELIVERIES, row))
