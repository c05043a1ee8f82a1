"""One queue per producer's entity, so that in the usual case an entity's events arrive in
the order they were written (the projection tolerates any order anyway)."""

from __future__ import annotations

from kit.consumers import Consumer
from services.timetracking.projections.service import (
    ITEM_EVENTS,
    ORGANISATION_EVENTS,
    PERSON_EVENTS,
    PROJECT_EVENTS,
    apply_event,
)

CONSUMERS = [
    Consumer("items", sorted(ITEM_EVENTS), apply_event),
    Consumer("projects", sorted(PROJECT_EVENTS), apply_event),
    Consumer("organisations", sorted(ORGANISATION_EVENTS), apply_event),
    Consumer("people", sorted(PERSON_EVENTS), apply_event),
]
