"""Events produced by the notifications service (mail in and out, the in-app feed)."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from contracts.envelope import EventData
from contracts.registry import registry

SOURCE = "notifications"


@registry.event(
    "notifications.requester.discovered.v1",
    source=SOURCE,
    summary="A mail came from an unknown sender; the sender becomes a client with this id.",
)
class RequesterDiscovered(EventData):
    """Notifications mints the user id (no synchronous call on the mail path); identity
    adopts it, creating an unclaimed client account that can later be claimed."""

    user_id: UUID
    workspace_id: UUID
    email: str = Field(min_length=3, max_length=320)
    display_name: str = ""
    client_organisation_id: UUID | None = None
