"""Settings from ``HOOKWIRE_*`` variables: defaults, parsing, refusals and secret hygiene."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookwire.errors import ConfigurationError
from hookwire.settings import Settings

VAULT = {
    "HOOKWIRE_SECRET_BACKEND": "vault",
    "HOOKWIRE_VAULT_ADDR": "http://127.0.0.1:8200",
    "HOOKWIRE_VAULT_TOKEN": "root-token",
}


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///./hookwire.db"
    assert settings.pause_after_failures == 20
    assert settings.retention_days == 30
    assert settings.max_payload_bytes == 262144
    assert settings.secret_backend == "local"
    assert settings.vault_mount == "secret"
    assert settings.allow_private_targets is False
    assert settings.jwt_secret is None and settings.jwt_public_key is None
    assert settings.master_key is None
    assert settings.home == Path(".hookwire")


def test_explicit_mapping_ignores_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKWIRE_PORT", "9999")
    monkeypatch.setenv("HOOKWIRE_RETENTION_DAYS", "not a number")
    assert Settings.from_env({}).port == 8000


def test_process_environment_is_read_without_a_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKWIRE_RETENTION_DAYS", "9")
    assert Settings.from_env().retention_days == 9


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "HOOKWIRE_DATABASE_URL": "postgresql://db.internal/hookwire",
            "HOOKWIRE_PAUSE_AFTER_FAILURES": "5",
            "HOOKWIRE_RETENTION_DAYS": "7",
            "HOOKWIRE_MAX_PAYLOAD_BYTES": "1024",
            "HOOKWIRE_PORT": "9001",
            "HOOKWIRE_HOME": "/var/lib/hookwire",
            "HOOKWIRE_JWT_AUDIENCE": "api",
            "HOOKWIRE_VAULT_MOUNT": "kv",
            "HOOKWIRE_JWT_SECRET": "",
        }
    )
    assert settings.database_url == "postgresql://db.internal/hookwire"
    assert settings.pause_after_failures == 5
    assert settings.retention_days == 7
    assert settings.max_payload_bytes == 1024
    assert settings.port == 9001
    assert settings.home == Path("/var/lib/hookwire")
    assert settings.jwt_audience == "api"
    assert settings.vault_mount == "kv"
    assert settings.jwt_secret is None  # an empty optional value means "not set"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_booleans(raw: str, expected: bool) -> None:
    settings = Settings.from_env({"HOOKWIRE_ALLOW_PRIVATE_TARGETS": raw})
    assert settings.allow_private_targets is expected


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("HOOKWIRE_ALLOW_PRIVATE_TARGETS", "maybe"),
        ("HOOKWIRE_ALLOW_PRIVATE_TARGETS", "2"),
        ("HOOKWIRE_PORT", "abc"),
        ("HOOKWIRE_PORT", "0"),
        ("HOOKWIRE_PAUSE_AFTER_FAILURES", "-1"),
        ("HOOKWIRE_RETENTION_DAYS", "1.5"),
        ("HOOKWIRE_MAX_PAYLOAD_BYTES", ""),
        ("HOOKWIRE_SECRET_BACKEND", "s3"),
        ("HOOKWIRE_SECRET_BACKEND", "Vault"),
    ],
)
def test_bad_values_name_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({name: raw})
    assert name in info.value.detail


@pytest.mark.parametrize("missing", ["HOOKWIRE_VAULT_ADDR", "HOOKWIRE_VAULT_TOKEN"])
def test_vault_backend_needs_addr_and_token(missing: str) -> None:
    env = {k: v for k, v in VAULT.items() if k != missing}
    with pytest.raises(ConfigurationError, match="VAULT"):
        Settings.from_env(env)


def test_vault_backend_with_addr_and_token() -> None:
    settings = Settings.from_env(VAULT)
    assert settings.secret_backend == "vault"
    assert settings.vault_addr == "http://127.0.0.1:8200"


@pytest.mark.parametrize(
    "url", ["mysql://db/hookwire", "postgresql+asyncpg://db/x", "hookwire.db", "", "SQLITE://x"]
)
def test_unsupported_database_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        Settings.from_env({"HOOKWIRE_DATABASE_URL": url})


@pytest.mark.parametrize(
    "url", ["sqlite:///tmp/x.db", "postgresql://u@db/x", "postgres://db:5432/x"]
)
def test_supported_database_urls(url: str) -> None:
    assert Settings.from_env({"HOOKWIRE_DATABASE_URL": url}).database_url == url


def test_jwt_secret_and_public_key_together_are_refused() -> None:
    env = {"HOOKWIRE_JWT_SECRET": "s" * 40, "HOOKWIRE_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----"}
    with pytest.raises(ConfigurationError, match="not both"):
        Settings.from_env(env)


def test_base_url_prefers_public_url_without_trailing_slash() -> None:
    env = {"HOOKWIRE_PUBLIC_URL": "https://hooks.example.com/", "HOOKWIRE_PORT": "9000"}
    assert Settings.from_env(env).base_url == "https://hooks.example.com"
    env["HOOKWIRE_PUBLIC_URL"] = "https://example.com/hookwire"
    assert Settings.from_env(env).base_url == "https://example.com/hookwire"


def test_base_url_defaults_to_the_bound_address() -> None:
    assert Settings.from_env({}).base_url == "http://127.0.0.1:8000"
    env = {"HOOKWIRE_HOST": "0.0.0.0", "HOOKWIRE_PORT": "9000"}
    assert Settings.from_env(env).base_url == "http://0.0.0.0:9000"


def test_base_url_brackets_an_ipv6_host() -> None:
    assert Settings(host="::1", port=8000).base_url == "http://[::1]:8000"


def test_repr_hides_secret_values() -> None:
    settings = Settings.from_env(
        {
            **VAULT,
            "HOOKWIRE_JWT_SECRET": "jwt-secret-value-1234567890",
            "HOOKWIRE_MASTER_KEY": "master-key-value-abcdef",
            "HOOKWIRE_JWT_PRIVATE_KEY": "private-key-value-xyz",
        }
    )
    text = repr(settings)
    for value in (
        "jwt-secret-value-1234567890",
        "master-key-value-abcdef",
        "root-token",
        "private-key-value-xyz",
    ):
        assert value not in text
    assert "http://127.0.0.1:8200" in text  # the non-secret settings are still shown


def test_repr_hides_the_database_password() -> None:
    settings = Settings.from_env({"HOOKWIRE_DATABASE_URL": "postgresql://hookwire:pw-s3cret@db/x"})
    assert "pw-s3cret" not in repr(settings)


def test_replace_returns_a_changed_copy() -> None:
    settings = Settings()
    changed = settings.replace(port=1234)
    assert changed.port == 1234
    assert settings.port == 8000
