"""The installed version of hookwire (``0.0.0`` when run from an uninstalled source tree)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("hookwire")
except PackageNotFoundError:
    VERSION = "0.0.0"
