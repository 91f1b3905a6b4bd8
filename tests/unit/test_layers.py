"""Imports run in one direction: each part of src/hookwire imports only the parts below it.

    runtime (the composition root)      -> api, dashboard, delivery, services, and below
    commands (the CLI), client          -> services, and below (commands also runtime and api)
    api, dashboard                      -> http, services, and below
    delivery (the engine)               -> services.ports only of the services, and below
    services                            -> domain, store, secrets, signing, and the leaves
    store, secrets, signing, domain, …  -> each other as listed, and the leaves

A part is the first name under ``hookwire`` (``hookwire.api.routes.events`` is ``api``). An
allowed name may be a module inside a part (``services.ports``): then only that module.
The edge layers never reach the store: the list queries they build (``WebhookQuery`` and the
others) are domain types (``domain.filters``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

SRC: Final = Path(__file__).resolve().parents[2] / "src" / "hookwire"

# Leaves any part may use: no hookwire import beyond each other.
LEAVES: Final = {"errors", "ids", "timeutil", "version", "settings", "logs"}
DOMAIN: Final = {"domain", "signing"}
PORTS: Final = {"store", "secrets", "sandbox", "catalog", "tokens", "metrics"}
EDGE: Final = {"services", "domain", "tokens", "metrics", "http"}

ALLOWED: Final[dict[str, set[str]]] = {
    "errors": set(),
    "ids": set(),
    "version": set(),
    "settings": {"errors"},
    "timeutil": set(),
    "logs": set(),
    "signing": LEAVES,
    "domain": LEAVES | {"signing"},
    "catalog": LEAVES | DOMAIN,
    "store": LEAVES | DOMAIN,
    "secrets": LEAVES | {"store"},
    "sandbox": LEAVES | DOMAIN,
    "tokens": LEAVES | DOMAIN,
    "metrics": LEAVES | DOMAIN | {"catalog", "store"},
    "exporter": LEAVES | {"metrics", "store"},
    "devkeys": LEAVES,
    "http": LEAVES | DOMAIN,
    "services": LEAVES | DOMAIN | PORTS,
    "delivery": LEAVES | DOMAIN | {"store", "secrets", "metrics", "services.ports"},
    "api": LEAVES | EDGE,
    "dashboard": LEAVES | EDGE,
    "client": LEAVES | EDGE | {"devkeys"},
    "commands": LEAVES | EDGE | PORTS | {"api", "runtime", "devkeys", "exporter", "signing"},
    "cli": LEAVES | {"commands"},
    "runtime": LEAVES | EDGE | {"api", "dashboard", "delivery"},
    "": {"client", "version"},  # the package itself: hookwire.Client
}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        yield ".".join(p for p in parts if p != "__init__"), path


def imported(path: Path) -> Iterator[str]:
    """Every hookwire name ``path`` imports, without the ``hookwire.`` prefix: a module, or
    a module and the name taken from it (``services.ports.Courier``)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            names = ["hookwire.<relative import>"]  # src imports absolutely: never allowed
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Call) and _dynamic(node):
            names = [node.args[0].value]  # type: ignore[attr-defined]
        else:
            continue
        yield from (n.removeprefix("hookwire.") for n in names if n.startswith("hookwire."))


def _dynamic(call: ast.Call) -> bool:
    """``importlib.import_module("hookwire…")`` or ``__import__("hookwire…")``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    first = call.args[0] if call.args else None
    text = isinstance(first, ast.Constant) and isinstance(first.value, str)
    return name in {"import_module", "__import__"} and text


def part(module: str) -> str:
    return module.split(".")[0]


def allows(allowed: set[str], target: str) -> bool:
    return any(target == name or target.startswith(name + ".") for name in allowed)


def violations(module: str, path: Path) -> list[str]:
    own = part(module)
    allowed = ALLOWED[own]
    return [
        f"{module} imports {target}"
        for target in imported(path)
        if part(target) != own and not allows(allowed, target)
    ]


def test_every_part_has_its_rule() -> None:
    unknown = {part(module) for module, _ in modules()} - set(ALLOWED)
    assert not unknown, f"give {sorted(unknown)} a place in ALLOWED"


@pytest.mark.parametrize(("module", "path"), list(modules()), ids=[m for m, _ in modules()])
def test_imports_run_one_way(module: str, path: Path) -> None:
    assert violations(module, path) == []


def test_the_rule_catches_a_wrong_way_import(tmp_path: Path) -> None:
    """The engine reaching into a service, and a service into the engine, are refused."""
    worker = tmp_path / "worker.py"
    worker.write_text("from hookwire.services.container import Services\n")
    assert violations("delivery.worker", worker) == [
        "delivery.worker imports services.container.Services"
    ]
    service = tmp_path / "webhooks.py"
    service.write_text("from hookwire.delivery.worker import send_once\nimport hookwire.api\n")
    assert violations("services.webhooks", service) == [
        "services.webhooks imports delivery.worker.send_once",
        "services.webhooks imports api",
    ]
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "import importlib\nfrom ..api import deps\n"
        "def f():\n    return importlib.import_module('hookwire.runtime')\n"
    )
    assert violations("services.sneaky", sneaky) == [
        "services.sneaky imports <relative import>",
        "services.sneaky imports runtime",
    ]
    ports = tmp_path / "courier.py"
    ports.write_text("from hookwire.services.ports import Courier\n")
    assert violations("delivery.courier", ports) == []
