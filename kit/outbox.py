"""The outbox relay: moves committed events from a service's outbox table to the bus.

It publishes in sequence order with publisher confirms and marks rows sent in
the same transaction that selected them. A crash between publish and mark
means the batch is published again; consumers' inboxes absorb the duplicate.
On PostgreSQL the batch is claimed `FOR UPDATE SKIP LOCKED`, so several relays
(several replicas of one service) never publish the same row twice at once.

A busy relay — woken again within `linger` of its last batch — lingers that long before
claiming, so that under load one batch (three round trips on PostgreSQL: begin,
claim-and-mark, commit) carries the events of many commits instead of one each. A relay
woken after a quiet moment claims at once: a lone event leaves without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, Update, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from kit.bus.base import Bus, OutgoingMessage, PublishOutcome
from kit.db.tables import OUTBOX
from kit.logging import get_logger
from kit.metrics import EVENTS_PUBLISHED, OUTBOX_LAG, OUTBOX_PENDING

log = get_logger(__name__)

_COLUMNS = (OUTBOX.c.seq, OUTBOX.c.event_id, OUTBOX.c.event_type, OUTBOX.c.payload)


def _unsent(*, skip_locked: bool) -> Select[Any]:
    statement = (
        select(OUTBOX.c.seq)
        .where(OUTBOX.c.sent_at.is_(None))
        .order_by(OUTBOX.c.seq)
        .limit(bindparam("batch_size"))
    )
    return statement.with_for_update(skip_locked=True) if skip_locked else statement


# Built once: the relay runs these for every batch.
# PostgreSQL: claim (row locks, skipping rows another relay holds) and mark in one statement;
# the rows' sent_at only becomes visible if the publish below succeeds and the batch commits.
_CLAIM_AND_MARK: Update = (
    update(OUTBOX)
    .where(OUTBOX.c.seq.in_(_unsent(skip_locked=True).scalar_subquery()))
    .values(sent_at=bindparam("sent_at"))
    .returning(*_COLUMNS)
)
# SQLite (one relay per database, writers serialised): read the batch, then mark it.
_BATCH = (
    select(*_COLUMNS)
    .where(OUTBOX.c.sent_at.is_(None))
    .order_by(OUTBOX.c.seq)
    .limit(bindparam("batch_size"))
)
_MARK = (
    update(OUTBOX)
    .where(OUTBOX.c.seq.in_(bindparam("seqs", expanding=True)))
    .values(sent_at=bindparam("sent_at"))
)


class OutboxRelay:
    def __init__(
        self,
        service: str,
        engine: AsyncEngine,
        bus: Bus,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        linger: float = 0.0,
    ) -> None:
        self.service = service
        self._engine = engine
        self._bus = bus
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._linger = linger
        self._wake = asyncio.Event()
        self._skip_locked = engine.dialect.name == "postgresql"
        self._lag_observed_at = 0.0
        self._relayed_at = float("-inf")

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
            now = asyncio.get_running_loop().time()
            if self._wake.is_set() and now - self._relayed_at < self._linger:
                # Commits arriving meanwhile join this batch (their wake-ups are absorbed).
                await asyncio.sleep(self._linger)
            self._wake.clear()

    async def relay_batch(self) -> int:
        """Publish one batch of unsent rows; returns how many rows it took."""
        marked_at = datetime.now(UTC)
        async with self._engine.begin() as connection:
            if self._skip_locked:
                claimed = await connection.execute(
                    _CLAIM_AND_MARK, {"batch_size": self._batch_size, "sent_at": marked_at}
                )
                # RETURNING follows no order; events leave in the order they were written.
                rows = sorted(claimed.all(), key=lambda row: row.seq)
            else:
                rows = list(
                    (await connection.execute(_BATCH, {"batch_size": self._batch_size})).all()
                )
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
            if not self._skip_locked:
                await connection.execute(
                    _MARK, {"seqs": [row.seq for row in rows], "sent_at": marked_at}
                )
        self._relayed_at = asyncio.get_running_loop().time()
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
