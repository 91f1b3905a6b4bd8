"""The API fuzzed with schemathesis from its own OpenAPI document, on both stores, through a
real server process: no answer is a 5xx, every answer has a documented status and content
type and matches its schema, every error is problem+json, and data the schema forbids is
refused. ``HOOKWIRE_FUZZ_EXAMPLES`` (default 20 per operation) runs it longer by hand."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks

from tests import pg
from tests.acceptance.processes import clean_env, free_port, run, server

EXAMPLES = int(os.environ.get("HOOKWIRE_FUZZ_EXAMPLES", "20"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


@dataclass(frozen=True)
class Target:
    base_url: str
    token: str
    spec: dict[str, object]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    database = f"sqlite:///{tmp / 'hw.db'}"
    name = None
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        name = pg.unique_name("fuzz")
        database = asyncio.run(pg.create_database(name))
    port = free_port()
    env = clean_env(
        HOOKWIRE_PORT=str(port), HOOKWIRE_DATABASE_URL=database,
        HOOKWIRE_JWT_SECRET=secrets.token_urlsafe(32),
        HOOKWIRE_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        HOOKWIRE_LOG_LEVEL="warning",
    )  # fmt: skip
    try:
        assert run(["migrate"], tmp, env).returncode == 0
        token = run(["token", "--tenant", "fuzz", "--ttl", "2h"], tmp, env).stdout.strip()
        with server(["api"], tmp, env, port) as running:
            spec = httpx.get(running.base_url + "/openapi.json").json()
            yield Target(running.base_url, token, spec)
            assert "Traceback" not in running.output(), running.output()
    finally:
        if name is not None:
            asyncio.run(pg.drop_database(name))


def operations(target: Target) -> list[Any]:
    """Every operation of the document (one that does not load fails the test)."""
    results = schemathesis.openapi.from_dict(target.spec).get_all_operations()
    return [result.ok() for result in results]  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode))
def test_no_crash_and_every_answer_as_documented(
    target: Target, mode: schemathesis.GenerationMode
) -> None:
    """Each operation with generated requests: valid ones (positive) and ones the schema
    forbids (negative); schemathesis's pytest plugin is not used (it does not run on pytest
    9), so hypothesis drives each operation here."""
    headers = {"Authorization": f"Bearer {target.token}"}
    for operation in operations(target):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def exercise(case: Any) -> None:
            case.call_and_validate(base_url=target.base_url, headers=headers, checks=CHECKS)

        try:
            exercise()
        except Unsatisfiable:  # nothing to break in it (no parameters, no body): nothing to try
            assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
