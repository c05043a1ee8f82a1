"""Storing and processing inbound mail.

Storing is the only thing done while the sender waits: the raw bytes and the route commit
before the listener answers 250 (or the endpoint 202), so a crash afterwards loses nothing;
the processor picks up every stored mail not yet processed. Processing records one outcome
per mail: accepted (an `email.received` event went out), ignored (loop, noise), held (a
staff address without that person's reply token) or failed (unreadable). A mail past its
sender's rate limit is refused while the sender waits (`ratelimit`) and recorded ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from uuid6 import uuid7

from contracts import registry
from contracts.notifications import EmailReceived, MailAttachment, RequesterDiscovered
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.directory import repository as directory
from services.notifications.directory.service import remember_requester
from services.notifications.inbound import repository
from services.notifications.inbound.parsing import ParsedMail, Unreadable, parse
from services.notifications.inbound.ratelimit import Refusal
from services.notifications.inbound.routing import Route
from services.notifications.inbound.screening import noise
from services.notifications.keys import Keys
from services.notifications.models import DirectoryItem, DirectoryPerson, InboundMail
from services.notifications.outbound import repository as outbound
from services.notifications.outbound.service import item_of_thread_root
from services.notifications.settings import NotificationsSettings
from services.notifications.textparts import sanitise_html, text_to_html

log = get_logger(__name__)

INSIDERS = frozenset({"staff", "collaborator"})


async def store(
    uow: UnitOfWork,
    *,
    route: Route,
    channel: str,
    mail_from: str,
    recipient: str,
    raw: bytes,
    refused: Refusal | None = None,
) -> str:
    """Record a mail as it arrived; the caller commits before acknowledging it. A mail
    `refused` for now (rate limit) is recorded with that outcome, for the processor to leave
    alone: the sender is told to try again, and its next attempt is a mail of its own."""
    mail_id, now = str(uuid7()), datetime.now(UTC)
    outcome: dict[str, object] = {"status": "received"}
    if refused is not None:
        outcome = {
            "status": "ignored",
            "reason": refused.reason,
            "processed_at": now,
            "message_id": (refused.head.message_id or "")[:255] or None,
            "subject": refused.head.subject,
        }
        log.info("mail.inbound", mail_id=mail_id, status="ignored", reason=refused.reason)
    await repository.insert(
        uow.session,
        {
            "id": mail_id,
            "workspace_id": route.workspace_id,
            "project_id": route.project_id,
            "reply_token": route.token,
            "channel": channel,
            "mail_from": mail_from[:320],
            "recipient": recipient[:320],
            "raw": raw,
            "size": len(raw),
            "received_at": now,
            **outcome,
        },
    )
    return mail_id


@dataclass(frozen=True)
class Processing:
    settings: NotificationsSettings
    keys: Keys
    public_url: str
    """Where other services fetch an inbound mail's attachments."""

    def attachment_url(self, mail_id: str, index: int) -> str:
        signature = self.keys.attachment_signature(mail_id, index)
        return f"{self.public_url}/inbound/{mail_id}/attachments/{index}?sig={signature}"


@dataclass(frozen=True)
class Thread:
    item: DirectoryItem | None
    token_user: str | None
    """The user the reply token in the recipient was minted for (a valid token only)."""


