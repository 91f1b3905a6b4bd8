"""hookwire: webhook infrastructure for integration platforms."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hookwire")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

from hookwire.client import Client

__all__ = ["Client", "__version__"]
