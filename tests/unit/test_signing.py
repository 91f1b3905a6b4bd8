"""Signature schemes (docs/signing.md, docs/decisions.md): round trips, refusals, rotation, vendor
vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook

from hookwire.errors import ConfigurationError, SignatureInvalid
from hookwire.signing.base import MAX_SIGNATURES, Message
from hookwire.signing.keys import ALL_SCHEMES, ED25519, STANDARD, public_key, secret_problem
from hookwire.signing.registry import SCHEMES, get_scheme, scheme_for
from tests.vendors import (
    ED_KEY,
    ED_SIG,
    GITHUB_BODY,
    GITHUB_SECRET,
    GITHUB_SIG,
    SLACK_BODY,
    SLACK_SECRET,
    SLACK_SIG,
    SLACK_TS,
    SW_BODY,
    SW_ID,
    SW_SECRET,
    SW_SIG,
    SW_TS,
)

NOW = 1_700_000_000
BODY = b'{"id":"evt_1","type":"test.event","data":{"n":1}}'
MSG = Message("msg_1", NOW, BODY)
NAMES = sorted(SCHEMES)
TIMESTAMPED = sorted({STANDARD, ED25519, "stripe", "slack"})
MULTI = {STANDARD, ED25519, "stripe"}
IDS = {STANDARD: "msg_1", ED25519: "msg_1", "github": "msg_1", "shopify": "msg_1"}
IDS |= {"stripe": "evt_1", "kombo": "", "slack": "", "hmac-sha256": ""}
HEADERS = {
    STANDARD: {"webhook-id", "webhook-timestamp", "webhook-signature"},
    ED25519: {"webhook-id", "webhook-timestamp", "webhook-signature"},
    "kombo": {"X-Kombo-Signature"},
    "github": {"X-Hub-Signature-256", "X-GitHub-Delivery"},
    "stripe": {"Stripe-Signature"},
    "slack": {"X-Slack-Request-Timestamp", "X-Slack-Signature"},
    "shopify": {"X-Shopify-Hmac-Sha256", "X-Shopify-Event-Id", "X-Shopify-Webhook-Id"},
    "hmac-sha256": {"X-Signature"},
}
OPTIONAL = {"X-GitHub-Delivery", "X-Shopify-Event-Id", "X-Shopify-Webhook-Id"}  # ids, unsigned
REQUIRED = [(name, h) for name in NAMES for h in sorted(HEADERS[name] - OPTIONAL)]
ARABIC_NOW = "".join(chr(0x660 + int(d)) for d in str(NOW))  # int() accepts these
GARBAGE = [
    *("", " ", ",", "=", "v1", "v1,", "v1a,", "v1,!!!!", "v1a,????", "v1,AAAA", "v2,AAAA"),
    "v1a," + "A" * 88,
    "v1a," + base64.b64encode(bytes(64)).decode(),
    *("t=abc", "t=,v1=", "t=1,v1=zz", "t=-5,v1=00", f"t={NOW}", f"t={NOW},v1=zz", "v1=" + "0" * 64),
    *("sha256=zz", "sha256=", "sha256=" + "0" * 64, "v0=zz", "v0=", "not base64 at all", "%%%"),
    *("é漢字", "v1,é漢字", "v1a,é漢字", "\udcff", "v1,\udcff", "\x00", "1e9", "+1700000000"),
    *("9" * 5000, "t=" + "9" * 5000, "1700000000x", ARABIC_NOW, "t=" + ARABIC_NOW),
]


def pair(name: str, n: int) -> tuple[str, str]:
    """(secret to sign with, secret to verify with) number ``n`` for ``name``."""
    seed = bytes([n]) * 32
    if name == STANDARD:
        return ("whsec_" + base64.b64encode(seed).decode(),) * 2
    if name == ED25519:
        key = "whsk_" + base64.b64encode(seed).decode()
        public = public_key(ED25519, key, inbound=False)
        assert public is not None
        return key, public
    return (f"shared-secret-{n}-{name}-0123456789",) * 2


def new(name: str) -> tuple[str, str]:
    return pair(name, 1)


def old(name: str) -> tuple[str, str]:
    return pair(name, 2)


def other(name: str) -> tuple[str, str]:
    return pair(name, 3)


def refused(name: str, headers: dict[str, str], body: bytes = BODY) -> SignatureInvalid:
    """The SignatureInvalid (and nothing else) that verifying with the current secret raises."""
    with pytest.raises(SignatureInvalid) as caught:
        SCHEMES[name].verify(headers, body, [new(name)[1]], NOW)
    return caught.value


# --- registry and secrets ---------------------------------------------------------------------


def test_registry_has_every_scheme_under_its_own_name() -> None:
    assert set(SCHEMES) == set(ALL_SCHEMES)
    assert all(SCHEMES[name].name == name and get_scheme(name) is SCHEMES[name] for name in NAMES)
    with pytest.raises(KeyError):
        get_scheme("webhook-magic")


@pytest.mark.parametrize("name", NAMES)
def test_test_secrets_have_the_stored_formats(name: str) -> None:
    signing, verifying = new(name)
    assert secret_problem(name, signing, inbound=False) is None
    assert secret_problem(name, verifying, inbound=True) is None


# --- round trip, any header case, canonical names ---------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0]])
    assert set(headers) == HEADERS[name]
    got = SCHEMES[name].verify(headers, BODY, [new(name)[1]], NOW)
    assert got == Message(IDS[name], NOW, BODY)


@pytest.mark.parametrize("name", NAMES)
def test_header_lookup_ignores_case(name: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0]])
    for case in (str.lower, str.upper, str.title):
        got = SCHEMES[name].verify(
            {case(k): v for k, v in headers.items()}, BODY, [new(name)[1]], NOW
        )
        assert got.id == IDS[name]


@pytest.mark.parametrize("name", ["kombo", "github", "shopify", "hmac-sha256"])
def test_untimestamped_schemes_return_now(name: str) -> None:
    headers = SCHEMES[name].sign(Message("", 5, BODY), [new(name)[0]])
    assert (
        SCHEMES[name].verify(headers, BODY, [new(name)[1]], NOW + 10_000).timestamp == NOW + 10_000
    )


@pytest.mark.parametrize("name", NAMES)
def test_signing_without_a_secret_is_a_programming_error(name: str) -> None:
    with pytest.raises(ValueError):
        SCHEMES[name].sign(MSG, [])


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_tampered_body_is_refused(name: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0]])
    for body in (BODY + b" ", BODY.replace(b"1", b"2"), b"", BODY[:-1]):
        refused(name, headers, body)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_secret_or_none_is_refused(name: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0]])
    for secrets in ([other(name)[1]], []):
        with pytest.raises(SignatureInvalid):
            SCHEMES[name].verify(headers, BODY, secrets, NOW)


@pytest.mark.parametrize(("name", "header"), REQUIRED)
def test_missing_header_is_refused(name: str, header: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0]])
    del headers[header]
    assert header in str(refused(name, headers))


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
@pytest.mark.parametrize(("name", "header"), REQUIRED)
def test_malformed_header_is_refused_never_crashes(name: str, header: str, garbage: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0]])
    refused(name, {**headers, header: garbage})


def test_stripe_refuses_a_header_with_two_timestamps() -> None:
    header = SCHEMES["stripe"].sign(MSG, [new("stripe")[0]])["Stripe-Signature"]
    refused("stripe", {"Stripe-Signature": f"t={NOW}," + header})


def test_symmetric_and_asymmetric_signatures_are_not_interchangeable() -> None:
    ed = SCHEMES[ED25519].sign(MSG, [new(ED25519)[0]])
    hm = SCHEMES[STANDARD].sign(MSG, [new(STANDARD)[0]])
    refused(STANDARD, {**hm, "webhook-signature": ed["webhook-signature"].replace("v1a,", "v1,")})
    refused(ED25519, {**ed, "webhook-signature": hm["webhook-signature"].replace("v1,", "v1a,")})


@pytest.mark.parametrize(
    ("name", "label"), [(STANDARD, "v1a,"), (STANDARD, "v2,"), (ED25519, "v1,")]
)
def test_a_valid_signature_under_another_version_label_is_refused(name: str, label: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0]])
    relabelled = label + headers["webhook-signature"].partition(",")[2]
    refused(name, {**headers, "webhook-signature": relabelled})


@pytest.mark.parametrize("name", NAMES)
def test_refusals_never_reveal_secrets_or_signatures(name: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0]])
    expected = SCHEMES[name].sign(Message(MSG.id, NOW, b"tampered"), [new(name)[0]])
    message = str(refused(name, headers, b"tampered"))
    assert new(name)[0] not in message and new(name)[1] not in message
    assert not any(v in message for v in (*headers.values(), *expected.values()) if len(v) > 12)


@pytest.mark.parametrize(
    ("name", "secret"), [(STANDARD, "whsec_!!!!"), (ED25519, "whpk_AAAA"), (ED25519, "whsec_AAAA")]
)
def test_unusable_stored_keys_are_configuration_errors(name: str, secret: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0]])
    with pytest.raises(ConfigurationError) as caught:
        SCHEMES[name].verify(headers, BODY, [secret], NOW)
    assert secret not in str(caught.value)


# --- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300])
@pytest.mark.parametrize("name", TIMESTAMPED)
def test_timestamps_within_tolerance_are_accepted(name: str, offset: int) -> None:
    headers = SCHEMES[name].sign(Message("msg_1", NOW + offset, BODY), [new(name)[0]])
    assert SCHEMES[name].verify(headers, BODY, [new(name)[1]], NOW).timestamp == NOW + offset


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 10**9])
@pytest.mark.parametrize("name", TIMESTAMPED)
def test_stale_and_future_timestamps_are_refused(name: str, offset: int) -> None:
    headers = SCHEMES[name].sign(Message("msg_1", NOW + offset, BODY), [new(name)[0]])
    refused(name, headers)


@pytest.mark.parametrize("name", TIMESTAMPED)
def test_tolerance_is_a_parameter(name: str) -> None:
    headers = SCHEMES[name].sign(Message("msg_1", NOW - 400, BODY), [new(name)[0]])
    assert SCHEMES[name].verify(headers, BODY, [new(name)[1]], NOW, tolerance=400)
    with pytest.raises(SignatureInvalid):
        SCHEMES[name].verify(headers, BODY, [new(name)[1]], NOW, tolerance=399)


# --- rotation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MULTI))
def test_rotation_signs_with_every_secret(name: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0], old(name)[0]])
    signatures = headers.get("webhook-signature", "").split()
    assert len(signatures or headers["Stripe-Signature"].split(",")[1:]) == 2
    for secrets in ([old(name)[1]], [new(name)[1]], [other(name)[1], old(name)[1]]):
        assert SCHEMES[name].verify(headers, BODY, secrets, NOW).body == BODY
    with pytest.raises(SignatureInvalid):
        SCHEMES[name].verify(headers, BODY, [other(name)[1]], NOW)


@pytest.mark.parametrize("name", sorted(MULTI))
@pytest.mark.parametrize("position", [1, MAX_SIGNATURES, MAX_SIGNATURES + 1])
def test_only_the_first_signatures_of_a_header_are_tried(name: str, position: int) -> None:
    """A header may list several signatures; at most MAX_SIGNATURES are checked, so a list of
    thousands costs no more than five (each Ed25519 check costs about 50 us)."""
    keys = [other(name)[0]] * (position - 1) + [new(name)[0]]
    headers = SCHEMES[name].sign(MSG, keys)
    if position <= MAX_SIGNATURES:
        assert SCHEMES[name].verify(headers, BODY, [new(name)[1]], NOW).body == BODY
    else:
        refused(name, headers)


@pytest.mark.parametrize("name", sorted(set(NAMES) - MULTI))
def test_single_signature_schemes_sign_with_the_current_secret(name: str) -> None:
    headers = SCHEMES[name].sign(MSG, [new(name)[0], old(name)[0]])
    assert headers == SCHEMES[name].sign(MSG, [new(name)[0]])
    assert SCHEMES[name].verify(headers, BODY, [old(name)[1], new(name)[1]], NOW).body == BODY
    with pytest.raises(SignatureInvalid):
        SCHEMES[name].verify(headers, BODY, [old(name)[1]], NOW)


# --- vendor vectors and independent implementations -------------------------------------------

GITHUB = (GITHUB_SECRET, GITHUB_BODY)
SW_MSG = Message(SW_ID, SW_TS, SW_BODY)


def test_github_documented_vector() -> None:
    secret, body = GITHUB
    assert SCHEMES["github"].sign(Message("", NOW, body), [secret]) == {
        "X-Hub-Signature-256": GITHUB_SIG
    }
    got = SCHEMES["github"].verify({"x-hub-signature-256": GITHUB_SIG}, body, [secret], NOW)
    assert got == Message("", NOW, body)


def test_slack_documented_vector() -> None:
    headers = SCHEMES["slack"].sign(Message("", SLACK_TS, SLACK_BODY), [SLACK_SECRET])
    assert headers == {"X-Slack-Request-Timestamp": str(SLACK_TS), "X-Slack-Signature": SLACK_SIG}
    got = SCHEMES["slack"].verify(headers, SLACK_BODY, [SLACK_SECRET], SLACK_TS + 60)
    assert got == Message("", SLACK_TS, SLACK_BODY)


def test_standard_webhooks_reference_vector() -> None:
    headers = SCHEMES[STANDARD].sign(SW_MSG, [SW_SECRET])
    assert headers == {
        "webhook-id": SW_MSG.id,
        "webhook-timestamp": str(SW_MSG.timestamp),
        "webhook-signature": SW_SIG,
    }
    assert SCHEMES[STANDARD].verify(headers, SW_MSG.body, [SW_SECRET], SW_MSG.timestamp) == SW_MSG
    # Several entries, unknown versions among them (as the reference multi-signature test).
    noisy = f"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,AAAA {SW_SIG} v1,bm9wZQ=="
    assert SCHEMES[STANDARD].verify(
        {**headers, "webhook-signature": noisy}, SW_MSG.body, [SW_SECRET], SW_MSG.timestamp
    )


def test_standard_webhooks_package_accepts_ours_and_we_accept_its() -> None:
    now = int(time.time())
    secret, previous = new(STANDARD)[0], old(STANDARD)[0]
    ours = SCHEMES[STANDARD].sign(Message("msg_ours", now, BODY), [secret, previous])
    assert Webhook(secret).verify(BODY, ours) == json.loads(BODY)
    assert Webhook(previous).verify(BODY, ours) == json.loads(BODY)
    theirs = Webhook(secret).sign("msg_theirs", datetime.fromtimestamp(now, UTC), BODY.decode())
    headers = {
        "Webhook-Id": "msg_theirs",
        "Webhook-Timestamp": str(now),
        "Webhook-Signature": theirs,
    }
    assert SCHEMES[STANDARD].verify(headers, BODY, [secret], now) == Message(
        "msg_theirs", now, BODY
    )


def test_ed25519_reference_vector() -> None:
    headers = SCHEMES[ED25519].sign(SW_MSG, [ED_KEY])
    assert headers["webhook-signature"] == ED_SIG
    public = public_key(ED25519, ED_KEY, inbound=False)
    assert public is not None and public.startswith("whpk_")
    for key in (public, ED_KEY):  # a whsk_ key verifies too (through its public half)
        assert SCHEMES[ED25519].verify(headers, SW_MSG.body, [key], SW_MSG.timestamp) == SW_MSG


def test_ed25519_signature_checks_out_with_cryptography() -> None:
    key, public = new(ED25519)
    signature = SCHEMES[ED25519].sign(MSG, [key])["webhook-signature"]
    version, _, encoded = signature.partition(",")
    assert version == "v1a"
    verifier = Ed25519PublicKey.from_public_bytes(base64.b64decode(public.removeprefix("whpk_")))
    verifier.verify(base64.b64decode(encoded), f"{MSG.id}.{MSG.timestamp}.".encode() + MSG.body)
    # The 64-byte seed + public form of the signing key signs identically.
    seed_and_public = base64.b64decode(key[5:]) + verifier.public_bytes_raw()
    long_key = "whsk_" + base64.b64encode(seed_and_public).decode()
    assert secret_problem(ED25519, long_key, inbound=False) is None
    assert SCHEMES[ED25519].sign(MSG, [long_key]) == {
        "webhook-id": MSG.id,
        "webhook-timestamp": str(MSG.timestamp),
        "webhook-signature": signature,
    }


def _hmac(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), data, hashlib.sha256).digest()


def test_stripe_by_the_documented_rule() -> None:
    secret, previous = "whsec_stripe_is_not_base64_decoded", "whsec_the_previous_one_0001"
    header = SCHEMES["stripe"].sign(MSG, [secret, previous])["Stripe-Signature"]
    assert re.fullmatch(r"t=\d+(,v1=[0-9a-f]{64}){2}", header)
    v1 = [_hmac(s, f"{NOW}.".encode() + BODY).hex() for s in (secret, previous)]
    assert header == f"t={NOW},v1={v1[0]},v1={v1[1]}"
    assert (
        SCHEMES["stripe"].verify({"stripe-signature": header}, BODY, [previous], NOW).id == "evt_1"
    )


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"id": 7}', b'{"object": "event"}'])
def test_stripe_message_id_is_empty_without_a_string_id(body: bytes) -> None:
    headers = SCHEMES["stripe"].sign(Message("", NOW, body), [new("stripe")[0]])
    assert SCHEMES["stripe"].verify(headers, body, [new("stripe")[1]], NOW).id == ""


def test_kombo_by_the_documented_rule() -> None:
    secret = new("kombo")[0]
    header = SCHEMES["kombo"].sign(MSG, [secret])["X-Kombo-Signature"]
    assert header == base64.urlsafe_b64encode(_hmac(secret, BODY)).decode().rstrip("=")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", header)


def test_shopify_by_the_documented_rule() -> None:
    secret = new("shopify")[0]
    headers = SCHEMES["shopify"].sign(MSG, [secret])
    assert headers["X-Shopify-Hmac-Sha256"] == base64.b64encode(_hmac(secret, BODY)).decode()
    assert headers["X-Shopify-Webhook-Id"] == headers["X-Shopify-Event-Id"] == "msg_1"


def test_shopify_dedupes_by_the_event_id_then_the_webhook_id() -> None:
    secret = new("shopify")[0]
    signature = SCHEMES["shopify"].sign(MSG, [secret])["X-Shopify-Hmac-Sha256"]
    both = {"X-Shopify-Hmac-Sha256": signature, "X-Shopify-Event-Id": "e-1"}
    both["X-Shopify-Webhook-Id"] = "w-1"
    assert SCHEMES["shopify"].verify(both, BODY, [secret], NOW).id == "e-1"
    del both["X-Shopify-Event-Id"]
    assert SCHEMES["shopify"].verify(both, BODY, [secret], NOW).id == "w-1"


# --- hmac-sha256: the generic scheme, configured per webhook -------------------------------------

GENERIC_SECRET = "vendor-generated-secret-0001"


@pytest.mark.parametrize(
    ("options", "value"),
    [
        ({}, _hmac(GENERIC_SECRET, BODY).hex()),
        ({"encoding": "hex", "prefix": "sha256="}, "sha256=" + _hmac(GENERIC_SECRET, BODY).hex()),
        ({"encoding": "base64"}, base64.b64encode(_hmac(GENERIC_SECRET, BODY)).decode()),
        ({"encoding": "base64url"}, base64.urlsafe_b64encode(_hmac(GENERIC_SECRET, BODY)).decode()),
    ],
)
def test_generic_hmac_signs_and_verifies_as_configured(options: dict[str, str], value: str) -> None:
    scheme = scheme_for("hmac-sha256", {"header": "X-Vendor-Sig", **options})
    assert scheme.sign(MSG, [GENERIC_SECRET]) == {"X-Vendor-Sig": value}
    assert scheme.verify({"x-vendor-sig": value}, BODY, [GENERIC_SECRET], NOW).body == BODY
    with pytest.raises(SignatureInvalid):
        scheme.verify({"x-vendor-sig": value}, BODY + b" ", [GENERIC_SECRET], NOW)
    with pytest.raises(SignatureInvalid):
        scheme.verify({"X-Signature": value}, BODY, [GENERIC_SECRET], NOW)  # not the header


def test_generic_hmac_hex_ignores_letter_case_and_base64url_padding() -> None:
    digest = _hmac(GENERIC_SECRET, BODY)
    upper = scheme_for("hmac-sha256", {"prefix": "sha256="})
    assert upper.verify(
        {"X-Signature": "SHA256=" + digest.hex().upper()}, BODY, [GENERIC_SECRET], 0
    )
    url = scheme_for("hmac-sha256", {"encoding": "base64url"})
    bare = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert url.verify({"X-Signature": bare}, BODY, [GENERIC_SECRET], NOW)
    plain = scheme_for("hmac-sha256", {"encoding": "base64"})
    with pytest.raises(SignatureInvalid):  # standard base64 is exact
        plain.verify(
            {"X-Signature": base64.b64encode(digest).decode()[:-1]}, BODY, [GENERIC_SECRET], 0
        )


def test_generic_hmac_reads_the_delivery_id_from_the_configured_header() -> None:
    scheme = scheme_for("hmac-sha256", {"id_header": "X-Delivery"})
    headers = scheme.sign(Message("dlv-9", NOW, BODY), [GENERIC_SECRET])
    assert headers["X-Delivery"] == "dlv-9"
    assert scheme.verify(headers, BODY, [GENERIC_SECRET], NOW).id == "dlv-9"
    del headers["X-Delivery"]
    assert scheme.verify(headers, BODY, [GENERIC_SECRET], NOW).id == ""


def test_scheme_for_gives_the_presets_whatever_the_options() -> None:
    assert scheme_for("github", {}) is SCHEMES["github"]
    assert scheme_for("hmac-sha256", {}) is SCHEMES["hmac-sha256"]
    with pytest.raises(KeyError):
        scheme_for("webhook-magic", {"header": "X"})
