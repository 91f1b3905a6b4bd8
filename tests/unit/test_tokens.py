"""JWT bearer tokens (docs/concepts.md "Tenants and tokens"): what the API accepts, what it
refuses, and what it mints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hookwire.domain.principal import Principal
from hookwire.errors import AuthenticationFailed, ConfigurationError
from hookwire.settings import Settings
from hookwire.tokens import CACHE_SIZE, TokenVerifier, mint, parse_ttl

SECRET = secrets.token_urlsafe(32)
HS = Settings(jwt_secret=SECRET)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def pem_pair(key: PrivateKey) -> tuple[str, str]:
    """(public PEM, private PEM) of a generated key."""
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return public.decode(), private.decode()


@pytest.fixture(scope="module")
def rsa_pems() -> tuple[str, str]:
    return pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_pems() -> tuple[str, str]:
    return pem_pair(ec.generate_private_key(ec.SECP256R1()))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def in_(seconds: int) -> int:
    return int(datetime.now(UTC).timestamp()) + seconds


def hs_token(claims: dict[str, Any], key: str = SECRET) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def claims(**extra: Any) -> dict[str, Any]:
    return {"tenant_id": "acme", "exp": in_(600), **extra}


def refused(settings: Settings, token: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as info:
        TokenVerifier(settings).verify(token)
    assert token not in str(info.value)
    return info.value


def test_hs256_round_trip_gives_the_principal() -> None:
    token = mint(HS, "acme", sub="user-7", app_id="app-1")
    assert TokenVerifier(HS).verify(token) == Principal("acme", sub="user-7", app_id="app-1")
    assert TokenVerifier(HS).verify(mint(HS, "acme")) == Principal("acme", None, None)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_asymmetric_round_trip(
    kind: str, rsa_pems: tuple[str, str], ec_pems: tuple[str, str]
) -> None:
    public, private = rsa_pems if kind == "rsa" else ec_pems
    settings = Settings(jwt_public_key=public, jwt_private_key=private)
    token = mint(settings, "acme", sub="s", app_id="a")
    assert jwt.get_unverified_header(token)["alg"] == ("RS256" if kind == "rsa" else "ES256")
    assert TokenVerifier(settings).verify(token) == Principal("acme", "s", "a")
    assert TokenVerifier(Settings(jwt_public_key=public)).verify(token).tenant_id == "acme"


def test_token_signed_by_another_key_is_refused(rsa_pems: tuple[str, str]) -> None:
    refused(HS, hs_token(claims(), key=secrets.token_urlsafe(32)))
    _, other_private = pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    forged = jwt.encode(claims(), other_private, algorithm="RS256")
    refused(Settings(jwt_public_key=rsa_pems[0]), forged)


def test_es256_token_is_refused_by_an_rs256_verifier(
    rsa_pems: tuple[str, str], ec_pems: tuple[str, str]
) -> None:
    token = jwt.encode(claims(), ec_pems[1], algorithm="ES256")
    refused(Settings(jwt_public_key=rsa_pems[0]), token)


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(alg: str, rsa_pems: tuple[str, str]) -> None:
    token = unsigned({"alg": alg, "typ": "JWT"}, claims()) + "."
    refused(HS, token)
    refused(Settings(jwt_public_key=rsa_pems[0]), token)


def test_hs256_signed_with_the_public_key_is_refused_by_rs256(rsa_pems: tuple[str, str]) -> None:
    public = rsa_pems[0]
    signing_input = unsigned({"alg": "HS256", "typ": "JWT"}, claims())
    mac = hmac.new(public.encode(), signing_input.encode(), hashlib.sha256).digest()
    error = refused(Settings(jwt_public_key=public), signing_input + "." + b64url(mac))
    assert "BEGIN PUBLIC KEY" not in error.detail


def test_expiry_has_a_30_second_leeway() -> None:
    assert TokenVerifier(HS).verify(hs_token(claims(exp=in_(-10)))).tenant_id == "acme"
    error = refused(HS, hs_token(claims(exp=in_(-60))))
    assert "expired" in error.detail


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    now = [float(in_(0))]
    verifier = TokenVerifier(HS, clock=lambda: now[0])
    token = hs_token(claims(exp=in_(-20)))  # within the 30 s leeway: accepted
    assert verifier.verify(token).tenant_id == "acme"
    assert verifier.verify(token).tenant_id == "acme"  # remembered
    now[0] += 11  # 31 s past exp
    with pytest.raises(AuthenticationFailed, match="expired"):
        verifier.verify(token)


def test_a_changed_copy_of_a_remembered_token_is_verified_in_full() -> None:
    verifier = TokenVerifier(HS)
    token = hs_token(claims())
    assert verifier.verify(token).tenant_id == "acme"
    head, _body, signature = token.split(".")
    forged_body = b64url(json.dumps(claims(tenant_id="globex")).encode())
    for forged in (f"{head}.{forged_body}.{signature}", token + "A", token[:-1]):
        with pytest.raises(AuthenticationFailed):
            verifier.verify(forged)
    assert verifier.verify(token).tenant_id == "acme"


def test_the_remembered_tokens_are_bounded() -> None:
    verifier = TokenVerifier(HS)
    tokens = [hs_token(claims(sub=f"user-{n}")) for n in range(CACHE_SIZE + 10)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._verified) == CACHE_SIZE
    assert tokens[0] not in verifier._verified  # oldest evicted first
    assert verifier.verify(tokens[0]).sub == "user-0"


def test_minted_token_expires_after_its_ttl() -> None:
    token = mint(HS, "acme", ttl=timedelta(minutes=15))
    decoded = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert decoded["exp"] - decoded["iat"] == 15 * 60
    error = refused(HS, mint(HS, "acme", ttl=timedelta(seconds=-120)))
    assert "expired" in error.detail


def test_token_without_exp_is_refused() -> None:
    refused(HS, hs_token({"tenant_id": "acme"}))


@pytest.mark.parametrize(
    "tenant",
    [None, 42, ["acme"], "", "../etc", "x" * 200, "x" * 129, "a b", "-acme", "acme/1"],
)
def test_malformed_tenant_is_refused(tenant: object) -> None:
    body = claims() if tenant is None else claims(tenant_id=tenant)
    if tenant is None:
        del body["tenant_id"]
    assert "tenant_id" in refused(HS, hs_token(body)).detail


@pytest.mark.parametrize("tenant", ["acme", "t_1.a:b@c-d", "x" * 128, "0"])
def test_well_formed_tenants_are_accepted(tenant: str) -> None:
    assert TokenVerifier(HS).verify(hs_token(claims(tenant_id=tenant))).tenant_id == tenant


def test_tenant_with_trailing_newline_is_refused() -> None:
    refused(HS, hs_token(claims(tenant_id="acme\n")))
    with pytest.raises(ConfigurationError):
        mint(HS, "acme\n")


@pytest.mark.parametrize(
    "extra", [{"sub": 5}, {"sub": ""}, {"sub": "x" * 201}, {"app_id": ["a"]}, {"app_id": True}]
)
def test_malformed_sub_or_app_id_is_refused(extra: dict[str, Any]) -> None:
    refused(HS, hs_token(claims(**extra)))


AUD = Settings(jwt_secret=SECRET, jwt_audience="hookwire-api", jwt_issuer="https://idp.example")


def test_configured_audience_and_issuer_are_checked() -> None:
    good = claims(aud="hookwire-api", iss="https://idp.example")
    assert TokenVerifier(AUD).verify(hs_token(good)).tenant_id == "acme"
    for bad in (
        {**good, "aud": "other-api"},
        {**good, "iss": "https://evil.example"},
        {k: v for k, v in good.items() if k != "aud"},
        {k: v for k, v in good.items() if k != "iss"},
    ):
        refused(AUD, hs_token(bad))


def test_mint_puts_audience_and_issuer_in() -> None:
    token = mint(AUD, "acme")
    unverified = jwt.decode(token, options={"verify_signature": False})
    assert unverified["aud"] == "hookwire-api"
    assert unverified["iss"] == "https://idp.example"
    assert TokenVerifier(AUD).verify(token).tenant_id == "acme"


@pytest.mark.parametrize("aud", ["anything", ["a", "b"], ""])
def test_without_configured_audience_a_token_with_aud_is_refused(aud: object) -> None:
    """A token minted for another service (its ``aud``) must not open this one because this
    one names no audience; a token without ``aud`` still works."""
    with pytest.raises(AuthenticationFailed, match="audience"):
        TokenVerifier(HS).verify(hs_token(claims(aud=aud)))
    assert TokenVerifier(HS).verify(hs_token(claims())).tenant_id == "acme"


def test_secret_and_public_key_together_are_a_configuration_error(
    rsa_pems: tuple[str, str],
) -> None:
    with pytest.raises(ConfigurationError):
        Settings(jwt_secret=SECRET, jwt_public_key=rsa_pems[0]).check()


def test_unusable_public_keys_are_configuration_errors(rsa_pems: tuple[str, str]) -> None:
    p384, _ = pem_pair(ec.generate_private_key(ec.SECP384R1()))
    ed, _ = pem_pair(ed25519.Ed25519PrivateKey.generate())
    for key in ("not a pem key", rsa_pems[1], p384, ed):
        with pytest.raises(ConfigurationError):
            TokenVerifier(Settings(jwt_public_key=key))
    with pytest.raises(ConfigurationError):
        TokenVerifier(Settings())


def test_minting_with_only_a_public_key_is_a_configuration_error(
    rsa_pems: tuple[str, str],
) -> None:
    with pytest.raises(ConfigurationError, match="PRIVATE_KEY"):
        mint(Settings(jwt_public_key=rsa_pems[0]), "acme")


def test_minting_for_a_malformed_tenant_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        mint(HS, "../etc")


def test_failure_messages_never_contain_the_token_or_the_key(rsa_pems: tuple[str, str]) -> None:
    public, private = rsa_pems
    rs = Settings(jwt_public_key=public)
    cases = [
        (HS, hs_token(claims(), key=secrets.token_urlsafe(32))),
        (HS, hs_token(claims(exp=in_(-3600)))),
        (HS, "garbage." + b64url(SECRET.encode()) + ".x"),
        (HS, b64url(b"\xff\xfe") + "." + b64url(b"{}") + ".sig"),
        (AUD, hs_token(claims(aud="other"))),
        (rs, hs_token(claims())),
        (rs, jwt.encode(claims(tenant_id=""), private, algorithm="RS256")),
    ]
    for settings, token in cases:
        error = refused(settings, token)
        for text in (str(error), error.detail, repr(error)):
            assert token not in text
            assert SECRET not in text
            assert "PRIVATE KEY" not in text and "PUBLIC KEY" not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        (" 2h ", timedelta(hours=2)),
    ],
)
def test_parse_ttl(text: str, expected: timedelta) -> None:
    assert parse_ttl(text) == expected


@pytest.mark.parametrize("text", ["", "1w", "0h", "h", "-1h", "1.5h", "1h30m", "10"])
def test_parse_ttl_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ttl(text)
