"""Projects arrive from the tickets service; identity validates grants against them.

One queue for both event types keeps a project's creation and later changes in order.
"""

from __future__ import annotations

from contracts import Envelope
from contracts.tickets import ProjectCreated, ProjectUpdated
from kit.consumers import Consumer
from kit.uow import UnitOfWork
from services.identity.grants import service


async def on_project_event(envelope: Envelope, uow: UnitOfWork) -> None:
    if envelope.type == "tickets.project.created.v1":
        await service.project_created(uow, ProjectCreated.model_validate(envelope.data))
    elif envelope.type == "tickets.project.updated.v1":
        await service.project_updated(uow, ProjectUpdated.model_validate(envelope.data))


CONSUMERS = [
    Consumer(
        "projects", ["tickets.project.created.v1", "tickets.project.updated.v1"], on_project_event
    ),
]
