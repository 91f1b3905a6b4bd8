"""Properties of both stores: keyset pages skip and repeat nothing while rows are inserted
meanwhile, and the SQL that matches event-type patterns agrees with the Python rule."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from hookwire.domain import patterns
from hookwire.domain.delivery import fan_out
from hookwire.domain.event import Event
from hookwire.domain.filters import EventQuery, WebhookQuery
from hookwire.ids import new_id
from hookwire.store.base import Store
from tests import factories

PAGE = 7


async def every_page(fetch: Callable[[str | None], Awaitable[Sequence[Any]]]) -> list[str]:
    """The ids of every page, newest first, each page read after the one before it."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        seen += [row.id for row in page]
        if len(page) < PAGE:
            return seen
        cursor = page[-1].id
        await asyncio.sleep(0)


async def test_paging_under_concurrent_inserts_skips_and_repeats_nothing(store: Store) -> None:
    """New rows have higher ids, so they can only land on pages already read: every row that
    existed when paging began appears once, in order, however the inserts interleave."""
    owner = factories.principal()
    before = [factories.webhook(owner) for _ in range(60)]
    for hook in before:
        await store.insert_webhook(hook)

    async def insert_more() -> None:
        for _ in range(60):
            await store.insert_webhook(factories.webhook(owner))
            await asyncio.sleep(0)

    writer = asyncio.create_task(insert_more())
    seen = await every_page(
        lambda before: store.list_webhooks(owner, WebhookQuery(limit=PAGE, before_id=before))
    )
    await writer
    assert len(seen) == len(set(seen)), "a row was repeated"
    existed = {h.id for h in before}
    assert [i for i in seen if i in existed] == sorted(existed, reverse=True), "a row was skipped"


async def test_events_page_without_gaps_while_events_are_published(store: Store) -> None:
    owner = factories.principal()

    async def publish(n: int) -> None:
        for _ in range(n):
            event = Event(new_id("evt"), owner.tenant_id, "webhook_test", 1, {"test": True},
                          factories.utcnow())  # fmt: skip
            await store.publish(event, lambda c: [], None)
            await asyncio.sleep(0)

    await publish(40)
    existing = [e.id for e in await store.list_events(owner, EventQuery(limit=200))]
    writer = asyncio.create_task(publish(40))
    seen = await every_page(
        lambda before: store.list_events(owner, EventQuery(limit=PAGE, before_id=before))
    )
    await writer
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in set(existing)] == existing


ALPHABET = "ab_.:-"


def ids() -> str:
    return new_id("dlv")


async def test_the_stores_match_patterns_as_the_python_rule_does(store: Store) -> None:
    """``_`` and ``.`` are literal in SQL too (LIKE and GLOB have their own wildcards)."""
    rng = random.Random(8)
    owner = factories.principal()
    made = []
    for _ in range(40):
        pattern = "".join(rng.choice(ALPHABET + "*") for _ in range(rng.randint(1, 5)))
        hook = factories.webhook(owner, event_types=(pattern,))
        await store.insert_webhook(hook)
        made.append(hook)
    names = {"".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6))) for _ in range(60)}
    for name in sorted(names):
        expected = {h.id for h in made if patterns.matches(h.event_types[0], name)}
        listed = await store.list_webhooks(owner, WebhookQuery(limit=200, event_type=name))
        assert {w.id for w in listed} == expected, name
        event = Event(new_id("evt"), owner.tenant_id, name, 1, {}, factories.utcnow())
        published = await store.publish(event, functools.partial(fan_out, event, new_id=ids), None)
        assert {d.webhook_id for d in published.deliveries or ()} == expected, name
