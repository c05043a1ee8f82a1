"""Files of an inbound mail become attachments of the item (or reply) it became.

Notifications announces each file with a signed link; the bytes are fetched while the mail's
event is handled, so a failed fetch fails the delivery and the bus retries it (the item and
its files are written together, or not at all). Files of a refused type or over the size
limit are left out and noted in the item's history, as an upload of them would be refused."""

from __future__ import annotations

import httpx

from contracts.notifications import MailAttachment
from kit.settings import Settings
from kit.uow import UnitOfWork
from services.tickets.attachments import repository
from services.tickets.attachments.service import content_type_of, display_name, refused
from services.tickets.attachments.storage import new_key, storage_for
from services.tickets.ids import new_id, now
from services.tickets.items import service as items
from services.tickets.items.consumers import system
from services.tickets.models import Attachment, Item
from services.tickets.settings import get_settings

FETCH_TIMEOUT = 60.0


async def attach_mailed(
    uow: UnitOfWork,
    row: Item,
    files: list[MailAttachment],
    *,
    uploaded_by: str,
    comment_id: str | None,
) -> None:
    if not files:
        return
    storage = storage_for(Settings())
    max_bytes = get_settings().attachment_max_bytes
    actor = system(row.workspace_id, "mail")
    left_out: list[str] = []
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as client:
        for file in files:
            filename, content_type = display_name(file.filename), content_type_of(file.content_type)
            if refused(filename, content_type) or file.size > max_bytes:
                left_out.append(filename)
                continue
            response = await client.get(file.url)
            response.raise_for_status()  # notifications away: the delivery is retried
            data = response.content
            key = new_key()
            await storage.put(key, data)
            attachment = Attachment(
                id=new_id(),
                workspace_id=row.workspace_id,
                item_id=row.id,
                comment_id=comment_id,
                filename=filename,
                content_type=content_type,
                size=len(data),
                storage_key=key,
                visibility="public",
                uploaded_by=uploaded_by,
                created_at=now(),
            )
            repository.add(uow.session, attachment)
            items.record(
                uow,
                row,
                actor,
                "attachment_added",
                {"attachment_id": attachment.id, "filename": filename, "size": len(data)},
            )
    if left_out:
        items.record(uow, row, actor, "mail_attachments_refused", {"filenames": left_out})
