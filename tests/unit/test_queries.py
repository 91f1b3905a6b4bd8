"""Named SQL: ``:name`` → ``$n`` for PostgreSQL, and both dialects stay in step."""

from __future__ import annotations

import re

import pytest

from hookwire.domain import webhook
from hookwire.store import rows
from hookwire.store.migrations import migrations, pending
from hookwire.store.queries import Query, load

NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
NUMBERED = re.compile(r"\$(\d+)")


def sqlite_names(query: Query) -> set[str]:
    return set(NAMED.findall(query.text))


def test_postgres_parameters_are_numbered_in_order_of_first_use() -> None:
    query = load("postgres")["put_secret"]
    assert query.names == ("path", "ciphertext", "now")
    assert "VALUES ($1, $2, $3)" in query.text
    assert ":path" not in query.text and ":now" not in query.text


def test_a_repeated_name_reuses_its_number() -> None:
    query = load("postgres")["get_webhook"]
    assert query.names == ("id", "tenant_id", "app_id", "include_deleted")
    assert "($3::text IS NULL OR app_id = $3)" in query.text
    assert query.text.count("$3") == 2


def test_casts_are_left_alone() -> None:
    query = load("postgres")["insert_webhook"]
    event_types = query.names.index("event_types") + 1
    assert f"${event_types}::jsonb" in query.text
    assert query.text.count("::jsonb") == 6
    listing = load("postgres")["list_webhooks"]
    assert "::boolean" in listing.text and "::text" in listing.text


@pytest.mark.parametrize("name", sorted(load("postgres")))
def test_every_postgres_query_is_fully_numbered(name: str) -> None:
    query = load("postgres")[name]
    assert NAMED.findall(query.text) == []  # no :name left behind
    used = {int(n) for n in NUMBERED.findall(query.text)}
    assert used == set(range(1, len(query.names) + 1))
    assert len(set(query.names)) == len(query.names)


def test_args_follow_the_numbering() -> None:
    query = load("postgres")["put_secret"]
    params = {"now": "2026-01-01T00:00:00Z", "ciphertext": b"\x00", "path": "a/b", "extra": 1}
    assert query.args(params) == ["a/b", b"\x00", "2026-01-01T00:00:00Z"]
    assert Query("SELECT $1, $2", ("b", "a")).args({"a": 1, "b": 2}) == [2, 1]
    with pytest.raises(KeyError):
        query.args({"path": "a/b"})


def test_sqlite_keeps_named_parameters() -> None:
    query = load("sqlite")["get_secret"]
    assert ":path" in query.text
    assert "$" not in query.text
    assert query.names == ()


# Claiming differs by design: PostgreSQL claims in one statement with FOR UPDATE SKIP LOCKED;
# SQLite's single writer thread selects the due rows, then leases them. Publishing too:
# PostgreSQL inserts an event and its deliveries in one statement (one round trip); SQLite,
# in process, runs two.
DIALECT_ONLY = {
    "sqlite": {
        "due_deliveries",
        "insert_event",
        "insert_delivery",
    },
    "postgres": {"claim_due", "insert_event_with_deliveries"},
}
SHARED = sorted(set(load("sqlite")) - DIALECT_ONLY["sqlite"])


def test_both_dialects_have_the_same_queries() -> None:
    assert (
        set(load("sqlite")) - DIALECT_ONLY["sqlite"]
        == set(load("postgres")) - DIALECT_ONLY["postgres"]
    )
    assert DIALECT_ONLY["sqlite"] <= set(load("sqlite"))
    assert DIALECT_ONLY["postgres"] <= set(load("postgres"))
    assert {"insert_webhook", "update_webhook", "get_webhook", "list_webhooks"} <= set(
        load("sqlite")
    )


@pytest.mark.parametrize("name", SHARED)
def test_both_dialects_take_the_same_parameters(name: str) -> None:
    sqlite, postgres = load("sqlite")[name], load("postgres")[name]
    assert sqlite.text and postgres.text
    assert sqlite_names(sqlite) == set(postgres.names)


def test_queries_do_not_bleed_into_each_other() -> None:
    for dialect in ("sqlite", "postgres"):
        for query in load(dialect).values():
            assert "-- name:" not in query.text
            assert query.text.count(";") <= 1


def test_migrations_match_across_dialects() -> None:
    sqlite = [m.name for m in migrations("sqlite")]
    postgres = [m.name for m in migrations("postgres")]
    assert sqlite == postgres
    assert sqlite == sorted(sqlite)
    assert sqlite and all(re.fullmatch(r"\d{4}_\w+", name) for name in sqlite)
    for dialect in ("sqlite", "postgres"):
        assert "CREATE TABLE" in migrations(dialect)[0].sql.upper()


def test_pending_skips_applied_migrations() -> None:
    names = [m.name for m in migrations("sqlite")]
    assert [m.name for m in pending("sqlite", set())] == names
    assert pending("sqlite", set(names)) == []
    assert [m.name for m in pending("postgres", set(names[:1]))] == names[1:]


def named_text(dialect: str, name: str) -> str:
    """The statement with ``:name`` parameters, whatever the dialect."""
    query = load(dialect)[name]
    return NUMBERED.sub(lambda m: ":" + query.names[int(m.group(1)) - 1], query.text)


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_a_persons_update_writes_exactly_the_columns_it_owns(dialect: str) -> None:
    """``update_webhook`` copies every column of ``rows.UPDATED`` from its parameter of the
    same name, and touches the engine's columns only through the pause transition."""
    assignments = re.split(r"\bSET\b|\bWHERE\b", named_text(dialect, "update_webhook"))[1]
    written = re.findall(r"(?:^|,)\s*(\w+) = (:?\w+)", assignments, re.M)
    copied = {column for column, value in written if value == ":" + column}
    assert copied == rows.UPDATED
    assert {column for column, _ in written} - copied <= webhook.ENGINE_FIELDS
