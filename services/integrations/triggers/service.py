"""Consumed events become trigger records: stored for polling, fanned out to webhooks.

Both happen in the consumer's transaction, together with its inbox row: an event is
either fully taken in (stored, and queued for every subscribed endpoint) or not at all and
redelivered.
"""

from __future__ import annotations

from dataclasses import replace

from contracts import Envelope
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.integrations.triggers import repository
from services.integrations.triggers.catalog import BUILDERS, Record
from services.integrations.webhooks import service as webhooks

log = get_logger(__name__)


async def take_in(envelope: Envelope, uow: UnitOfWork) -> None:
    build = BUILDERS.get(envelope.type)
    workspace_id = envelope.workspace or str(envelope.data.get("workspace_id") or "")
    if build is None or not workspace_id:
        log.debug("trigger.ignored", event_type=envelope.type)
        return
    records = build(envelope)
    records = [await _placed(uow, workspace_id, record) for record in records]
    await repository.store(
        uow.session,
        [
            {
                "workspace_id": workspace_id,
                "trigger": record.trigger,
                "item_id": record.item_id,
                "event_id": envelope.id,
                "poll_id": record.poll_id,
                "project_id": record.project_id,
                "type_id": record.type_id,
                "staff_payload": record.staff,
                "client_payload": record.client,
                "occurred_at": envelope.time,
            }
            for record in records
        ],
    )
    await webhooks.fan_out(uow, workspace_id, envelope.id, records)


async def _placed(uow: UnitOfWork, workspace_id: str, record: Record) -> Record:
    """Time is logged on an item; the item's project (from its own events) places it."""
    if record.project_id is not None or record.item_id is None:
        return record
    project_id = await repository.project_of_item(uow.session, workspace_id, record.item_id)
    return replace(record, project_id=project_id)
