"""Properties (hypothesis) of the pure rules: the retry schedule, event-type patterns, the
delivered envelopes, and the round trip of every signature scheme."""

from __future__ import annotations

import base64
import fnmatch
import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hookwire.domain import envelope, patterns
from hookwire.domain.event import Event
from hookwire.domain.retry import JITTER, RetryPolicy, backoff_ms
from hookwire.errors import SignatureInvalid
from hookwire.signing import keys
from hookwire.signing.base import Message
from hookwire.signing.registry import SCHEMES

NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_.:-"

# --- the retry schedule (docs/concepts.md "Retries") ----------------------------------------------

policies = st.builds(
    RetryPolicy,
    backoff=st.sampled_from(["exponential", "linear", "fixed"]),
    initial_delay_ms=st.integers(0, 86_400_000),
    max_delay_ms=st.integers(0, 604_800_000),
).filter(lambda p: p.problem() is None)


@given(policies, st.integers(1, 100), st.floats(-JITTER, JITTER))
def test_a_retry_waits_the_capped_delay_within_the_jitter(
    policy: RetryPolicy, retry: int, jitter: float
) -> None:
    factor = {"exponential": 2 ** (retry - 1), "linear": retry, "fixed": 1}[policy.backoff]
    capped = min(policy.initial_delay_ms * factor, policy.max_delay_ms)
    waited = backoff_ms(policy, retry, jitter)
    assert math.floor(capped * (1 - JITTER)) - 1 <= waited <= math.ceil(capped * (1 + JITTER)) + 1
    assert waited <= policy.max_delay_ms * (1 + JITTER) + 1


@given(policies, st.integers(1, 99))
def test_without_jitter_waits_never_shrink(policy: RetryPolicy, retry: int) -> None:
    assert backoff_ms(policy, retry, 0.0) <= backoff_ms(policy, retry + 1, 0.0)


# --- event-type patterns: `*` is the only wildcard ----------------------------------------------

names = st.text(NAME_CHARS, min_size=1, max_size=40)


@given(names, st.data())
def test_a_type_matches_any_pattern_cut_from_it(name: str, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(0, len(name)), max_size=4)))
    pieces, start = [], 0
    for n, cut in enumerate(cuts):  # replace alternate slices with "*"
        pieces.append(name[start:cut] if n % 2 == 0 else "*")
        start = cut
    pieces.append(name[start:])
    pattern = "".join(pieces)
    assume(patterns.PATTERN_RE.fullmatch(pattern))
    assert patterns.matches(pattern, name)


@given(st.text(NAME_CHARS + "*", min_size=1, max_size=20), names)
def test_matching_agrees_with_fnmatch_on_this_alphabet(pattern: str, name: str) -> None:
    """fnmatch's only other wildcards, ``?`` and ``[``, are not in the alphabet."""
    assert patterns.matches(pattern, name) is fnmatch.fnmatchcase(name, pattern)
    assert patterns.matches_any([], name)


@given(st.text("ab*", min_size=1, max_size=12), st.text("ab", max_size=16))
def test_matching_agrees_with_fnmatch_where_parts_overlap(pattern: str, name: str) -> None:
    """Two letters make stars, prefixes and suffixes overlap as often as they can: the
    left-to-right search (linear time) must still agree with fnmatch (a regex)."""
    assert patterns.matches(pattern, name) is fnmatch.fnmatchcase(name, pattern)


# --- envelopes ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
events = st.builds(
    Event,
    id=st.just("evt_01JD3S7A2M8Q9X4T6V5B0C1N2P"),
    tenant_id=st.text(NAME_CHARS, min_size=1, max_size=10),
    type=names,
    type_version=st.integers(1, 9),
    data=json_values,
    created_at=st.just(datetime(2026, 11, 30, tzinfo=UTC)),
    customer_id=st.none() | st.text(max_size=10),
    state=st.none() | st.text(max_size=10),
)


@given(events)
def test_envelopes_are_compact_json_of_exactly_their_shape(event: Event) -> None:
    shapes: dict[str, dict[str, Any]] = {
        "event": {"id": event.id, "type": event.type, "data": event.data},
        "workspace": {"workspace_id": event.tenant_id, "customer_id": event.customer_id,
                      "event": event.type, "state": event.state, "payload": event.data},
    }  # fmt: skip
    for kind, shape in shapes.items():
        body = envelope.render(event, kind)
        assert orjson.loads(body) == shape
        assert body == orjson.dumps(shape) == envelope.render(event, kind)  # compact, stable


# --- every signature scheme signs what it verifies, and nothing else --------------------------


def secret_for(scheme: str, seed: bytes) -> tuple[str, str]:
    """(signing secret, verifying secret) of ``scheme`` made from 32 seed bytes."""
    if scheme == keys.STANDARD:
        return ("whsec_" + base64.b64encode(seed).decode(),) * 2
    if scheme == keys.ED25519:
        signing = "whsk_" + base64.b64encode(seed).decode()
        public = keys.public_key(keys.ED25519, signing, inbound=False)
        assert public is not None
        return signing, public
    return ("secret-" + seed.hex(),) * 2


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(
    body=st.binary(max_size=300),
    message_id=st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=30),
    seed=st.binary(min_size=32, max_size=32),
    flip=st.integers(0, 10_000),
)
def test_every_scheme_verifies_what_it_signed_and_refuses_a_changed_body(
    scheme: str, body: bytes, message_id: str, seed: bytes, flip: int
) -> None:
    signing, verifying = secret_for(scheme, seed)
    now = 1_700_000_000
    headers = SCHEMES[scheme].sign(Message(message_id, now, body), [signing])
    verified = SCHEMES[scheme].verify(headers, body, [verifying], now)
    assert verified.body == body
    changed = bytearray(body or b"\x00")
    changed[flip % len(changed)] ^= 1 << (flip % 8)
    if bytes(changed) != body:
        with pytest.raises(SignatureInvalid):
            SCHEMES[scheme].verify(headers, bytes(changed), [verifying], now)
