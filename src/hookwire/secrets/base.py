"""The SecretStore port: where each webhook's signing secrets live, never in the webhook row.

A secret store keeps one small JSON document of strings per path, e.g.
``{"current": "whsec_...", "previous": "...", "previous_expires_at": "2026-...Z"}`` at
``hookwire/<tenant_id>/webhooks/<webhook_id>``. Adapters raise
:class:`~hookwire.errors.SecretBackendUnavailable` (with ``from``) when the backend fails, and
never put a secret value, a key or a token in a log line, an exception message or a repr.
"""

from __future__ import annotations

import re
from typing import Protocol

SecretDocument = dict[str, str]

MAX_PATH_LENGTH = 512
_PATH_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]*")
_FORBIDDEN_SEGMENTS = frozenset({"", ".", ".."})


class SecretStore(Protocol):
    """Secret documents by path."""

    async def put(self, path: str, document: SecretDocument) -> None:
        """Create or replace the document at ``path``."""

    async def get(self, path: str) -> SecretDocument | None:
        """The document at ``path``, or None when there is none."""

    async def delete(self, path: str) -> None:
        """Remove the document at ``path`` (and every older copy); absent is fine."""

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""


def validate_path(path: str) -> str:
    """Return ``path`` if it is a well-formed secret path, else raise ValueError.

    Besides the character set, empty, ``.`` and ``..`` segments are refused: an HTTP client
    would normalise them away, so Vault and the local backend would disagree about the path.
    """
    shown = path[:80] + ("..." if len(path) > 80 else "")
    if len(path) > MAX_PATH_LENGTH:
        raise ValueError(f"secret path is longer than {MAX_PATH_LENGTH} characters: {shown!r}")
    if not _PATH_RE.fullmatch(path):
        raise ValueError(f"secret path has a forbidden character or is empty: {shown!r}")
    if _FORBIDDEN_SEGMENTS.intersection(path.split("/")):
        raise ValueError(f"secret path has an empty, '.' or '..' segment: {shown!r}")
    return path


def check_document(document: object) -> SecretDocument | None:
    """``document`` as a SecretDocument when it is a JSON object of strings, else None."""
    if not isinstance(document, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in document.items()):
        return None
    return {str(k): str(v) for k, v in document.items()}
