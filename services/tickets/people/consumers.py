"""Identity's user and team events, kept in the people projection (one queue, so that in the
usual case they arrive in the order identity wrote them)."""

from __future__ import annotations

from contracts import Envelope
from kit.consumers import Consumer
from kit.uow import UnitOfWork
from services.tickets.people.service import apply_team_event, apply_user_event

USER_EVENTS = (
    "identity.user.created.v1",
    "identity.user.updated.v1",
    "identity.user.deactivated.v1",
    "identity.user.reactivated.v1",
)
TEAM_EVENTS = ("identity.team.changed.v1",)


async def apply_people_event(envelope: Envelope, uow: UnitOfWork) -> None:
    if envelope.type in TEAM_EVENTS:
        await apply_team_event(envelope, uow)
    else:
        await apply_user_event(envelope, uow)


CONSUMERS = [Consumer("people", (*USER_EVENTS, *TEAM_EVENTS), apply_people_event)]