async def process(uow: UnitOfWork, row: InboundMail, how: Processing) -> None:
    """Decide the mail's fate and record it on the row (the caller commits)."""
    row.processed_at = datetime.now(UTC)
    try:
        mail = parse(row.raw, how.settings.max_attachments)
    except Unreadable as error:
        _outcome(row, "failed", str(error))
        return
    row.message_id = (mail.message_id or "")[:255] or None
    row.subject = mail.subject
    workspace_id = row.workspace_id
    if workspace_id is None:
        _outcome(row, "failed", "no workspace for the recipient")
        return
    reason = noise(
        mail,
        mail_from=row.mail_from,
        own_domain=how.settings.inbound_domain,
        own_addresses={how.settings.system_from.lower()},
    )
    if reason is not None:
        _outcome(row, "ignored", reason)
        return
    if not mail.sender_email:
        _outcome(row, "failed", "no valid From address")
        return
    session = uow.session
    thread = await _thread(uow, row, mail, how.keys)
    person = await directory.person_by_email(session, workspace_id, mail.sender_email)
    if person is not None and person.kind in INSIDERS and thread.token_user != person.id:
        _outcome(
            row,
            "held",
            "mail from a staff or collaborator address without that person's reply token "
            "(a From header can be forged): not posted",
        )
        return
    if person is not None and not person.active:
        _outcome(row, "ignored", "the sender's account is deactivated")
        return
    if person is None:
        sender_id = str(uuid7())
        await remember_requester(uow, workspace_id, sender_id, mail.sender_email, mail.sender_name)
        uow.emit(
            RequesterDiscovered(
                user_id=sender_id,
                workspace_id=workspace_id,
                email=mail.sender_email,
                display_name=mail.sender_name,
            ),
            workspace=workspace_id,
            subject=f"user/{sender_id}",
        )
    else:
        sender_id = person.id
    item = thread.item
    if item is not None and thread.token_user is None and not _belongs(item, person):
        # A subject number or a Message-ID can be guessed: without a token only the item's
        # own people reply to it; anyone else files a new request.
        item = None
    body_html = _body(mail, reply=item is not None)
    notes = []
    if mail.dropped_attachments:
        notes.append(
            f"{mail.dropped_attachments} attachments over the limit of "
            f"{how.settings.max_attachments} dropped"
        )
    message_id = mail.message_id or f"<inbound-{row.id}@{how.settings.inbound_domain}>"
    envelope = registry.envelope(
        EmailReceived(
            message_id=message_id,
            workspace_id=workspace_id,
            sender_user_id=sender_id,
            sender_email=mail.sender_email,
            sender_name=mail.sender_name,
            subject=mail.subject,
            body_html=body_html or "<p>(empty message)</p>",
            project_id=row.project_id,
            reply_to_item_id=item.id if item else None,
            attachments=[
                MailAttachment(
                    filename=attachment.filename,
                    content_type=attachment.content_type,
                    size=len(attachment.data),
                    url=how.attachment_url(row.id, index),
                )
                for index, attachment in enumerate(mail.attachments)
            ],
        ),
        workspace=workspace_id,
        subject=f"inbound/{row.id}",
    )
    uow.publish(envelope)
    row.sender_user_id = sender_id
    row.item_id = item.id if item else None
    row.event_id = envelope.id
    _outcome(row, "accepted", "; ".join(notes) or ("reply" if item else "new request"))


async def _thread(uow: UnitOfWork, row: InboundMail, mail: ParsedMail, keys: Keys) -> Thread:
    """Signed token in the recipient, then `[#number]` in the subject, then the Message-IDs
    the mail answers."""
    session, workspace_id = uow.session, str(row.workspace_id)
    if row.reply_token:
        token = await outbound.reply_token(session, row.reply_token)
        if (
            token is not None
            and token.workspace_id == workspace_id
            and keys.verify(row.reply_token, workspace_id, token.item_id, token.user_id)
        ):
            item = await directory.item(session, workspace_id, token.item_id)
            if item is not None and not item.deleted:
                return Thread(item, token.user_id)
    number = mail.subject_number
    if number is not None:
        item = await directory.item_by_number(session, workspace_id, number)
        if item is not None:
            return Thread(item, None)
    ids = mail.thread_ids
    for message_id in ids:
        item_id = item_of_thread_root(message_id)
        if item_id is not None:
            found = await directory.item(session, workspace_id, item_id)
            if found is not None and not found.deleted:
                return Thread(found, None)
    ours = await outbound.message_item(session, ids)
    item_id = ours[1] if ours and ours[0] == workspace_id else None
    item_id = item_id or await repository.item_of_messages(session, workspace_id, ids)
    if item_id is not None:
        found = await directory.item(session, workspace_id, item_id)
        if found is not None and not found.deleted:
            return Thread(found, None)
    return Thread(None, None)


def _belongs(item: DirectoryItem, person: DirectoryPerson | None) -> bool:
    if person is None:
        return False
    return person.id == item.requester_id or person.id in item.follower_ids


def _body(mail: ParsedMail, *, reply: bool) -> str:
    """A reply keeps only its new text; a new request its sanitised HTML (or its text)."""
    if reply:
        return text_to_html(mail.new_text())
    if mail.html.strip():
        return sanitise_html(mail.html)
    return text_to_html(mail.plain_text())


def _outcome(row: InboundMail, status: str, reason: str) -> None:
    row.status, row.reason = status, reason
    log.info("mail.inbound", mail_id=row.id, status=status, reason=reason)
