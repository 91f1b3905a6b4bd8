"""Webhook rules (docs/api.md, docs/decisions.md), the retry policy, and secret material per
scheme."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hookwire.domain import webhook as wh
from hookwire.domain import webhook_requests as requests
from hookwire.domain.retry import RetryPolicy
from hookwire.errors import ValidationFailed
from hookwire.signing import keys
from tests import factories

URL = "https://receiver.example/hooks"
PAUSE = 7
OWNER = factories.principal(app="app-1")
SEED_FIELDS = set(
    "id tenant_id app_id created_at updated_at created_by updated_by source source_type "
    "is_deleted deleted_at deleted_by schema_version name direction url event_types "
    "signature_scheme vault_path headers enabled retry_policy last_delivery_at "
    "last_delivery_status consecutive_failures paused_at connector_id tags version "
    "application_id secret_fingerprint is_active".split()
)


def b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def check_create(body: Any) -> wh.WebhookDraft:
    """A create body read (its shape, at the edge) and checked (the rules, in the service)."""
    draft = requests.read_draft(body)
    wh.check_draft(draft, PAUSE)
    return draft


def check_patch(body: Any, current: wh.Webhook, pause: int = PAUSE) -> dict[str, Any]:
    """A PATCH body read and checked against ``current``: the fields it changes."""
    patch = requests.read_patch(body)
    wh.check_patch(patch, current, pause)
    return dict(patch.fields)


def paths_of(body: Any, current: wh.Webhook | None = None) -> set[str]:
    with pytest.raises(ValidationFailed) as info:
        if current is None:
            check_create(body)
        else:
            check_patch(body, current)
    assert all(e.path == "" or e.path.startswith("/") for e in info.value.errors)
    return {e.path for e in info.value.errors}


def built(fields: dict[str, Any], **kw: Any) -> wh.Webhook:
    args: dict[str, Any] = {
        "webhook_id": "wh_01JD3S7A2M8Q9X4T6V5B0C1N2P",
        "principal": OWNER,
        "now": factories.utcnow(),
        "vault_path": "hookwire/t/webhooks/wh_1",
        "secret_fingerprint": keys.fingerprint("whsec_x"),
        "public_key": None,
        "base_url": "https://hooks.example.test",
        "default_pause": PAUSE,
        **kw,
    }
    return wh.build(check_create(fields), **args)


def test_minimal_outbound_create_is_accepted_and_built() -> None:
    hook = built(
        {"url": URL, "event_types": ["rfp.*"], "tags": ["a"], "secret": "whsec_" + b64(32)}
    )
    assert (hook.tenant_id, hook.app_id, hook.created_by) == (OWNER.tenant_id, "app-1", OWNER.sub)
    assert hook.direction == "outbound" and hook.url == URL and hook.version == 1
    assert hook.event_types == ("rfp.*",) and hook.tags == ("a",)
    assert hook.retry_policy == RetryPolicy(pause_after_failures=PAUSE)
    assert hook.is_active
    assert "secret" not in hook.to_public()


def test_inbound_url_is_set_by_the_server() -> None:
    hook = built({"direction": "inbound", "signature_scheme": "stripe"}, webhook_id="wh_1")
    assert hook.url == "https://hooks.example.test/api/v1/inbound/wh_1"
    assert paths_of({"direction": "inbound", "url": URL}) == {"/url"}


INBOUND_HMAC = {"direction": "inbound", "signature_scheme": "hmac-sha256"}


def test_generic_hmac_options_are_kept_for_hmac_sha256_only() -> None:
    options = {"header": "X-Vendor-Sig", "encoding": "base64", "prefix": "sha256="}
    hook = built({**INBOUND_HMAC, "signature_options": options})
    assert hook.signature_options == options
    assert hook.to_public()["signature_options"] == options
    assert built(INBOUND_HMAC).signature_options == {}  # defaults: X-Signature, hex
    stripe = {"direction": "inbound", "signature_scheme": "stripe"}
    assert paths_of({**stripe, "signature_options": {"header": "X-A"}}) == {"/signature_options"}
    assert built({**stripe, "signature_options": {}}).signature_options == {}
    outbound = {"url": URL, "signature_scheme": "hmac-sha256"}
    assert paths_of(outbound) == {"/signature_scheme"}


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"header": "X Sig"}, "/signature_options/header"),
        ({"header": ""}, "/signature_options/header"),
        ({"encoding": "base32"}, "/signature_options/encoding"),
        ({"prefix": "x" * 33}, "/signature_options/prefix"),
        ({"prefix": "sha256=\n"}, "/signature_options/prefix"),
        ({"id_header": "X-Id:"}, "/signature_options/id_header"),
        ({"event_header": 7}, "/signature_options/event_header"),
        ({"timestamp_header": "X-Ts"}, "/signature_options/timestamp_header"),
    ],
)
def test_bad_generic_hmac_options_are_pointed_at(options: dict[str, Any], path: str) -> None:
    assert paths_of({**INBOUND_HMAC, "signature_options": options}) == {path}


def test_switching_away_from_hmac_sha256_needs_the_options_cleared() -> None:
    current = built({**INBOUND_HMAC, "signature_options": {"header": "X-A"}})
    assert paths_of({"signature_scheme": "github"}, current) == {"/signature_options"}
    changes = check_patch({"signature_scheme": "github", "signature_options": {}}, current, 1)
    assert wh.patched(current, changes, OWNER, factories.utcnow(), 1).signature_options == {}


def test_partial_retry_policy_gets_defaults() -> None:
    hook = built({"url": URL, "retry_policy": {"maxAttempts": 3, "backoff": "linear"}})
    assert hook.retry_policy.to_json() == {
        "maxAttempts": 3, "backoff": "linear", "initialDelayMs": 5000,
        "maxDelayMs": 36_000_000, "timeoutMs": 15000, "pauseAfterFailures": PAUSE,
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(wh.READ_ONLY_FIELDS))
def test_read_only_fields_are_refused_even_when_harmless(name: str) -> None:
    assert paths_of({"url": URL, name: None}) == {f"/{name}"}


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ([], {""}),
        ({"url": URL, "colour": "red"}, {"/colour"}),
        ({}, {"/url"}),
        ({"url": "ftp://receiver.example/"}, {"/url"}),
        ({"url": 5}, {"/url"}),
        ({"url": URL, "event_types": ["rfp created"]}, {"/event_types/0"}),
        ({"url": URL, "event_types": ["rfp.*\n"]}, {"/event_types/0"}),
        ({"url": URL, "event_types": ["a", "a"]}, {"/event_types"}),
        ({"url": URL, "headers": {"Content-Type": "x"}}, {"/headers/Content-Type"}),
        ({"url": URL, "headers": {"Webhook-Signature": "v1,x"}}, {"/headers/Webhook-Signature"}),
        ({"url": URL, "headers": {"X-A": "a\r\nB: c"}}, {"/headers/X-A"}),
        ({"url": URL, "headers": {"X-A": "a\n"}}, {"/headers/X-A"}),
        ({"url": URL, "headers": {"X-A\n": "a"}}, {"/headers"}),
        ({"url": URL, "signature_scheme": "slack"}, {"/signature_scheme"}),
        ({"url": URL, "signature_scheme": "md5"}, {"/signature_scheme"}),
        ({"url": URL, "secret": "whsec_short"}, {"/secret"}),
        ({"url": URL, "application_id": "not-a-uuid"}, {"/application_id"}),
        ({"url": URL, "retry_policy": {"maxAttempts": 0}}, {"/retry_policy/maxAttempts"}),
        ({"url": URL, "retry_policy": {"jitter": 1}}, {"/retry_policy/jitter"}),
        ({"url": URL, "retry_policy": {"maxDelayMs": 10}}, {"/retry_policy"}),
        ({"direction": "inbound", "headers": {"X-A": "1"}}, {"/headers"}),
        ({"direction": "inbound", "signature_scheme": keys.ED25519}, {"/secret"}),
        (
            {"direction": "inbound", "signature_scheme": keys.ED25519, "secret": "whsk_" + b64(32)},
            {"/secret"},
        ),
        ({"id": "wh_x", "url": 5, "event_types": ["a b"]}, {"/id", "/url", "/event_types/0"}),
    ],
)
def test_create_errors_carry_json_pointers(body: Any, paths: set[str]) -> None:
    assert paths_of(body) == paths


def test_detail_names_the_first_error_and_counts_the_rest() -> None:
    with pytest.raises(ValidationFailed) as info:
        check_create({"id": "x", "url": 5, "colour": 1})
    assert len(info.value.errors) == 3
    assert info.value.detail.endswith("(and 2 more)")
    assert info.value.extensions()["errors"][0].keys() == {"path", "message"}


@pytest.mark.parametrize(
    "body",
    [
        {"url": URL, "headers": {"X-Tenant": "acme"}, "envelope": "workspace"},
        {"url": URL, "signature_scheme": "github", "secret": "g" * 16},
        {"direction": "inbound", "signature_scheme": "slack", "secret": "s" * 256},
        {"direction": "inbound", "signature_scheme": keys.ED25519, "secret": "whpk_" + b64(32)},
        {"url": URL, "application_id": "123e4567-e89b-12d3-a456-426614174000", "name": None},
    ],
)
def test_valid_create_bodies(body: dict[str, Any]) -> None:
    draft = check_create(body)
    assert {k: getattr(draft, k) for k in body} == {
        k: tuple(v) if isinstance(v, list) else v for k, v in body.items()
    }


@pytest.fixture
def hook() -> wh.Webhook:
    return factories.webhook(OWNER, event_types=("a.*",), consecutive_failures=3)


def test_patch_returns_the_changes_without_version(hook: wh.Webhook) -> None:
    changes = check_patch({"name": "n", "event_types": [], "version": 1}, hook)
    assert changes == {"name": "n", "event_types": []}


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"id": "wh_x"}, {"/id"}),
        ({"secret": "whsec_" + b64(32)}, {"/secret"}),
        ({"version": 0}, {"/version"}),
        ({"direction": "inbound"}, {"/direction"}),
        ({"url": None}, {"/url"}),
        ({"url": "https://user:pw@receiver.example/"}, {"/url"}),
        ({"retry_policy": {"maxDelayMs": 1000}}, {"/retry_policy"}),
        ({"headers": {"Host": "evil.example"}}, {"/headers/Host"}),
    ],
)
def test_patch_errors(hook: wh.Webhook, body: dict[str, Any], paths: set[str]) -> None:
    assert paths_of(body, hook) == paths


def test_inbound_patch_may_not_set_url_or_headers() -> None:
    inbound = factories.webhook(OWNER, direction="inbound", url="https://h.test/api/v1/inbound/x")
    assert paths_of({"url": URL}, inbound) == {"/url"}
    assert paths_of({"headers": {"X-A": "1"}}, inbound) == {"/headers"}
    assert check_patch({"url": inbound.url, "name": "n"}, inbound) == {
        "url": inbound.url, "name": "n"
    }  # fmt: skip


def test_patched_stamps_and_converts(hook: wh.Webhook) -> None:
    editor = factories.principal(tenant=OWNER.tenant_id)
    later = hook.updated_at + timedelta(seconds=5)
    changes = {"event_types": ["b.*"], "retry_policy": {"maxAttempts": 2}, "name": "n"}
    after = wh.patched(hook, changes, editor, later, PAUSE)
    assert after.version == hook.version + 1
    assert (after.updated_at, after.updated_by) == (later, editor.sub)
    assert (after.created_at, after.created_by) == (hook.created_at, hook.created_by)
    assert after.event_types == ("b.*",) and after.name == "n"
    assert after.retry_policy == RetryPolicy(max_attempts=2, pause_after_failures=PAUSE)


def test_lifecycle_transitions(hook: wh.Webhook) -> None:
    t1, t2 = hook.updated_at + timedelta(seconds=1), hook.updated_at + timedelta(seconds=2)
    gone = wh.deleted(hook, OWNER, t1)
    assert (gone.is_deleted, gone.deleted_at, gone.deleted_by) == (True, t1, OWNER.sub)
    assert not gone.is_active and gone.version == hook.version + 1
    held = wh.paused(wh.paused(hook, OWNER, t1), OWNER, t2)
    assert held.paused_at == t1 and not held.is_active and held.version == hook.version + 2
    back = wh.resumed(held, OWNER, t2)
    assert back.paused_at is None and back.consecutive_failures == 0 and back.is_active
    new = wh.rotated(hook, OWNER, t1, keys.fingerprint("whsec_new"), "whpk_x")
    assert (new.secret_fingerprint, new.public_key) == (keys.fingerprint("whsec_new"), "whpk_x")
    assert new.version == hook.version + 1 and new.updated_at == t1


@pytest.mark.parametrize(
    ("enabled", "paused", "deleted", "active"),
    [(True, False, False, True), (False, False, False, False),
     (True, True, False, False), (True, False, True, False)],
)  # fmt: skip
def test_is_active(enabled: bool, paused: bool, deleted: bool, active: bool) -> None:
    at = factories.utcnow() if paused else None
    hook = factories.webhook(OWNER, enabled=enabled, paused_at=at, is_deleted=deleted)
    assert hook.is_active is active
    assert hook.to_public()["is_active"] is active


def test_to_public_has_exactly_the_seed_fields(hook: wh.Webhook) -> None:
    public = hook.to_public()
    extra = {"envelope", "public_key", "signature_options", "rejected_requests", "last_rejected_at",
             "rate_limit", "max_in_flight", "ordering"}  # fmt: skip
    assert set(public) == SEED_FIELDS | extra
    assert "secret" not in public
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", public["created_at"])
    assert public["event_types"] == ["a.*"] and public["retry_policy"]["maxAttempts"] == 8


def test_retry_policy_defaults_and_round_trip() -> None:
    assert RetryPolicy.from_json({}, 11) == RetryPolicy(pause_after_failures=11)
    policy = RetryPolicy(3, "fixed", 10, 20, 500, 4)
    assert RetryPolicy.from_json(policy.to_json(), 99) == policy
    assert RetryPolicy(initial_delay_ms=10, max_delay_ms=5).problem()
    assert RetryPolicy().problem() is None


def test_fingerprint_format() -> None:
    value = keys.fingerprint("whsec_abc")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", value)
    assert value == "sha256:" + hashlib.sha256(b"whsec_abc").hexdigest()


@pytest.mark.parametrize("scheme", keys.OUTBOUND_SCHEMES)
def test_generated_secrets_are_accepted(scheme: str) -> None:
    secret = keys.generate_secret(scheme)
    prefix = "whsk_" if scheme == keys.ED25519 else "whsec_"
    assert secret.startswith(prefix)
    assert len(base64.b64decode(secret[len(prefix) :], validate=True)) == 32
    assert keys.secret_problem(scheme, secret, inbound=False) is None
    assert keys.generate_secret(scheme) != secret


@pytest.mark.parametrize(
    ("scheme", "secret", "inbound", "ok"),
    [
        (keys.STANDARD, "whsec_" + b64(23), False, False),
        (keys.STANDARD, "whsec_" + b64(24), False, True),
        (keys.STANDARD, "whsec_" + b64(64), True, True),
        (keys.STANDARD, "whsec_" + b64(65), False, False),
        (keys.STANDARD, b64(32), False, False),
        (keys.STANDARD, "whsec_!!!not-base64!!!" * 3, False, False),
        ("github", "g" * 15, True, False),
        ("github", "g" * 16, True, True),
        ("stripe", "s" * 256, False, True),
        ("kombo", "k" * 257, False, False),
        ("slack", "s" * 10 + "\x00" + "s" * 10, True, False),
        ("shopify", "é" * 20, True, False),
        (keys.ED25519, "whsk_" + b64(32), False, True),
        (keys.ED25519, "whsk_" + b64(64), False, False),  # second half is not its public key
        (keys.ED25519, "whsk_" + b64(31), False, False),
        (keys.ED25519, "whpk_" + b64(32), False, False),
        (keys.ED25519, "whpk_" + b64(32), True, True),
        (keys.ED25519, "whsk_" + b64(32), True, False),
        (keys.ED25519, "whpk_" + b64(64), True, False),
    ],
)
def test_secret_problem(scheme: str, secret: str, inbound: bool, ok: bool) -> None:
    assert (keys.secret_problem(scheme, secret, inbound=inbound) is None) is ok


def test_public_key_matches_cryptography() -> None:
    seed = os.urandom(32)
    raw = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    expected = "whpk_" + base64.b64encode(raw).decode()
    secret = "whsk_" + base64.b64encode(seed).decode()
    assert keys.public_key(keys.ED25519, secret, inbound=False) == expected
    long_form = "whsk_" + base64.b64encode(seed + raw).decode()
    assert keys.secret_problem(keys.ED25519, long_form, inbound=False) is None
    assert keys.public_key(keys.ED25519, long_form, inbound=False) == expected
    assert keys.public_key(keys.ED25519, expected, inbound=True) == expected
    assert keys.public_key(keys.STANDARD, "whsec_" + b64(32), inbound=False) is None
