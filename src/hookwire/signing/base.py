"""The signing interface, the helpers every scheme shares and the body-only HMAC scheme.

Every verification failure is :class:`~hookwire.errors.SignatureInvalid`; its message names the
header at fault, never a secret or an expected signature. HMAC is ``hmac.digest`` (SHA-256) and
every comparison ``hmac.compare_digest``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from hookwire.errors import SignatureInvalid

Headers = Mapping[str, str]
Secrets = Sequence[str]
# A sender signs with one secret, two or three during a rotation: more are not tried, so a
# header of thousands of signatures costs no more than five (Ed25519 checks cost ~50 us each).
MAX_SIGNATURES: Final = 5


@dataclass(frozen=True, slots=True)
class Message:
    id: str  # webhook-id / provider delivery id; "" when the scheme has none
    timestamp: int  # unix seconds
    body: bytes


class Scheme(Protocol):
    name: str

    def sign(self, message: Message, secrets: Secrets) -> dict[str, str]:
        """Signature headers; ``secrets`` = [current, previous...]."""
        ...

    def verify(
        self, headers: Headers, body: bytes, secrets: Secrets, now: int, tolerance: int = 300
    ) -> Message:
        """The verified message (header names in any case), or SignatureInvalid."""
        ...


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def signing(secrets: Secrets) -> Secrets:
    if not secrets:
        raise ValueError("no secret to sign with")
    return secrets


def header(headers: Headers, name: str, *, required: bool = True) -> str:
    """The stripped ASCII value of ``name`` in any letter case; "" or SignatureInvalid if absent."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted and value.strip():
            if not value.isascii():
                raise SignatureInvalid(f"malformed {name} header")
            return value.strip()
    if required:
        raise SignatureInvalid(f"missing {name} header")
    return ""


def timestamp(raw: str, name: str, now: int, tolerance: int) -> int:
    """Unix seconds (ASCII digits) no more than ``tolerance`` seconds from ``now``."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        raise SignatureInvalid(f"malformed {name}")
    if abs(int(raw) - now) > tolerance:
        raise SignatureInvalid(f"{name} is more than {tolerance} seconds from now")
    return int(raw)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def b64decode(value: str) -> bytes | None:
    """Strict standard base64, or None."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def tried(signatures: Sequence[str]) -> Sequence[str]:
    """The signatures of a header that are checked: the first MAX_SIGNATURES."""
    return signatures[:MAX_SIGNATURES]


def any_equal(expected: Sequence[str], given: Sequence[str]) -> bool:
    """Whether one of ``given`` is one of ``expected``, comparing every pair in constant time."""
    found = False
    for want in expected:
        for got in given:
            found |= hmac.compare_digest(want.encode(), got.encode())
    return found


def _body(ts: int, body: bytes) -> bytes:
    return body


def _same(value: str) -> str:
    return value


@dataclass(slots=True)
class HeaderHmac:
    """``header: encode(HMAC-SHA256(UTF-8 secret, signed(timestamp, body)))``; one signature
    (``secrets[0]`` signs). The timestamp is in ``ts_header`` when the scheme has one (else it
    is ``now``); the delivery id is in the first of ``id_headers`` present (else ""). Both
    signatures pass through ``normalize`` before they are compared (lowercase hex)."""

    name: str
    header: str
    encode: Callable[[bytes], str]
    signed: Callable[[int, bytes], bytes] = _body
    ts_header: str = ""
    id_headers: tuple[str, ...] = ()
    normalize: Callable[[str], str] = _same

    def _sig(self, secret: str, ts: int, body: bytes) -> str:
        return self.encode(hmac_sha256(secret.encode(), self.signed(ts, body)))

    def sign(self, message: Message, secrets: Secrets) -> dict[str, str]:
        headers = {self.header: self._sig(signing(secrets)[0], message.timestamp, message.body)}
        if self.ts_header:
            headers[self.ts_header] = str(message.timestamp)
        if message.id:
            headers.update(dict.fromkeys(self.id_headers, message.id))
        return headers

    def verify(
        self, headers: Headers, body: bytes, secrets: Secrets, now: int, tolerance: int = 300
    ) -> Message:
        ts = now
        if self.ts_header:
            ts = timestamp(header(headers, self.ts_header), self.ts_header, now, tolerance)
        given = self.normalize(header(headers, self.header))
        expected = [self.normalize(self._sig(s, ts, body)) for s in secrets]
        if not any_equal(expected, [given]):
            raise SignatureInvalid(f"{self.header} does not match")
        found = (header(headers, name, required=False) for name in self.id_headers)
        return Message(next((value for value in found if value), ""), ts, body)
