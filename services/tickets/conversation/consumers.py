"""Mail that notifications accepted: a new request becomes a ticket, a reply a comment."""

from __future__ import annotations

from contracts import Envelope
from contracts.notifications import EmailReceived
from kit import context
from kit.consumers import Consumer
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.tickets import defaults
from services.tickets.attachments.mailed import attach_mailed
from services.tickets.conversation import service
from services.tickets.items import repository as items_repository
from services.tickets.items import service as items
from services.tickets.items.consumers import system
from services.tickets.items.schemas import ItemCreate
from services.tickets.people.repository import locked_or_placeholder, real_id
from services.tickets.people.service import apply_requester_merge
from services.tickets.types import service as types
from services.tickets.types.service import TypeDefinition

log = get_logger(__name__)


async def on_email_received(envelope: Envelope, uow: UnitOfWork) -> None:
    mail = EmailReceived.model_validate(envelope.data)
    workspace = str(mail.workspace_id)
    # A minted id that identity found to be an existing user's (merged before this mail
    # arrived) is that user.
    sender = await real_id(uow.session, workspace, str(mail.sender_user_id))
    # The sender may be brand new (identity is adopting the id notifications minted): hold a
    # placeholder so the item has its requester now; identity's event completes it later.
    person = await locked_or_placeholder(uow.session, workspace, sender)
    with context.working(actor=f"user:{sender}"):
        if mail.reply_to_item_id is not None:
            row = await items_repository.item(uow.session, workspace, str(mail.reply_to_item_id))
            if row is not None:
                loaded = await items.load(uow, system(workspace, "mail"), row.id, "view")
                comment = await service.post(
                    uow,
                    loaded,
                    sender,
                    mail.body_html,
                    "public",
                    "email",
                    message_id=mail.message_id,
                )
                await attach_mailed(
                    uow, loaded.row, mail.attachments, uploaded_by=sender, comment_id=comment.id
                )
                return
            log.info("reply to an unknown item becomes a new ticket", message_id=mail.message_id)
        project_id = str(mail.project_id) if mail.project_id else None
        project = (
            await items_repository.project(uow.session, workspace, project_id)
            if project_id
            else None
        )
        intake_project_id, definition = await _filing(uow, workspace)
        if project is None or project.archived_at is not None:
            project_id = intake_project_id
        if project_id is None:
            log.error("no project to file a mailed request in", workspace=workspace)
            return
        body = ItemCreate(
            project_id=project_id,
            title=(mail.subject or "(no subject)")[:500],
            description=mail.body_html,
            requester_id=sender,
        )
        actor = system(workspace, "mail")
        created = await items.insert(
            uow,
            workspace,
            project_id,
            definition,
            definition.statuses[0],
            body,
            {},
            sender,
            person.client_organisation_id,
            [],
            None,
            "email",
            actor,
        )
        await attach_mailed(uow, created.row, mail.attachments, uploaded_by=sender, comment_id=None)


async def _filing(uow: UnitOfWork, workspace: str) -> tuple[str | None, TypeDefinition]:
    """The workspace's intake project and the type (share-locked) mailed requests become.

    Asked once per transaction: the deliveries of a group-committed batch are mostly new
    requests to one workspace, and the type's lock holds until the batch commits anyway.
    """
    key = ("tickets.mail-filing", workspace)
    known: tuple[str | None, TypeDefinition] | None = uow.memo.get(key)
    if known is None:
        known = (
            await defaults.intake_project_id(uow.session, workspace),
            await types.type_for_new_item(uow.session, workspace, None, "ticket"),
        )
        uow.memo[key] = known
    return known


async def on_mail_or_merge(envelope: Envelope, uow: UnitOfWork) -> None:
    if envelope.type == "identity.requester.merged.v1":
        await apply_requester_merge(envelope, uow)
    else:
        await on_email_received(envelope, uow)


# A merge of a mail's sender shares the mails' queue: one batch at a time per consumer, so a
# merge and the mailed request it concerns are never filed in concurrent transactions (each
# would miss the other's uncommitted rows); in either order one sees the other's result.
CONSUMERS = [
    Consumer(
        "email-received",
        ["notifications.email.received.v1", "identity.requester.merged.v1"],
        on_mail_or_merge,
    )
]
