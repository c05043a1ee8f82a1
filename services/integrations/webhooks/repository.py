"""Queries of endpoints, deliveries and the delivery log."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db.tables import table_of
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


async def deliveries_by_id(
    session: AsyncSession, delivery_ids: Collection[str]
) -> dict[str, WebhookDelivery]:
    if not delivery_ids:
        return {}
    result = await session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id.in_(sorted(delivery_ids)))
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


@dataclass(frozen=True)
class Due:
    """A pending delivery whose time has come: what an attempt needs of it."""

    id: str
    workspace_id: str
    endpoint_id: str
    body: str
    attempts: int


@dataclass(frozen=True)
class Target:
    """What an attempt needs of its endpoint."""

    id: str
    url: str
    enabled: bool
    max_concurrency: int
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None


# The dispatcher's statements are Core statements on the tables, built once: they run once
# or twice per batch on every delivery, where building a statement, going through the ORM's
# bulk paths and loading or flushing ORM objects cost more than the statement itself.
_DELIVERIES = table_of(WebhookDelivery).c
_ENDPOINTS = table_of(WebhookEndpoint).c
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)


def _due_statement(*, busy: bool, skip_locked: bool) -> Select[Any]:
    d = _DELIVERIES
    statement = select(d.id, d.workspace_id, d.endpoint_id, d.body, d.attempts).where(
        d.status == "pending", d.next_attempt_at <= bindparam("now")
    )
    if busy:
        statement = statement.where(d.endpoint_id.not_in(bindparam("busy", expanding=True)))
    statement = statement.order_by(d.next_attempt_at).limit(bindparam("limit"))
    return statement.with_for_update(skip_locked=True) if skip_locked else statement


_DUE = {
    (busy, skip_locked): _due_statement(busy=busy, skip_locked=skip_locked)
    for busy in (False, True)
    for skip_locked in (False, True)
}
_TARGETS = select(
    _ENDPOINTS.id,
    _ENDPOINTS.url,
    _ENDPOINTS.enabled,
    _ENDPOINTS.max_concurrency,
    _ENDPOINTS.secret,
    _ENDPOINTS.previous_secret,
    _ENDPOINTS.previous_secret_expires_at,
).where(_ENDPOINTS.id.in_(_IDS))
_LEASE = (
    update(table_of(WebhookDelivery))
    .where(_DELIVERIES.id.in_(_IDS))
    .values(attempts=_DELIVERIES.attempts + 1, next_attempt_at=bindparam("until"))
)
_FINISH = (
    update(table_of(WebhookDelivery))
    .where(_DELIVERIES.id.in_(_IDS))
    .values(
        status=bindparam("status"),
        finished_at=bindparam("at"),
        last_status_code=bindparam("status_code"),
        last_error=bindparam("error"),
    )
    .returning(_DELIVERIES.id)
)
_CLEAR_FAILING = (
    update(table_of(WebhookEndpoint))
    .where(_ENDPOINTS.id.in_(_IDS), _ENDPOINTS.failing_since.is_not(None))
    .values(failing_since=None)
)
_LOG_ATTEMPTS = insert(table_of(WebhookAttempt))
_ADD_DELIVERIES = insert(table_of(WebhookDelivery))


async def due(
    session: AsyncSession,
    now: datetime,
    *,
    busy: Collection[str],
    limit: int,
    skip_locked: bool,
) -> list[Due]:
    """Pending deliveries whose time has come, oldest due first, leaving out endpoints that
    have no free slot (so a backlog of one endpoint never hides the others' deliveries).
    On PostgreSQL the rows stay locked until the claim commits (`SKIP LOCKED` for the
    other replicas)."""
    params: dict[str, Any] = {"now": now, "limit": limit}
    if busy:
        params["busy"] = sorted(busy)
    result = await session.execute(_DUE[bool(busy), skip_locked], params)
    return [Due(*row) for row in result]


async def targets(session: AsyncSession, endpoint_ids: Collection[str]) -> dict[str, Target]:
    if not endpoint_ids:
        return {}
    result = await session.execute(_TARGETS, {"ids": sorted(endpoint_ids)})
    return {row.id: Target(*row) for row in result}


async def lease(session: AsyncSession, delivery_ids: Collection[str], until: datetime) -> None:
    """Claimed: one more attempt, and not due again before `until` (the lease)."""
    if delivery_ids:
        await session.execute(_LEASE, {"ids": sorted(delivery_ids), "until": until})


async def finish(
    session: AsyncSession,
    delivery_ids: Collection[str],
    *,
    status: str,
    at: datetime,
    status_code: int | None,
    error: str | None,
) -> set[str]:
    """Close these deliveries with one outcome; the ids that still existed."""
    if not delivery_ids:
        return set()
    result = await session.execute(
        _FINISH,
        {
            "ids": sorted(delivery_ids),
            "status": status,
            "at": at,
            "status_code": status_code,
            "error": error,
        },
    )
    return set(result.scalars())


async def clear_failing(session: AsyncSession, endpoint_ids: Collection[str]) -> None:
    """These endpoints answered: they are not failing any more."""
    if endpoint_ids:
        await session.execute(_CLEAR_FAILING, {"ids": sorted(endpoint_ids)})


async def log_attempts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_LOG_ATTEMPTS, list(rows))


async def add_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_ADD_DELIVERIES, list(rows))


async def fail_pending(session: AsyncSession, endpoint_id: str, now: datetime, reason: str) -> None:
    """An endpoint switched off: what still waits for it will not be attempted."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="failed", finished_at=now, last_error=reason[:500])
    )
