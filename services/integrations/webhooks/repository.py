"""Queries of endpoints, deliveries and the delivery log."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


async def endpoint(
    session: AsyncSession, workspace_id: str, endpoint_id: str
) -> WebhookEndpoint | None:
    result = await session.execute(
        select(WebhookEndpoint).where(
            WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.id == endpoint_id
        )
    )
    return result.scalar_one_or_none()


async def endpoints(
    session: AsyncSession, workspace_id: str, *, source: str | None = None
) -> list[WebhookEndpoint]:
    statement = select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace_id)
    if source is not None:
        statement = statement.where(WebhookEndpoint.source == source)
    result = await session.execute(statement.order_by(WebhookEndpoint.created_at))
    return list(result.scalars())


async def enabled_endpoints(session: AsyncSession, workspace_id: str) -> list[WebhookEndpoint]:
    result = await session.execute(
        select(WebhookEndpoint).where(
            WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.enabled.is_(True)
        )
    )
    return list(result.scalars())


async def endpoints_by_id(
    session: AsyncSession, endpoint_ids: Collection[str]
) -> dict[str, WebhookEndpoint]:
    if not endpoint_ids:
        return {}
    result = await session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.id.in_(sorted(endpoint_ids)))
    )
    return {row.id: row for row in result.scalars()}


async def delivery(
    session: AsyncSession, workspace_id: str, endpoint_id: str, delivery_id: str
) -> WebhookDelivery | None:
    result = await session.execute(
        select(WebhookDelivery).where(
            WebhookDelivery.workspace_id == workspace_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.id == delivery_id,
        )
    )
    return result.scalar_one_or_none()


async def deliveries(
    session: AsyncSession, workspace_id: str, endpoint_id: str, *, before: str | None, limit: int
) -> list[WebhookDelivery]:
    """Newest first; ids are time-ordered, so the cursor is the last id seen."""
    statement = select(WebhookDelivery).where(
        WebhookDelivery.workspace_id == workspace_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    if before is not None:
        statement = statement.where(WebhookDelivery.id < before)
    result = await session.execute(statement.order_by(WebhookDelivery.id.desc()).limit(limit))
    return list(result.scalars())


async def attempts_of(
    session: AsyncSession, workspace_id: str, delivery_ids: Collection[str]
) -> list[WebhookAttempt]:
    if not delivery_ids:
        return []
    result = await session.execute(
        select(WebhookAttempt)
        .where(
            WebhookAttempt.workspace_id == workspace_id,
            WebhookAttempt.delivery_id.in_(sorted(delivery_ids)),
        )
        .order_by(WebhookAttempt.seq)
    )
    return list(result.scalars())


async def due(
    session: AsyncSession,
    now: datetime,
    *,
    busy: Collection[str],
    limit: int,
    skip_locked: bool,
) -> list[WebhookDelivery]:
    """Pending deliveries whose time has come, oldest due first, leaving out endpoints that
    have no free slot (so a backlog of one endpoint never hides the others' deliveries)."""
    statement = select(WebhookDelivery).where(
        WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now
    )
    if busy:
        statement = statement.where(WebhookDelivery.endpoint_id.not_in(sorted(busy)))
    statement = statement.order_by(WebhookDelivery.next_attempt_at).limit(limit)
    if skip_locked:
        statement = statement.with_for_update(skip_locked=True)
    return list((await session.execute(statement)).scalars())


async def fail_pending(session: AsyncSession, endpoint_id: str, now: datetime, reason: str) -> None:
    """An endpoint switched off: what still waits for it will not be attempted."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="failed", finished_at=now, last_error=reason[:500])
    )
