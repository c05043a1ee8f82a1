"""What happens to one delivery, decided the same way by both transports.

Parse, run the handler, and on failure choose the next retry tier or the
dead-letter queue; the transport then carries that decision out its own way
(TTL queues and acks on RabbitMQ, timers and lists in memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import Counter
from pydantic import ValidationError

from contracts import Envelope
from kit.bus.base import Subscription
from kit.logging import get_logger
from kit.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_RETRIED

log = get_logger(__name__)


@dataclass(frozen=True)
class Handled:
    pass


@dataclass(frozen=True)
class Retry:
    attempt: int
    delay: float
    tier: int
    error: str


@dataclass(frozen=True)
class DeadLettered:
    attempts: int
    error: str


Outcome = Handled | Retry | DeadLettered


class Deliverer:
    """Runs a subscription's handler on raw deliveries; its meters are resolved once."""

    def __init__(self, subscription: Subscription, retry_delays: Sequence[float]) -> None:
        self.subscription = subscription
        self._retry_delays = list(retry_delays)
        service, name = subscription.service, subscription.name
        self._ok: Counter = EVENTS_CONSUMED.labels(service, name, "ok")
        self._failed: Counter = EVENTS_CONSUMED.labels(service, name, "failed")
        self._retried: Counter = EVENTS_RETRIED.labels(service, name)
        self._dead: Counter = EVENTS_DEAD_LETTERED.labels(service, name)

    async def deliver(self, body: bytes | str, attempt: int) -> Outcome:
        """`attempt` counts earlier failures of this message (0 on first delivery)."""
        try:
            envelope = Envelope.from_json(body)
        except ValidationError as error:
            return self._dead_letter(attempt, f"unparseable message: {error}")
        try:
            await self.subscription.handler(envelope)
        except Exception as error:  # every handler failure goes through the retry tiers
            self._failed.inc()
            if attempt >= len(self._retry_delays):
                return self._dead_letter(attempt, repr(error))
            self._retried.inc()
            log.warning(
                "handler failed, will retry",
                handler=self.subscription.name,
                event_id=envelope.id,
                attempt=attempt + 1,
                error=repr(error),
            )
            return Retry(attempt + 1, self._retry_delays[attempt], attempt + 1, repr(error))
        self._ok.inc()
        return Handled()

    def _dead_letter(self, attempts: int, error: str) -> DeadLettered:
        self._dead.inc()
        log.error("message dead-lettered", handler=self.subscription.name, error=error)
        return DeadLettered(attempts, error)
