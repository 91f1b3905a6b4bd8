"""Named SQL: each dialect's queries live in ``store/sql/<dialect>.sql`` under ``-- name: x``.

Both files write parameters as ``:name``; comment lines are dropped at load. For PostgreSQL
they are rewritten once, at load, to asyncpg's ``$n`` with the parameter order kept beside.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_SECTION = re.compile(r"^-- name: (\w+)\s*$", re.M)
_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Query:
    """One statement: its text in the driver's style and, for ``$n``, the parameter names."""

    text: str
    names: tuple[str, ...] = ()

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """Positional arguments for a ``$n`` statement."""
        return [params[name] for name in self.names]


def _numbered(text: str) -> Query:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return Query(_PARAM.sub(number, text), tuple(names))


@cache
def load(dialect: str) -> dict[str, Query]:
    """Every named query of ``dialect`` (``sqlite`` keeps ``:name``; ``postgres`` gets ``$n``)."""
    source = resources.files("hookwire.store").joinpath("sql", f"{dialect}.sql").read_text()
    parts = _SECTION.split(source)
    queries: dict[str, Query] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
        text = "\n".join(lines).strip()
        queries[name] = _numbered(text) if dialect == "postgres" else Query(text)
    return queries
