"""Events identity consumes about people."""

from __future__ import annotations

from contracts import Envelope
from contracts.notifications import RequesterDiscovered
from kit.consumers import Consumer
from kit.uow import UnitOfWork
from services.identity.people import service


async def on_requester_discovered(envelope: Envelope, uow: UnitOfWork) -> None:
    await service.adopt_requester(uow, RequesterDiscovered.model_validate(envelope.data))


CONSUMERS = [
    Consumer("requesters", ["notifications.requester.discovered.v1"], on_requester_discovered),
]
