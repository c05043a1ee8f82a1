"""Turning a domain handler into a bus handler that has exactly-once effects.

Every delivery is handled inside a unit of work: its inbox row, the handler's
changes and any events it publishes commit together, and only then does the
bus acknowledge the message.

Deliveries that arrive together (the broker pushes up to `prefetch` at once)
share one transaction — group commit — so a busy consumer pays for one commit
per batch rather than one per message. If any handler in a batch fails, the
batch is rolled back and each of its deliveries is handled again alone, so one
bad message only ever fails itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from contracts import Envelope
from kit import context
from kit.bus.base import Handler
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


class _GroupCommit:
    def __init__(
        self, service: str, consumer: Consumer, unit_of_work: Callable[[], UnitOfWork]
    ) -> None:
        self._service = service
        self._consumer = consumer
        self._unit_of_work = unit_of_work
        self._inbox_name = f"{service}.{consumer.name}"
        self._waiting: list[tuple[Envelope, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def __call__(self, envelope: Envelope) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((envelope, done))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # deliveries read in the same burst join this batch
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._settle(batch)
        finally:
            self._flusher = None

    async def _settle(self, batch: list[tuple[Envelope, asyncio.Future[None]]]) -> None:
        try:
            await self._handle([envelope for envelope, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                _resolve(batch[0][1], error=error)
                return
            for envelope, done in batch:  # isolate the failure: one transaction each
                try:
                    await self._handle([envelope])
                except Exception as error:
                    _resolve(done, error=error)
                else:
                    _resolve(done)
            return
        for _, done in batch:
            _resolve(done)

    async def _handle(self, envelopes: list[Envelope]) -> None:
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


def _resolve(done: asyncio.Future[None], *, error: BaseException | None = None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def transactional(
    service: str, consumer: Consumer, unit_of_work: Callable[[], UnitOfWork]
) -> Handler:
    return _GroupCommit(service, consumer, unit_of_work)
