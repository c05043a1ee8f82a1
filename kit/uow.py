"""The unit of work: one database transaction plus the events it records, committed at the edge.

Service code adds rows and calls `publish`; only the edge (the end of a
request or of a consumed message) calls `commit`. Events go into the outbox in
the same transaction as the change, so a change and its events exist together
or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts import Envelope, EventData, registry
from kit import context
from kit.db.driver import DriverStatement
from kit.db.tables import OUTBOX

# Built once: every commit that recorded events runs one of them.
_INSERT_OUTBOX = insert(OUTBOX)
_INSERT_ONE_EVENT = DriverStatement(
    insert(OUTBOX).values(
        event_id=bindparam("event_id"),
        event_type=bindparam("event_type"),
        payload=bindparam("payload"),
        created_at=bindparam("created_at"),
    )
)


def stamp(envelope: Envelope) -> Envelope:
    """Fill correlation, causation, actor and workspace from the running context where unset."""
    cause = context.current()
    # Outside any request or message, the event starts its own correlation chain.
    updates: dict[str, Any] = {}
    if envelope.correlationid is None:
        updates["correlationid"] = cause.correlation_id or envelope.id
    if envelope.causationid is None and cause.causation_id is not None:
        updates["causationid"] = cause.causation_id
    if envelope.actor is None and cause.actor is not None:
        updates["actor"] = cause.actor
    if envelope.workspace is None and cause.workspace is not None:
        updates["workspace"] = cause.workspace
    return envelope.model_copy(update=updates) if updates else envelope


class UnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._session_factory = session_factory
        self._on_commit = on_commit
        self._session: AsyncSession | None = None
        self._pending: list[Envelope] = []
        self.memo: dict[Hashable, Any] = {}
        """What a handler found out that holds for this transaction (e.g. a row it locked),
        so the other deliveries of a group-committed batch need not ask again."""

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        self._pending = []
        self.memo = {}
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        self._pending = []
        self.memo = {}
        if session is not None:
            await session.rollback()
            await session.close()

    def emit(self, data: EventData, *, workspace: str, subject: str) -> None:
        """Record a registered event (type and source come from its registration)."""
        self.publish(registry.envelope(data, workspace=workspace, subject=subject))

    def publish(self, envelope: Envelope) -> None:
        """Record an event; it is written to the outbox when (and only if) the work commits."""
        self._pending.append(stamp(envelope))

    async def commit(self) -> None:
        session = self.session
        if self._pending:
            now = datetime.now(UTC)
            rows = [
                {
                    "event_id": event.id,
                    "event_type": event.type,
                    "payload": event.to_json().decode(),
                    "created_at": now,
                }
                for event in self._pending
            ]
            if len(rows) == 1:  # the usual request: one event, sent straight to the driver
                await _INSERT_ONE_EVENT.execute(session, rows[0])
            else:
                await session.execute(_INSERT_OUTBOX, rows)
        had_events = bool(self._pending)
        self._pending = []
        await session.commit()
        if had_events:
            self._on_commit()
