"""Events of the integrations gateway: commands it executes and what it tells others."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field, JsonValue

from contracts.envelope import EventData
from contracts.registry import registry
from contracts.tickets import CommandOrigin

SOURCE = "integrations"


@registry.event(
    "integrations.command.deliver_webhook.v1",
    source=SOURCE,
    summary="Deliver a payload to a registered webhook endpoint (e.g. a rule's action).",
    command=True,
)
class DeliverWebhook(EventData):
    """Delivered like every other webhook: signed, retried, logged, SSRF-checked."""

    workspace_id: UUID
    endpoint_id: UUID
    event_name: str = Field(min_length=1, max_length=200)
    payload: dict[str, JsonValue]
    origin: CommandOrigin = Field(default_factory=CommandOrigin)


@registry.event(
    "integrations.endpoint.disabled.v1",
    source=SOURCE,
    summary="A webhook endpoint was switched off (410 Gone, or failing for days).",
)
class EndpointDisabled(EventData):
    """Notifications tells the endpoint's owner."""

    workspace_id: UUID
    endpoint_id: UUID
    url: str
    owner_user_id: UUID | None = None
    reason: str
