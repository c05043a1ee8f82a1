"""Identity's user events, kept in the people projection (one queue, so that in the usual
case they arrive in the order identity wrote them)."""

from __future__ import annotations

from kit.consumers import Consumer
from services.tickets.people.service import apply_user_event

USER_EVENTS = (
    "identity.user.created.v1",
    "identity.user.updated.v1",
    "identity.user.deactivated.v1",
    "identity.user.reactivated.v1",
)

CONSUMERS = [Consumer("people", USER_EVENTS, apply_user_event)]
