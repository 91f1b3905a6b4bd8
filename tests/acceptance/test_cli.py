"""The commands a user runs, as real processes on real ports and databases."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hookwire.store.migrations import migrations
from tests.acceptance.processes import clean_env, free_port, run, server
from tests.conftest import WEBHOOKS


def _token_from(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("eyJ"))


def test_serve_runs_on_sqlite_with_generated_keys_that_survive_a_restart(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(HOOKWIRE_PORT=str(port))
    with server(["serve"], tmp_path, env, port) as first:
        output = first.output()
        assert f"http://127.0.0.1:{port}/docs" in output
        token = _token_from(output)
        auth = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            first.base_url + WEBHOOKS,
            json={"url": "https://receiver.example.com/hook", "event_types": ["rfp.*"]},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        webhook_id = created.json()["id"]
        assert "using development keys" in first.output()
    keys = (tmp_path / ".hookwire" / "keys.json").read_bytes()
    assert (tmp_path / ".hookwire" / "keys.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "hookwire.db").exists()

    with server(["serve"], tmp_path, env, port) as second:
        again = httpx.get(f"{second.base_url}{WEBHOOKS}/{webhook_id}", headers=auth)
        assert again.status_code == 200  # the first run's token still verifies
        assert again.json()["event_types"] == ["rfp.*"]
    assert (tmp_path / ".hookwire" / "keys.json").read_bytes() == keys


def test_serve_with_only_an_identity_providers_public_key_starts_and_prints_no_token(
    tmp_path: Path,
) -> None:
    """Tokens come from an identity provider: hookwire holds its public key and cannot mint
    (it exited 2 trying to print a development token)."""
    provider = ec.generate_private_key(ec.SECP256R1())
    public = provider.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    port = free_port()
    env = clean_env(HOOKWIRE_PORT=str(port), HOOKWIRE_JWT_PUBLIC_KEY=public.decode())
    with server(["serve"], tmp_path, env, port) as running:
        assert "none is printed" in running.output()
        assert not [line for line in running.output().splitlines() if line.startswith("eyJ")]
        now = int(time.time())
        claims = {"tenant_id": "acme", "sub": "u", "iat": now, "exp": now + 300}
        token = jwt.encode(claims, provider, algorithm="ES256")
        listed = httpx.get(
            running.base_url + WEBHOOKS, headers={"Authorization": f"Bearer {token}"}
        )
        assert listed.status_code == 200, listed.text


def test_token_command_mints_tokens_the_server_accepts(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(HOOKWIRE_PORT=str(port), HOOKWIRE_JWT_SECRET=secrets.token_urlsafe(32))
    minted = run(["token", "--tenant", "acme", "--app", "app-7", "--ttl", "5m"], tmp_path, env)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    with server(["serve"], tmp_path, env, port) as running:
        created = httpx.post(
            running.base_url + WEBHOOKS,
            json={"url": "https://receiver.example.com/hook"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201
        assert created.json()["tenant_id"] == "acme"
        assert created.json()["app_id"] == "app-7"
    bad = run(["token", "--tenant", "acme", "--ttl", "soon"], tmp_path, env)
    assert bad.returncode != 0
    assert "ttl" in (bad.stderr + bad.stdout).lower()


@pytest.mark.postgres
def test_api_on_postgres_needs_migrate_first(tmp_path: Path, empty_pg_url: str) -> None:
    port = free_port()
    env = clean_env(
        HOOKWIRE_PORT=str(port),
        HOOKWIRE_DATABASE_URL=empty_pg_url,
        HOOKWIRE_JWT_SECRET=secrets.token_urlsafe(32),
        HOOKWIRE_MASTER_KEY="QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
    )
    refused = run(["api"], tmp_path, env)
    assert refused.returncode == 2
    assert "hookwire migrate" in refused.stderr
    migrated = run(["migrate"], tmp_path, env)
    assert migrated.returncode == 0, migrated.stderr
    assert f"applied {len(migrations('postgres'))} migration" in migrated.stdout
    assert "applied 0 migration" in run(["migrate"], tmp_path, env).stdout
    token = run(["token", "--tenant", "acme"], tmp_path, env).stdout.strip()
    with server(["api"], tmp_path, env, port) as running:
        assert httpx.get(running.base_url + "/readyz").json() == {"status": "ready"}
        created = httpx.post(
            running.base_url + WEBHOOKS,
            json={"url": "https://receiver.example.com/hook"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
    assert not (tmp_path / ".hookwire").exists()  # every key was configured: none generated


def test_a_bad_setting_stops_the_process_with_a_clear_error(tmp_path: Path) -> None:
    env = clean_env(HOOKWIRE_PAUSE_AFTER_FAILURES="many")
    result = run(["migrate"], tmp_path, env)
    assert result.returncode == 2
    assert "HOOKWIRE_PAUSE_AFTER_FAILURES" in result.stderr
