"""One queue per producer's entity, so an entity's events usually arrive in the order they
were written (the directory tolerates any order anyway)."""

from __future__ import annotations

from kit.consumers import Consumer
from services.notifications.directory.service import (
    ITEM_EVENTS,
    PERSON_EVENTS,
    PROJECT_EVENTS,
    TEAM_EVENTS,
    WORKSPACE_EVENTS,
    apply_event,
)

CONSUMERS = [
    Consumer("directory-workspaces", sorted(WORKSPACE_EVENTS), apply_event),
    Consumer("directory-people", sorted(PERSON_EVENTS), apply_event),
    Consumer("directory-teams", sorted(TEAM_EVENTS), apply_event),
    Consumer("directory-projects", sorted(PROJECT_EVENTS), apply_event),
    Consumer("directory-items", sorted(ITEM_EVENTS), apply_event),
]
