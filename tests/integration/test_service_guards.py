"""The services check typed input as the edges check JSON: a caller that builds a draft or a
patch itself (the dashboard, a library user through ``Client.services``, a future edge) meets
the same rules and gets the same 422, on both stores, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from hookwire.catalog.builtin import load_builtin
from hookwire.domain.event import EventDraft
from hookwire.domain.event_type import EventTypeDraft, EventTypePatch
from hookwire.domain.filters import WebhookQuery
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import WebhookDraft, WebhookPatch
from hookwire.domain.webhook_requests import read_draft
from hookwire.errors import BadRequest, ValidationFailed
from hookwire.services.container import Services

ACME = Principal("acme", sub="user-1")
URL = "https://hooks.example.com/in"


def pointers(exc: ValidationFailed) -> set[str]:
    return {error.path for error in exc.errors}


async def test_a_hand_built_draft_meets_the_create_rules(services: Services) -> None:
    draft = WebhookDraft(
        url=URL,
        headers={"Host": "evil.test", "X-A": "a\r\nInjected: 1"},
        event_types=("**[",),
        tags=("",),
    )
    with pytest.raises(ValidationFailed) as caught:
        await services.webhooks.create(ACME, draft)
    assert pointers(caught.value) >= {"/headers/Host", "/headers/X-A", "/tags/0"}
    assert any(p.startswith("/event_types") for p in pointers(caught.value))
    assert (await services.webhooks.list(ACME, WebhookQuery(), None)).items == []


async def test_a_hand_built_patch_cannot_write_what_hookwire_sets(services: Services) -> None:
    created = await services.webhooks.create(ACME, WebhookDraft(url=URL))
    webhook = created.webhook
    forged: dict[str, Any] = {"is_deleted": True, "secret_fingerprint": "forged", "version": 9}
    with pytest.raises(ValidationFailed) as caught:
        await services.webhooks.update(ACME, webhook.id, WebhookPatch(forged), webhook.version)
    assert pointers(caught.value) == {"/is_deleted", "/secret_fingerprint", "/version"}
    stored = await services.webhooks.get(ACME, webhook.id)
    assert (stored.is_deleted, stored.secret_fingerprint) == (False, webhook.secret_fingerprint)
    with pytest.raises(ValidationFailed) as caught:
        patch = WebhookPatch({"headers": {"Webhook-Signature": "v1,forged"}})
        await services.webhooks.update(ACME, webhook.id, patch, webhook.version)
    assert pointers(caught.value) == {"/headers/Webhook-Signature"}


async def test_a_hand_built_event_meets_the_publish_rules(services: Services) -> None:
    data = load_builtin()["integration-state-changed"].example
    with pytest.raises(BadRequest):
        await services.events.publish(ACME, EventDraft("integration-state-changed", data), "é")
    with pytest.raises(ValidationFailed) as caught:
        await services.events.publish(ACME, EventDraft("", data, tags=("",)))
    assert pointers(caught.value) == {"/type", "/tags/0"}
    with pytest.raises(ValidationFailed) as caught:
        await services.events.publish(ACME, EventDraft("integration-state-changed", None))
    assert pointers(caught.value) == {"/data"}


async def test_a_hand_built_event_type_meets_the_catalog_rules(services: Services) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await services.event_types.create(ACME, EventTypeDraft("bad name!", {"type": "object"}))
    assert pointers(caught.value) == {"/name"}
    await services.event_types.create(ACME, EventTypeDraft("order.paid", {"type": "object"}))
    with pytest.raises(ValidationFailed) as caught:
        patch = EventTypePatch(description="x" * 2001)
        await services.event_types.update(ACME, "order.paid", patch)
    assert pointers(caught.value) == {"/description"}


@pytest.mark.parametrize(
    "body",
    [
        {"url": URL},
        {"url": URL, "name": "n", "event_types": ["integration-*"], "tags": ["a", "b"],
         "headers": {"X-Team": "core"}, "retry_policy": {"maxAttempts": 3}, "enabled": False},
        {"direction": "inbound", "signature_scheme": "github", "secret": "s" * 24},
    ],
)  # fmt: skip
def test_a_draft_reads_back_from_its_json(body: dict[str, Any]) -> None:
    draft = read_draft(body)
    assert read_draft(draft.to_json()) == draft
