"""Queries of the outgoing-mail queue and the reply tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, literal, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.models import InboundMail, OutgoingMail, ReplyToken

SEEN = ("queued", "sent")
"""Mails a recipient has had or is about to have (not those refused, given up or skipped)."""


async def insert_once(session: AsyncSession, row: Mapping[str, Any]) -> bool:
    """Queue the mail unless this (workspace, dedupe key, recipient) already has one."""
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = postgresql.insert(OutgoingMail).on_conflict_do_nothing(
            index_elements=["workspace_id", "dedupe_key", "recipient"]
        )
    else:
        stmt = sqlite.insert(OutgoingMail).on_conflict_do_nothing(
            index_elements=["workspace_id", "dedupe_key", "recipient"]
        )
    result = await session.execute(stmt.values(dict(row)).returning(OutgoingMail.id))
    return result.first() is not None


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> Sequence[OutgoingMail]:
    """Due mails, leased to this sender until `lease_until` (another replica skips them; one
    whose sender died is due again when the lease ends)."""
    query = (
        select(OutgoingMail)
        .where(OutgoingMail.status == "queued", OutgoingMail.next_attempt_at <= now)
        .order_by(OutgoingMail.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await session.scalars(query)).all())
    for row in rows:
        row.next_attempt_at = lease_until
        row.attempts += 1
    return rows


async def record(session: AsyncSession, mail_id: str, **values: Any) -> None:
    await session.execute(update(OutgoingMail).where(OutgoingMail.id == mail_id).values(**values))


async def record_sent(session: AsyncSession, mail_ids: Sequence[str], at: datetime) -> None:
    if mail_ids:
        await session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id.in_(list(mail_ids)))
            .values(status="sent", sent_at=at, last_error=None)
        )


async def message_item(session: AsyncSession, message_ids: Sequence[str]) -> tuple[str, str] | None:
    """(workspace, item) of the newest of our own mails among `message_ids`."""
    if not message_ids:
        return None
    row = (
        await session.execute(
            select(OutgoingMail.workspace_id, OutgoingMail.item_id)
            .where(
                OutgoingMail.message_id.in_(list(message_ids)), OutgoingMail.item_id.is_not(None)
            )
            .order_by(OutgoingMail.created_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None or row.item_id is None else (row.workspace_id, row.item_id)


async def conversation(session: AsyncSession, mail: OutgoingMail, depth: int) -> list[str]:
    """Message-IDs of the item's conversation as this mail's recipient has it, oldest first:
    at most the `depth` latest before this mail of our mails to them about the item and of
    their own mails on it (a reply through a notice, a mailed request)."""
    if mail.item_id is None:
        return []
    ours = select(
        OutgoingMail.message_id.label("message_id"),
        OutgoingMail.created_at.label("at"),
        OutgoingMail.id.label("tie"),
    ).where(
        OutgoingMail.workspace_id == mail.workspace_id,
        OutgoingMail.item_id == mail.item_id,
        OutgoingMail.recipient == mail.recipient,
        OutgoingMail.status.in_(SEEN),
        or_(
            OutgoingMail.created_at < mail.created_at,
            and_(OutgoingMail.created_at == mail.created_at, OutgoingMail.id < mail.id),
        ),
    )
    parts: list[Any] = [ours]
    if mail.user_id is not None:
        parts.append(
            select(
                InboundMail.message_id.label("message_id"),
                InboundMail.received_at.label("at"),
                literal("").label("tie"),
            ).where(
                InboundMail.workspace_id == mail.workspace_id,
                InboundMail.item_id == mail.item_id,
                InboundMail.sender_user_id == mail.user_id,
                InboundMail.status == "accepted",
                InboundMail.message_id.is_not(None),
                InboundMail.received_at <= mail.created_at,
            )
        )
    both = union_all(*parts).subquery()
    rows = await session.execute(
        select(both.c.message_id).order_by(both.c.at.desc(), both.c.tie.desc()).limit(depth)
    )
    return [row.message_id for row in rows][::-1]


async def reply_token(session: AsyncSession, token: str) -> ReplyToken | None:
    return await session.get(ReplyToken, token.lower())


async def save_reply_token(
    session: AsyncSession, token: str, workspace_id: str, item_id: str, user_id: str
) -> None:
    row = {"token": token, "workspace_id": workspace_id, "item_id": item_id, "user_id": user_id}
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = postgresql.insert(ReplyToken).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(ReplyToken).on_conflict_do_nothing()
    await session.execute(stmt.values(row))
