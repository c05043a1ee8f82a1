"""Turning a domain handler into a bus handler that has exactly-once effects.

Each delivery runs in its own unit of work: the inbox row, the handler's
changes and any events it publishes commit together, and only then does the
bus acknowledge the message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from contracts import Envelope
from kit import context
from kit.bus.base import Handler
from kit.inbox import claim
from kit.uow import UnitOfWork

DomainHandler = Callable[[Envelope, UnitOfWork], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    """What a service declares: a handler name, the event patterns it wants, the handler."""

    name: str
    patterns: Sequence[str]
    handler: DomainHandler
    prefetch: int | None = None


def transactional(
    service: str, consumer: Consumer, unit_of_work: Callable[[], UnitOfWork]
) -> Handler:
    inbox_name = f"{service}.{consumer.name}"

    async def handle(envelope: Envelope) -> None:
        with (
            structlog.contextvars.bound_contextvars(
                service=service,
                handler=consumer.name,
                event_id=envelope.id,
                event_type=envelope.type,
                workspace=envelope.workspace,
                correlation_id=envelope.correlationid,
            ),
            context.caused_by(
                correlation_id=envelope.correlationid or envelope.id,
                causation_id=envelope.id,
                workspace=envelope.workspace,
                actor=None,
            ),
        ):
            async with unit_of_work() as uow:
                if not await claim(uow.session, inbox_name, envelope.id):
                    return  # already handled: a redelivery or a duplicate publish
                await consumer.handler(envelope, uow)
                await uow.commit()

    return handle
