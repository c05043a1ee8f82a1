"""The outbox relay: moves committed events from a service's outbox table to the bus.

It publishes in sequence order with publisher confirms and marks rows sent in
the same transaction that selected them. A crash between publish and mark
means the batch is published again; consumers' inboxes absorb the duplicate.
On PostgreSQL the batch is claimed `FOR UPDATE SKIP LOCKED`, so several relays
(several replicas of one service) never publish the same row twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kit.bus.base import Bus, OutgoingMessage, PublishOutcome
from kit.db.tables import OUTBOX
from kit.logging import get_logger
from kit.metrics import EVENTS_PUBLISHED, OUTBOX_LAG, OUTBOX_PENDING

log = get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        service: str,
        engine: AsyncEngine,
        bus: Bus,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self.service = service
        self._engine = engine
        self._bus = bus
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._skip_locked = engine.dialect.name == "postgresql"
        self._lag_observed_at = 0.0

    def wake(self) -> None:
        """Called after a commit that wrote events, so they leave at once rather than at the
        next poll; the poll is the fallback for commits made by another process."""
        self._wake.set()

    async def run(self) -> None:
        backoff = self._poll_interval
        while True:
            try:
                while await self.relay_batch() == self._batch_size:
                    pass
                backoff = self._poll_interval
            except Exception as error:  # broker or database away: keep the rows, try later
                log.warning("outbox relay paused", service=self.service, error=repr(error))
                backoff = min(backoff * 2, 10.0)
                await asyncio.sleep(backoff)
                continue
            await self._observe_lag()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
            self._wake.clear()

    async def relay_batch(self) -> int:
        """Publish one batch of unsent rows; returns how many rows it took."""
        statement = (
            select(OUTBOX.c.seq, OUTBOX.c.event_id, OUTBOX.c.event_type, OUTBOX.c.payload)
            .where(OUTBOX.c.sent_at.is_(None))
            .order_by(OUTBOX.c.seq)
            .limit(self._batch_size)
        )
        if self._skip_locked:
            statement = statement.with_for_update(skip_locked=True)
        async with self._engine.begin() as connection:
            rows = (await connection.execute(statement)).all()
            if not rows:
                return 0
            outcomes = await self._bus.publish(
                [
                    OutgoingMessage(
                        routing_key=row.event_type,
                        message_id=row.event_id,
                        body=row.payload.encode(),
                    )
                    for row in rows
                ]
            )
            await connection.execute(
                update(OUTBOX)
                .where(OUTBOX.c.seq.in_([row.seq for row in rows]))
                .values(sent_at=datetime.now(UTC))
            )
        confirmed = sum(outcome is PublishOutcome.CONFIRMED for outcome in outcomes)
        EVENTS_PUBLISHED.labels(self.service, "confirmed").inc(confirmed)
        if unroutable := len(outcomes) - confirmed:
            # No queue is bound for these types yet: nobody subscribed, nothing to deliver.
            EVENTS_PUBLISHED.labels(self.service, "unroutable").inc(unroutable)
        return len(rows)

    async def pending(self) -> tuple[int, float]:
        """Unsent rows and the age in seconds of the oldest one."""
        async with self._engine.connect() as connection:
            count, oldest = (
                await connection.execute(
                    select(func.count(), func.min(OUTBOX.c.created_at)).where(
                        OUTBOX.c.sent_at.is_(None)
                    )
                )
            ).one()
        if oldest is None:
            return int(count), 0.0
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return int(count), (datetime.now(UTC) - oldest).total_seconds()

    async def _observe_lag(self) -> None:
        # At most every few seconds: the gauge is for dashboards, not for the hot path.
        now = asyncio.get_running_loop().time()
        if now - self._lag_observed_at < 5.0:
            return
        self._lag_observed_at = now
        try:
            count, lag = await self.pending()
        except Exception as error:  # metrics must never stop the relay
            log.debug("outbox lag unavailable", error=repr(error))
            return
        OUTBOX_PENDING.labels(self.service).set(count)
        OUTBOX_LAG.labels(self.service).set(lag)
