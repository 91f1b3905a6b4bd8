"""The operator's commands as real processes: `webhooks list|create|show`, `deliveries tail`,
`replay`, and progress bars (on stderr, so stdout stays for results)."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer.main

import hookwire
from hookwire.cli import app
from hookwire.settings import Settings
from hookwire.store.migrations import migrations
from hookwire.timeutil import iso, utcnow
from tests import receivers
from tests.acceptance.processes import HOOKWIRE, clean_env, run


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A migrated SQLite database, keys configured, tenant acme by HOOKWIRE_TENANT."""
    values = clean_env(
        HOOKWIRE_DATABASE_URL=f"sqlite:///{tmp_path / 'hw.db'}",
        HOOKWIRE_JWT_SECRET=secrets.token_urlsafe(32),
        HOOKWIRE_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        HOOKWIRE_ALLOW_PRIVATE_TARGETS="true",
        HOOKWIRE_TENANT="acme",
    )
    migrated = run(["migrate"], tmp_path, values)
    assert migrated.returncode == 0, migrated.stderr
    count = len(migrations("sqlite"))
    assert f"applied {count} migration(s)" in migrated.stdout
    assert f"{count}/{count}" in migrated.stderr  # the progress bar, on stderr
    return values


def hw(tmp: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = run(list(args), tmp, env)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def json_of(done: subprocess.CompletedProcess[str]) -> Any:
    return orjson.loads(done.stdout)


def test_webhooks_create_list_and_show(tmp_path: Path, env: dict[str, str]) -> None:
    plain = hw(
        tmp_path, env, "webhooks", "create", "--url", "https://receiver.example.com/a",
        "--event-type", "integration-*", "--event-type", "webhook_test", "--name", "Payroll",
    )  # fmt: skip
    secret = plain.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and "shown once" in plain.stdout
    inbound = json_of(hw(
        tmp_path, env, "webhooks", "create", "--direction", "inbound", "--scheme", "github",
        "--secret", "github-shared-secret-01", "--json",
    ))  # fmt: skip
    assert inbound["url"].endswith(f"/api/v1/inbound/{inbound['id']}")
    assert inbound["secret"] == "github-shared-secret-01"

    listed = json_of(hw(tmp_path, env, "webhooks", "list", "--json"))
    assert [w["name"] for w in listed] == [None, "Payroll"]  # newest first
    assert all("secret" not in w for w in listed)
    table = hw(tmp_path, env, "webhooks", "list").stdout
    for webhook in listed:
        assert webhook["id"] in table  # never cut, whatever the terminal's width
    assert "active" in table and "2 webhook(s)" in table
    assert secret not in table
    assert (
        len(json_of(hw(tmp_path, env, "webhooks", "list", "--direction", "inbound", "--json"))) == 1
    )

    shown = hw(tmp_path, env, "webhooks", "show", listed[1]["id"]).stdout
    assert "https://receiver.example.com/a" in shown and "Payroll" in shown and secret not in shown
    stranger = run(["webhooks", "show", "--tenant", "globex", listed[1]["id"]], tmp_path, env)
    assert stranger.returncode == 2 and "not found" in stranger.stderr
    bad = run(["webhooks", "create", "--url", "ftp://x.example.com"], tmp_path, env)
    assert bad.returncode == 2 and "/url" in bad.stderr


async def test_tail_follows_attempts_and_replay_sends_failures_again(
    tmp_path: Path, env: dict[str, str]
) -> None:
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("HOOKWIRE_")})
    event = tmp_path / "event.json"
    event.write_text('{"type": "webhook_test", "data": {"test": true}}')
    async with receivers.receiver(receivers.respond(500)) as target:
        async with await hookwire.Client.open(settings, tenant_id="acme") as client:
            hook = await client.create_webhook(url=target.url, retry_policy={"maxAttempts": 1})
        since = iso(utcnow()) or ""
        for _ in range(3):
            await asyncio.to_thread(hw, tmp_path, env, "publish", str(event))
        await asyncio.to_thread(hw, tmp_path, env, "worker", "--burst")
        logged = await asyncio.to_thread(hw, tmp_path, env, "deliveries", "tail", "--no-follow")
        lines = logged.stdout.strip().splitlines()
        assert len(lines) == 3 and all("500" in line and hook["id"] in line for line in lines)

        follower = await asyncio.create_subprocess_exec(
            HOOKWIRE, "deliveries", "tail", "--lines", "0", "--count", "3", "--interval", "0.2",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        target.behaviour = receivers.respond(200)
        await asyncio.sleep(1.5)  # the follower starts and notes the last attempt
        replayed = await asyncio.to_thread(hw, tmp_path, env, "replay", "--since", since)
        assert "replayed 3 deliveries" in replayed.stdout and "3/3" in replayed.stderr
        await asyncio.to_thread(hw, tmp_path, env, "worker", "--burst")
        out, _ = await asyncio.wait_for(follower.communicate(), 30)
    followed = out.decode().strip().splitlines()
    assert len(followed) == 3 and all("  200  " in line for line in followed), followed
    assert len(target.received) == 6
    nothing = run(["replay"], tmp_path, env)
    assert nothing.returncode == 2 and "--since" in nothing.stderr
    none_failed = hw(tmp_path, env, "recover", hook["id"], "--since", since)
    assert "recovered 0 failed deliveries" in none_failed.stdout


def test_every_flag_that_stands_for_a_setting_names_its_variable() -> None:
    settings = {f"--{name.replace('_', '-')}" for name in Settings.__dataclass_fields__}
    checked = 0
    for name, command in _walk(typer.main.get_command(app)):
        for param in command.params:
            if not set(param.opts) & (settings | {"--tenant"}):
                continue
            if name == "token" and param.name == "tenant":  # a claim to mint, not a setting
                continue
            if name == "listen":  # the test receiver's own address, not the server's
                continue
            checked += 1
            assert param.envvar == "HOOKWIRE_" + (param.name or "").upper(), (name, param.opts)
            assert getattr(param, "show_envvar", False), (name, param.opts)
    assert checked >= 15


def _walk(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every command of the CLI, groups entered (typer vendors its own click)."""
    found: list[tuple[str, Any]] = []
    for name, sub in group.commands.items():
        if hasattr(sub, "commands"):
            found += _walk(sub, f"{prefix}{name} ")
        else:
            found.append((f"{prefix}{name}", sub))
    return found
