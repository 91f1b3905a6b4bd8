"""hookwire: webhook infrastructure for integration platforms.

``hookwire.Client`` is imported when first used: a process that needs only part of the
package (the schema sandbox's children, say) does not load the whole service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hookwire.version import VERSION as __version__

if TYPE_CHECKING:
    from hookwire.client import Client

__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from hookwire.client import Client

        return Client
    raise AttributeError(f"module 'hookwire' has no attribute {name!r}")
