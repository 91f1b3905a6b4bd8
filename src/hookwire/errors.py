"""The one exception tree of hookwire.

Every error a caller can see is a :class:`HookwireError`. Each carries the HTTP status and a
problem ``slug`` so that the API boundary turns it into ``application/problem+json`` without
knowing the individual classes; the CLI and the Python client catch the same classes.

    HookwireError
    ├── ConfigurationError          settings or keys are unusable (process does not start)
    ├── BadRequest           400    the body is not JSON
    ├── AuthenticationFailed 401    missing, forged, expired or malformed token
    │   └── SignatureInvalid         an inbound webhook's signature does not verify
    ├── Forbidden            403    this caller may not do it (an app token, a foreign form)
    ├── NotFound             404    no such resource for this tenant (other tenants' rows too)
    ├── VersionConflict      409    If-Match / version is stale; carries current_version
    ├── Conflict             409    any other state conflict
    ├── PayloadTooLarge      413
    ├── ValidationFailed     422    rule violations, each with a JSON Pointer
    ├── PreconditionRequired 428    PATCH without If-Match or version
    ├── HeadersTooLarge      431    too many header fields, or too long
    └── BackendUnavailable   503    the store or the secret backend failed
        ├── StoreUnavailable
        └── SecretBackendUnavailable
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    """One broken rule: ``path`` is a JSON Pointer relative to the request body."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class HookwireError(Exception):
    """Base of every error hookwire raises on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> Mapping[str, Any]:
        """Extra members of the problem document."""
        return {}


class ConfigurationError(HookwireError):
    slug = "configuration"
    title = "Configuration error"


class BadRequest(HookwireError):
    status = 400
    slug = "bad-request"
    title = "Malformed request"


class AuthenticationFailed(HookwireError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication failed"


class SignatureInvalid(AuthenticationFailed):
    slug = "bad-signature"
    title = "Signature verification failed"


class NotFound(HookwireError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(HookwireError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class VersionConflict(Conflict):
    slug = "version-conflict"
    title = "Version conflict"

    def __init__(self, detail: str, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version

    def extensions(self) -> Mapping[str, Any]:
        return {"current_version": self.current_version}


class Forbidden(HookwireError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class PayloadTooLarge(HookwireError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class HeadersTooLarge(HookwireError):
    status = 431
    slug = "headers-too-large"
    title = "Request header fields too large"


class ValidationFailed(HookwireError):
    status = 422
    slug = "validation"
    title = "Validation failed"

    def __init__(self, errors: Iterable[FieldError], detail: str | None = None) -> None:
        self.errors = tuple(errors)
        if detail is None:
            first = self.errors[0] if self.errors else FieldError("", "invalid")
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            detail = f"{first.path or '/'}: {first.message}{more}"
        super().__init__(detail)

    @classmethod
    def at(cls, path: str, message: str) -> ValidationFailed:
        return cls([FieldError(path, message)])

    def extensions(self) -> Mapping[str, Any]:
        return {"errors": [e.as_dict() for e in self.errors]}


class PreconditionRequired(HookwireError):
    status = 428
    slug = "precondition-required"
    title = "Precondition required"


class BackendUnavailable(HookwireError):
    status = 503
    slug = "backend-unavailable"
    title = "Backend unavailable"


class StoreUnavailable(BackendUnavailable):
    slug = "store-unavailable"
    title = "Store unavailable"


class SecretBackendUnavailable(BackendUnavailable):
    slug = "secret-backend-unavailable"
    title = "Secret backend unavailable"
