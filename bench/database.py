"""A throw-away PostgreSQL database for a benchmark: ``<prefix>_<pid>``, recreated from
template0 on demand and dropped at the end; the admin URL's database only runs CREATE/DROP.
Benchmarks talk to loopback only."""

from __future__ import annotations

import os
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg

LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"the benchmark only talks to loopback; {host!r} is not")


class ThrowawayDatabase:
    def __init__(self, admin_url: str, prefix: str) -> None:
        check_loopback(admin_url)
        self.admin_url = admin_url
        self.name = f"{prefix}_{os.getpid()}"

    @property
    def url(self) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path="/" + self.name))

    async def _admin(self, sql: str) -> list[Any]:
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    async def fresh(self) -> str:
        await self.drop()
        await self._admin(f'CREATE DATABASE "{self.name}" TEMPLATE template0')
        return self.url

    async def drop(self) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    async def server_settings(self) -> dict[str, str]:
        """The settings that decide what a commit costs, as found (never changed)."""
        names = ("server_version", "synchronous_commit", "fsync", "shared_buffers")
        try:
            return {name: str((await self._admin(f"SHOW {name}"))[0][0]) for name in names}
        except (OSError, asyncpg.PostgresError) as exc:
            raise SystemExit(f"PostgreSQL is not reachable at {self.admin_url}: {exc}") from exc
