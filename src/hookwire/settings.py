"""Typed settings, read once from ``HOOKWIRE_*`` environment variables at the entry point.

Nothing below the entry point reads the environment: the CLI builds one :class:`Settings`
(``Settings.from_env()``, then :func:`hookwire.devkeys.with_dev_keys`) and passes it down.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from hookwire.errors import ConfigurationError

PREFIX = "HOOKWIRE_"
SecretBackendName = Literal["local", "vault"]
LogFormat = Literal["text", "json"]
T = TypeVar("T")


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean, got {raw!r}")


def _parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(f"expected a positive integer, got {raw!r}")
    return value


def _parse_backend(raw: str) -> SecretBackendName:
    if raw == "local":
        return "local"
    if raw == "vault":
        return "vault"
    raise ValueError(f"expected 'local' or 'vault', got {raw!r}")


def _parse_log_format(raw: str) -> LogFormat:
    if raw == "text":
        return "text"
    if raw == "json":
        return "json"
    raise ValueError(f"expected 'text' or 'json', got {raw!r}")


def _optional(raw: str) -> str | None:
    return raw or None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "allow_private_targets": _parse_bool,
    "pause_after_failures": _parse_positive_int,
    "retention_days": _parse_positive_int,
    "max_payload_bytes": _parse_positive_int,
    "port": _parse_positive_int,
    "metrics_port": _parse_positive_int,
    "secret_backend": _parse_backend,
    "log_format": _parse_log_format,
    "home": Path,
}


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    """Every knob of hookwire. Environment names are ``HOOKWIRE_`` + the field name in caps."""

    database_url: str = field(default="sqlite:///./hookwire.db", repr=False)
    jwt_secret: str | None = field(default=None, repr=False)
    jwt_public_key: str | None = None
    jwt_private_key: str | None = field(default=None, repr=False)
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    secret_backend: SecretBackendName = "local"
    master_key: str | None = field(default=None, repr=False)
    vault_addr: str | None = None
    vault_token: str | None = field(default=None, repr=False)
    vault_mount: str = "secret"
    public_url: str | None = None
    allow_private_targets: bool = False
    pause_after_failures: int = 20
    retention_days: int = 30
    max_payload_bytes: int = 262144
    home: Path = Path(".hookwire")
    host: str = "127.0.0.1"
    port: int = 8000
    metrics_port: int | None = None  # `hookwire worker`'s own /metrics, when set
    log_level: str = "info"
    log_format: LogFormat = "text"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``HOOKWIRE_*`` variables; a bad value is a ConfigurationError."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = PREFIX + f.name.upper()
            if name not in env:
                continue
            parse = _PARSERS.get(f.name, _optional if f.default is None else str)
            try:
                values[f.name] = parse(env[name])
            except ValueError as exc:
                raise ConfigurationError(f"{name}: {exc}") from exc
        settings = cls(**values)
        settings.check()
        return settings

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def check(self) -> None:
        """Refuse combinations that cannot work, before anything starts."""
        if self.jwt_secret and self.jwt_public_key:
            raise ConfigurationError("set HOOKWIRE_JWT_SECRET or HOOKWIRE_JWT_PUBLIC_KEY, not both")
        if self.secret_backend == "vault" and not (self.vault_addr and self.vault_token):
            raise ConfigurationError(
                "HOOKWIRE_SECRET_BACKEND=vault needs HOOKWIRE_VAULT_ADDR and HOOKWIRE_VAULT_TOKEN"
            )
        if not self.database_url.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ConfigurationError(
                "HOOKWIRE_DATABASE_URL must start with sqlite:// or postgresql://"
            )

    @property
    def base_url(self) -> str:
        """The public base URL: ``PUBLIC_URL`` or, by default, the address ``serve`` binds."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (self.public_url or f"http://{host}:{self.port}").rstrip("/")

    @property
    def database_display(self) -> str:
        """``database_url`` with any password replaced by ``***``, for logs and banners."""
        parts = urlsplit(self.database_url)
        if parts.password is None:
            return self.database_url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.repr
        )
        return f"Settings(database={self.database_display!r}, {shown})"
