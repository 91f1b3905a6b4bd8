"""Logging set up once at the entry point: readable text (the default) or one JSON object a
line (``HOOKWIRE_LOG_FORMAT=json``) for log pipelines.

JSON lines carry ``ts, level, logger, msg`` and the ids a record was given as ``extra``
(``event_id``, ``delivery_id``, ``webhook_id``, ``tenant_id``, ``message_id``, ...), so that a
delivery can be followed across processes. Nothing logs a secret: ids and statuses only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

import orjson

# Ids and facts a record may carry as ``extra``: what a JSON line shows beside the message.
FIELDS: Final = (
    "tenant_id", "webhook_id", "event_id", "delivery_id", "message_id", "event_type",
    "status", "attempt", "deliveries", "reason",
)  # fmt: skip
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(level: str, fmt: str) -> None:
    """Send every logger (uvicorn's too) to stderr, as text or JSON, at ``level``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
