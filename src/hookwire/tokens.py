"""JWT bearer tokens (docs/concepts.md "Tenants and tokens"): verification for the API, minting for
``hookwire token``.

HS256 with ``JWT_SECRET``, or RS256/ES256 with ``JWT_PUBLIC_KEY`` (the algorithm follows the
key type, so a token can never choose a weaker one and ``alg: none`` is always refused).
Minting with an asymmetric key needs ``JWT_PRIVATE_KEY``. Every token must carry ``exp`` and a
well-formed ``tenant_id``; ``iss`` is checked when configured, and ``aud`` always: a token that
names an audience is refused unless ``JWT_AUDIENCE`` is set and matches (it was minted for
another service sharing the key).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from hookwire.domain.principal import Principal
from hookwire.errors import AuthenticationFailed, ConfigurationError
from hookwire.settings import Settings
from hookwire.timeutil import utcnow

TENANT_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_OPTIONAL_CLAIM_MAX: Final = 200
LEEWAY_S: Final = 30
CACHE_SIZE: Final = 4096


def _algorithm(settings: Settings) -> tuple[str, Any]:
    """(algorithm, verification key) for the configured key."""
    if settings.jwt_secret:
        return "HS256", settings.jwt_secret
    if not settings.jwt_public_key:
        raise ConfigurationError("set HOOKWIRE_JWT_SECRET or HOOKWIRE_JWT_PUBLIC_KEY")
    try:
        key = load_pem_public_key(settings.jwt_public_key.encode())
    except ValueError as exc:
        raise ConfigurationError("HOOKWIRE_JWT_PUBLIC_KEY is not a PEM public key") from exc
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256", key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256", key
    raise ConfigurationError("HOOKWIRE_JWT_PUBLIC_KEY must be an RSA or P-256 EC key")


def _claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= _OPTIONAL_CLAIM_MAX:
        raise AuthenticationFailed(f"the token's {name} claim is malformed")
    return value


class TokenVerifier:
    """Turns a bearer token into a :class:`Principal`, or raises AuthenticationFailed.

    A verified token is remembered (the exact string, up to CACHE_SIZE of them, oldest evicted
    first) until its ``exp`` + leeway: a client sends the same token on every request, and
    checking its signature and claims again costs more than the rest of a publish's
    authentication. Only tokens that passed every check are remembered; a changed byte is
    another string, verified in full.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._algorithm, self._key = _algorithm(settings)
        self._clock = clock
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        return self.verify_until(token)[0]

    def verify_until(self, token: str) -> tuple[Principal, float]:
        """The principal and the unix time until which the token is good (``exp`` + leeway):
        the dashboard's session cookie lasts as long."""
        known = self._verified.get(token)
        if known is not None:
            if self._clock() <= known[1]:
                return known
            del self._verified[token]
            raise AuthenticationFailed("the token has expired")
        principal, expires = self._check(token)
        if len(self._verified) >= CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, expires + LEEWAY_S)
        return principal, expires + LEEWAY_S

    def _check(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp"]},  # with no audience set, a token with aud fails
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationFailed("the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthenticationFailed(f"the token is not valid: {exc}") from exc
        if self._audience is None and "aud" in claims:  # PyJWT lets an empty one through
            raise AuthenticationFailed("the token is not valid: it names an audience")
        tenant = claims.get("tenant_id")
        if not isinstance(tenant, str) or not TENANT_RE.fullmatch(tenant):
            raise AuthenticationFailed("the token has no valid tenant_id claim")
        principal = Principal(
            tenant_id=tenant, sub=_claim(claims, "sub"), app_id=_claim(claims, "app_id")
        )
        return principal, float(claims["exp"])


def can_mint(settings: Settings) -> bool:
    """Whether this configuration holds a key to sign tokens with: not where only an
    identity provider's public key is set (it mints, hookwire verifies)."""
    return bool(settings.jwt_secret or settings.jwt_private_key)


def mint(
    settings: Settings,
    tenant_id: str,
    *,
    sub: str | None = None,
    app_id: str | None = None,
    ttl: timedelta = timedelta(hours=1),
) -> str:
    """A signed token for ``tenant_id`` with the configured key."""
    if not TENANT_RE.fullmatch(tenant_id):
        raise ConfigurationError(f"tenant id must match {TENANT_RE.pattern}")
    algorithm, _ = _algorithm(settings)
    if algorithm == "HS256":
        signing_key: Any = settings.jwt_secret
    elif settings.jwt_private_key:
        signing_key = settings.jwt_private_key
    else:
        raise ConfigurationError("minting with a public key needs HOOKWIRE_JWT_PRIVATE_KEY")
    now = utcnow()
    claims: dict[str, Any] = {"tenant_id": tenant_id, "iat": now, "exp": now + ttl}
    optional = {
        "sub": sub,
        "app_id": app_id,
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
    }
    claims.update({k: v for k, v in optional.items() if v is not None})
    return jwt.encode(claims, signing_key, algorithm=algorithm)


_TTL_RE: Final = re.compile(r"^(\d+)([smhd])$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``30d``."""
    match = _TTL_RE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration like 15m, 1h or 7d, got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
