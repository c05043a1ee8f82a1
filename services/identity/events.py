"""Publishing identity's events through the unit of work's outbox."""

from __future__ import annotations

from contracts import EventData, registry
from kit.uow import UnitOfWork


def publish(uow: UnitOfWork, data: EventData, *, workspace: str, subject: str) -> None:
    uow.publish(registry.envelope(data, workspace=workspace, subject=subject))
