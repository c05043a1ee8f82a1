"""Queueing mail. Whoever decides a mail (a follower's notice, an acknowledgement, a rule's
message, an unread in-app notification) queues it here inside its own unit of work, so the
decision and the mail exist together or not at all; the sender task delivers it later, and
no API call ever waits on SMTP."""

from __future__ import annotations

from datetime import UTC, datetime

from uuid6 import uuid7

from kit.uow import UnitOfWork
from services.notifications.outbound import repository
from services.notifications.settings import get_settings


def new_message_id() -> str:
    return f"<{uuid7()}@{get_settings().inbound_domain}>"


async def queue_mail(
    uow: UnitOfWork,
    *,
    workspace_id: str,
    user_id: str,
    dedupe_key: str,
    kind: str,
    subject: str,
    text: str,
    html: str,
    item_id: str | None = None,
) -> bool:
    """Queue a mail to a user of the workspace (their address is looked up when it is sent,
    so a person whose creation has not arrived yet is still mailed once it does).

    `dedupe_key` names why the mail exists (e.g. `comment:<id>`, `feed:<notification id>`):
    a second call with the same key for the same user queues nothing. Returns whether the
    mail was queued now. The subject and bodies are sent as given, branded by the caller."""
    return await _queue(
        uow,
        workspace_id=workspace_id,
        recipient=f"user:{user_id}",
        user_id=user_id,
        to_address=None,
        dedupe_key=dedupe_key,
        kind=kind,
        subject=subject,
        text=text,
        html=html,
        item_id=item_id,
    )


async def queue_mail_to_address(
    uow: UnitOfWork,
    *,
    workspace_id: str,
    address: str,
    dedupe_key: str,
    kind: str,
    subject: str,
    text: str,
    html: str,
    item_id: str | None = None,
) -> bool:
    """As `queue_mail`, to an address that is nobody's account (e.g. a rule's recipient)."""
    return await _queue(
        uow,
        workspace_id=workspace_id,
        recipient=f"email:{address.lower()}",
        user_id=None,
        to_address=address,
        dedupe_key=dedupe_key,
        kind=kind,
        subject=subject,
        text=text,
        html=html,
        item_id=item_id,
    )


async def _queue(
    uow: UnitOfWork,
    *,
    workspace_id: str,
    recipient: str,
    user_id: str | None,
    to_address: str | None,
    dedupe_key: str,
    kind: str,
    subject: str,
    text: str,
    html: str,
    item_id: str | None,
) -> bool:
    now = datetime.now(UTC)
    return await repository.insert_once(
        uow.session,
        {
            "id": str(uuid7()),
            "workspace_id": workspace_id,
            "dedupe_key": dedupe_key[:200],
            "recipient": recipient[:340],
            "user_id": user_id,
            "to_address": to_address,
            "kind": kind[:64],
            "subject": subject,
            "text": text,
            "html": html,
            "item_id": item_id,
            "message_id": new_message_id(),
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


def thread_root(item_id: str) -> str:
    """The Message-ID every mail about an item refers to, so mail clients keep an item's
    conversation in one thread and a reply's In-Reply-To/References lead back to it."""
    return f"<item-{item_id}@{get_settings().inbound_domain}>"


def item_of_thread_root(message_id: str) -> str | None:
    value = message_id.strip().strip("<>")
    prefix, suffix = "item-", f"@{get_settings().inbound_domain}"
    if value.startswith(prefix) and value.endswith(suffix):
        return value[len(prefix) : -len(suffix)] or None
    return None


def reply_address(token: str) -> str:
    return f"reply+{token}@{get_settings().inbound_domain}"
