"""The engine's side of :class:`hookwire.services.ports.Courier`: a one-off send through the
engine's :class:`~hookwire.delivery.sender.Sender`, signed and logged as the worker's are."""

from __future__ import annotations

from datetime import datetime

from hookwire.delivery.sender import Sender
from hookwire.delivery.slots import NotStarted
from hookwire.delivery.worker import send_once
from hookwire.domain.attempt import Attempt
from hookwire.domain.outcome import Outcome
from hookwire.secrets.cache import SecretCache
from hookwire.services.ports import NotSent
from hookwire.store.base import Job


class Courier:
    """Sends over ``sender``: a test shares the connection slots of the worker in the same
    process, so it cannot crowd out the deliveries to its host."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    async def send_now(
        self, job: Job, secrets: SecretCache, now: datetime, start_by: float
    ) -> tuple[Attempt, Outcome]:
        try:
            return await send_once(self.sender, secrets, job, now, start_by)
        except NotStarted as exc:
            raise NotSent(str(exc)) from exc
