"""hookwire: webhook infrastructure for integration platforms."""

from __future__ import annotations

from hookwire.client import Client
from hookwire.version import VERSION as __version__

__all__ = ["Client", "__version__"]
