"""`integrations.command.deliver_webhook.v1`: another service (a rule's action) has a payload
delivered to one of the workspace's endpoints, like any other webhook."""

from __future__ import annotations

from contracts import Envelope, registry
from contracts.integrations import DeliverWebhook
from kit.consumers import Consumer
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.integrations.webhooks import repository, service

log = get_logger(__name__)


async def deliver(envelope: Envelope, uow: UnitOfWork) -> None:
    command = registry.parse_as(envelope, DeliverWebhook)
    endpoint = await repository.endpoint(
        uow.session, str(command.workspace_id), str(command.endpoint_id)
    )
    if endpoint is None or not endpoint.enabled:
        # Nothing to retry: the endpoint is gone or off, and its owner was told when it went.
        log.warning("webhook.command_dropped", endpoint=str(command.endpoint_id))
        return
    service.queue(
        uow,
        endpoint,
        event_name=command.event_name,
        payload=dict(command.payload),
        source_key=f"command:{envelope.id}",
    )


CONSUMERS = [Consumer("deliver-webhook", ["integrations.command.deliver_webhook.v1"], deliver)]
