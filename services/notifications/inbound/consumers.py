"""Linking a mailed request to the ticket it became, so a later reply that only carries the
request's Message-ID (In-Reply-To/References) finds the ticket."""

from __future__ import annotations

from contracts import Envelope, registry
from contracts.tickets import ItemCreated
from kit.consumers import Consumer
from kit.uow import UnitOfWork
from services.notifications.inbound import repository


async def on_item_created(envelope: Envelope, uow: UnitOfWork) -> None:
    """Tickets creates the item while handling our `email.received`, so the item's event is
    caused by ours (its `causationid` is our event's id)."""
    if envelope.causationid is None or envelope.workspace is None:
        return
    created = registry.parse_as(envelope, ItemCreated)
    if created.channel != "email":
        return
    await repository.link_item(
        uow.session, envelope.workspace, envelope.causationid, str(created.item.id)
    )


CONSUMERS = [Consumer("inbound-threads", ["tickets.item.created.v1"], on_item_created)]
