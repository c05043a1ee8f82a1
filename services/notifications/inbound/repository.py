"""Queries of the stored inbound mail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.models import InboundMail


async def insert_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """One multi-row INSERT, without loading the rows into the session: nothing reads them
    back in the transaction that stores them. Every row names every column it sets, so the
    rows share one statement."""
    if rows:
        await session.execute(insert(InboundMail), list(rows))


async def record_outcomes(session: AsyncSession, outcomes: Sequence[Mapping[str, Any]]) -> None:
    """Processing's outcomes, by mail id, in one statement (every outcome naming the same
    columns)."""
    if outcomes:
        await session.execute(update(InboundMail), list(outcomes))


async def pending(session: AsyncSession, limit: int) -> list[tuple[str, str]]:
    """Stored mails not processed yet, oldest first: (id, envelope sender)."""
    rows = await session.execute(
        select(InboundMail.id, InboundMail.mail_from)
        .where(InboundMail.status == "received")
        .order_by(InboundMail.received_at, InboundMail.id)
        .limit(limit)
    )
    return [(mail_id, mail_from) for mail_id, mail_from in rows]


async def claim(session: AsyncSession, mail_id: str) -> InboundMail | None:
    """The mail, locked for this transaction, if still unprocessed (another replica's worker
    skips it)."""
    query = select(InboundMail).where(InboundMail.id == mail_id, InboundMail.status == "received")
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await session.scalar(query)


async def claim_many(session: AsyncSession, mail_ids: Sequence[str]) -> list[InboundMail]:
    """As `claim`, for several mails at once (oldest first)."""
    query = (
        select(InboundMail)
        .where(InboundMail.id.in_(list(mail_ids)), InboundMail.status == "received")
        .order_by(InboundMail.received_at, InboundMail.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(await session.scalars(query))


async def item_of_messages(
    session: AsyncSession, workspace_id: str, message_ids: Sequence[str]
) -> str | None:
    if not message_ids:
        return None
    return await session.scalar(
        select(InboundMail.item_id)
        .where(
            InboundMail.workspace_id == workspace_id,
            InboundMail.message_id.in_(list(message_ids)),
            InboundMail.item_id.is_not(None),
        )
        .order_by(InboundMail.received_at.desc())
        .limit(1)
    )


async def link_item(session: AsyncSession, workspace_id: str, event_id: str, item_id: str) -> None:
    await session.execute(
        update(InboundMail)
        .where(InboundMail.workspace_id == workspace_id, InboundMail.event_id == event_id)
        .values(item_id=item_id)
    )


async def get(session: AsyncSession, workspace_id: str, mail_id: str) -> InboundMail | None:
    return await session.scalar(
        select(InboundMail).where(
            InboundMail.workspace_id == workspace_id, InboundMail.id == mail_id
        )
    )


async def page(
    session: AsyncSession, workspace_id: str, status: str | None, after: str | None, limit: int
) -> list[InboundMail]:
    query = select(InboundMail).where(InboundMail.workspace_id == workspace_id)
    if status:
        query = query.where(InboundMail.status == status)
    if after:
        query = query.where(InboundMail.id < after)
    rows = await session.scalars(query.order_by(InboundMail.id.desc()).limit(limit))
    return list(rows)


async def by_id(session: AsyncSession, mail_id: str) -> InboundMail | None:
    """For the signed attachment links only (the signature stands in for the tenant check)."""
    return await session.get(InboundMail, mail_id)
