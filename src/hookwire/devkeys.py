"""Development keys: generated once under ``HOOKWIRE_HOME`` when not configured
(docs/production.md "Keys").

Every process started in the same directory shares the same file, so ``hookwire api`` and
``hookwire worker`` started side by side agree. The file is created atomically (written to a
temporary name, then hard-linked into place) so two processes starting at once cannot end up
with different keys. Production sets the keys explicitly and never reaches this code.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
from pathlib import Path

import orjson

from hookwire.errors import ConfigurationError
from hookwire.settings import Settings

log = logging.getLogger("hookwire.devkeys")
KEYS_FILE = "keys.json"


def _generate() -> dict[str, str]:
    return {
        "jwt_secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="),
        "master_key": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def _load_or_create(home: Path) -> dict[str, str]:
    path = home / KEYS_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = home / f".{KEYS_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(_generate(), option=orjson.OPT_INDENT_2))
        with contextlib.suppress(FileExistsError):  # another process won the race: use theirs
            os.link(tmp, path)
        tmp.unlink()
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigurationError(f"cannot read development keys from {path}: {exc}") from exc
    missing = [name for name in _generate() if not isinstance(data, dict) or name not in data]
    if missing or not all(isinstance(v, str) and v for v in data.values()):
        raise ConfigurationError(
            f"{path} must be a JSON object with non-empty string values for "
            f"{', '.join(_generate())}; delete it to generate new development keys"
        )
    return {str(k): v for k, v in data.items()}


def with_dev_keys(settings: Settings) -> Settings:
    """Fill in any key that is not configured from the development key file."""
    need_jwt = not (settings.jwt_secret or settings.jwt_public_key)
    need_master = settings.secret_backend == "local" and not settings.master_key
    if not (need_jwt or need_master):
        return settings
    keys = _load_or_create(settings.home)
    changes: dict[str, str] = {}
    if need_jwt:
        changes["jwt_secret"] = keys["jwt_secret"]
    if need_master:
        changes["master_key"] = keys["master_key"]
    log.warning(
        "using development keys from %s for %s; set them explicitly in production",
        settings.home / KEYS_FILE,
        ", ".join(f"HOOKWIRE_{name.upper()}" for name in changes),
    )
    return settings.replace(**changes)
