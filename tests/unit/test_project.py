"""The project's own promises: the README opens with the two commands and CI runs the second."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from hookwire.api.reference import markdown
from hookwire.runtime import create_app
from hookwire.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_opens_with_the_serve_and_test_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_blocks = re.findall(r"```sh\n(.+?)\n```", text.split("## ", 1)[0])
    assert len(first_blocks) == 2
    assert first_blocks[0].endswith("hookwire serve")
    assert first_blocks[1].endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert _readme_commands()[1] in ci.splitlines()


def test_the_package_ships_its_data_files() -> None:
    package = ROOT / "src" / "hookwire"
    assert (package / "py.typed").exists()
    assert list((package / "store" / "migrations" / "sqlite").glob("*.sql"))
    assert list((package / "store" / "migrations" / "postgres").glob("*.sql"))


def test_the_api_reference_is_generated_from_the_current_openapi_document() -> None:
    """docs/api.md and docs/openapi.json are what `hookwire openapi [--markdown]` prints now;
    regenerate both after changing the API (the commands are in docs/api.md's first lines)."""
    spec = create_app(Settings()).openapi()
    assert (ROOT / "docs" / "api.md").read_text() == markdown(spec)
    assert orjson.loads((ROOT / "docs" / "openapi.json").read_bytes()) == spec
    for path in spec["paths"]:
        assert f" {path}`" in markdown(spec)
