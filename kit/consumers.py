"""Turning a domain handler into a bus handler that has exactly-once effects.

Every delivery is handled inside a unit of work: its inbox row, the handler's
changes and any events it publishes commit together, and only then does the
bus acknowledge the message.

Deliveries that arrive together (the broker pushes up to `prefetch` at once)
share one transaction — group commit (`kit.groupcommit`) — so a busy consumer
pays for one commit per batch rather than one per message. If any handler in a
batch fails, the batch is rolled back and each of its deliveries is handled
again alone, so one bad message only ever fails itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from contracts import Envelope
from kit import context
from kit.bus.base import Handler
from kit.groupcommit import GroupCommit
from kit.inbox import claim_all
from kit.uow import UnitOfWork

DomainHandler = Callable[[Envelope, UnitOfWork], Awaitable[None]]

# One batch in flight per consumer: the next one gathers while the current one commits,
# which under load makes batches large. Half the default prefetch, so the broker keeps
# delivering the next batch while this one commits.
MAX_BATCH = 64


@dataclass(frozen=True)
class Consumer:
    """What a service declares: a handler name, the event patterns it wants, the handler."""

    name: str
    patterns: Sequence[str]
    handler: DomainHandler
    prefetch: int | None = None


class _Transactional:
    def __init__(
        self, service: str, consumer: Consumer, unit_of_work: Callable[[], UnitOfWork]
    ) -> None:
        self._service = service
        self._consumer = consumer
        self._unit_of_work = unit_of_work
        self._inbox_name = f"{service}.{consumer.name}"
        self._group = GroupCommit(self._handle, name=self._inbox_name, max_batch=MAX_BATCH)

    async def __call__(self, envelope: Envelope) -> None:
        await self._group(envelope)

    async def _handle(self, envelopes: Sequence[Envelope]) -> None:
        async with self._unit_of_work() as uow:
            fresh = await claim_all(uow.session, self._inbox_name, [e.id for e in envelopes])
            for envelope in envelopes:
                if envelope.id not in fresh:
                    continue  # handled before: a redelivery or a duplicate publish
                fresh.discard(envelope.id)
                with context.working(
                    service=self._service,
                    handler=self._consumer.name,
                    event_id=envelope.id,
                    event_type=envelope.type,
                    workspace=envelope.workspace,
                    correlation_id=envelope.correlationid or envelope.id,
                    causation_id=envelope.id,
                    actor=None,
                ):
                    await self._consumer.handler(envelope, uow)
            await uow.commit()


def transactional(
    service: str, consumer: Consumer, unit_of_work: Callable[[], UnitOfWork]
) -> Handler:
    return _Transactional(service, consumer, unit_of_work)
