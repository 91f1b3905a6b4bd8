"""What the services need from the delivery engine, as ports the engine implements.

The services sit below the engine: they define these, ``hookwire.delivery`` implements them,
and the composition root (:mod:`hookwire.runtime`) hands the implementation in. So the
engine depends on the services' ports, never the reverse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from hookwire.domain.attempt import Attempt
from hookwire.domain.outcome import Outcome
from hookwire.secrets.cache import SecretCache
from hookwire.store.base import Job


class NotSent(Exception):
    """The send could not start in time (no connection slot came free): nothing was sent."""


class Courier(Protocol):
    """One send now, outside the queue (``POST /webhooks/{id}/test``), through the same
    connection slots as the engine's own sends."""

    async def send_now(
        self, job: Job, secrets: SecretCache, now: datetime, start_by: float
    ) -> tuple[Attempt, Outcome]:
        """Sign ``job`` with the webhook's secrets in force and send it once; the attempt as
        logged and what its answer means. NotSent when it cannot start by ``start_by`` (a
        ``time.monotonic()`` deadline)."""
        ...
