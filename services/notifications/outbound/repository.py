"""Queries of the outgoing-mail queue and the reply tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.models import OutgoingMail, ReplyToken


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
