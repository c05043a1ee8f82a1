"""Outbox, relay and inbox on both databases: atomic with the change, never sent twice at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from sqlalchemy import JSON, Column, Float, MetaData, String, Table, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from contracts import Envelope
from kit import context
from kit.bus.base import OutgoingMessage, PublishOutcome
from kit.consumers import Consumer, transactional
from kit.db import INBOX, KIT_METADATA, OUTBOX, create_engine
from kit.db.driver import DriverStatement
from kit.outbox import OutboxRelay
from kit.uow import UnitOfWork
from tests.support.pair import EFFECTS, PROBE_METADATA, PROBE_TYPE, ProbeEffect, record_effect


class RecordingBus:
    """A fake transport for relay unit tests: remembers what it was asked to publish."""

    namespace = "test"

    def __init__(self, delay: float = 0.0) -> None:
        self.published: list[str] = []
        self.delay = delay

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishOutcome]:
        await asyncio.sleep(self.delay)
        self.published.extend(m.message_id for m in messages)
        return [PublishOutcome.CONFIRMED] * len(messages)


async def prepared_engine(url: str) -> AsyncEngine:
    built = create_engine(url)
    async with built.begin() as connection:
        await connection.run_sync(KIT_METADATA.create_all)
        await connection.run_sync(PROBE_METADATA.create_all)
    return built


@pytest.fixture
async def engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    built = await prepared_engine(empty_database_url)
    yield built
    await built.dispose()


@pytest.fixture
async def pg_engine(
    namespace: str, make_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[AsyncEngine]:
    built = await prepared_engine(await make_database(namespace.replace("-", "_")))
    yield built
    await built.dispose()


def unit_of_work(engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(async_sessionmaker(engine, expire_on_commit=False))


def probe(n: int) -> Envelope:
    return Envelope(source="producer", type=PROBE_TYPE, data={"n": n})


async def count(engine: AsyncEngine, statement: object) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(statement)).scalar_one())  # type: ignore[call-overload]


async def test_events_are_written_with_the_change_or_not_at_all(engine: AsyncEngine) -> None:
    async with unit_of_work(engine) as uow:
        uow.session.add(ProbeEffect(event_id="change-1", n=1))
        uow.publish(probe(1))
        await uow.commit()
    with pytest.raises(RuntimeError):  # noqa: PT012 - the failure is the whole block
        async with unit_of_work(engine) as uow:
            uow.session.add(ProbeEffect(event_id="change-2", n=2))
            uow.publish(probe(2))
            raise RuntimeError("the request failed before the edge committed")
    assert await count(engine, select(func.count()).select_from(OUTBOX)) == 1
    assert await count(engine, select(func.count()).select_from(EFFECTS)) == 1


async def test_published_events_carry_the_causation_of_the_work(engine: AsyncEngine) -> None:
    with context.working(
        correlation_id="req-7", causation_id="evt-1", actor="user-3", workspace="ws-9"
    ):
        async with unit_of_work(engine) as uow:
            uow.publish(probe(1))
            await uow.commit()
    async with engine.connect() as connection:
        payload = (await connection.execute(select(OUTBOX.c.payload))).scalar_one()
    stored = Envelope.from_json(payload)
    assert (stored.correlationid, stored.causationid, stored.actor, stored.workspace) == (
        "req-7",
        "evt-1",
        "user-3",
        "ws-9",
    )


async def test_relay_publishes_in_order_and_marks_rows_sent(engine: AsyncEngine) -> None:
    async with unit_of_work(engine) as uow:
        for n in range(25):
            uow.publish(probe(n))
        await uow.commit()
    bus = RecordingBus()
    relay = OutboxRelay("producer", engine, bus, batch_size=10)  # type: ignore[arg-type]
    assert [await relay.relay_batch() for _ in range(4)] == [10, 10, 5, 0]
    async with engine.connect() as connection:
        ids = (await connection.execute(select(OUTBOX.c.event_id).order_by(OUTBOX.c.seq))).all()
    assert bus.published == [row.event_id for row in ids]
    assert (await relay.pending())[0] == 0


async def test_two_relays_never_publish_the_same_row_on_postgresql(
    pg_engine: AsyncEngine,
) -> None:
    """SKIP LOCKED claims are PostgreSQL's; the embedded SQLite mode runs one relay."""
    engine = pg_engine
    async with unit_of_work(engine) as uow:
        for n in range(2_000):
            uow.publish(probe(n))
        await uow.commit()
    bus = RecordingBus(delay=0.01)
    relays = [OutboxRelay("producer", engine, bus, batch_size=50) for _ in range(2)]  # type: ignore[arg-type]

    async def drain(relay: OutboxRelay) -> int:
        batches = 0
        while await relay.relay_batch():
            batches += 1
        return batches

    batches = await asyncio.gather(*(drain(relay) for relay in relays))
    assert all(b > 0 for b in batches), "both relays took part"
    assert len(bus.published) == 2_000
    assert len(set(bus.published)) == 2_000


async def test_the_inbox_makes_a_redelivered_event_harmless(engine: AsyncEngine) -> None:
    handler = transactional(
        "consumer", Consumer("record", ["probe.#"], record_effect), lambda: unit_of_work(engine)
    )
    event = probe(5)
    await handler(event)
    await handler(event)
    await handler(Envelope.from_json(event.to_json()))
    assert await count(engine, select(func.count()).select_from(EFFECTS)) == 1
    assert await count(engine, select(func.count()).select_from(INBOX)) == 1


async def test_a_failing_handler_leaves_no_inbox_row_so_the_retry_runs(
    engine: AsyncEngine,
) -> None:
    calls = 0

    async def fails_once(envelope: Envelope, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await record_effect(envelope, uow)
        if calls == 1:
            raise RuntimeError("transient")

    handler = transactional(
        "consumer", Consumer("record", ["probe.#"], fails_once), lambda: unit_of_work(engine)
    )
    event = probe(1)
    with pytest.raises(RuntimeError):
        await handler(event)
    await handler(event)
    assert calls == 2
    assert await count(engine, select(func.count()).select_from(EFFECTS)) == 1


DRIVER_METADATA = MetaData()
DOCUMENTS = Table(
    "driver_documents",
    DRIVER_METADATA,
    Column("id", String(20), primary_key=True),
    Column("doc", JSON, nullable=True),
    Column("ratio", Float, nullable=False),
)
WRITE_DOCUMENT = DriverStatement(
    insert(DOCUMENTS).values(id=bindparam("id"), doc=bindparam("doc"), ratio=bindparam("ratio"))
)
READ_DOCUMENT = DriverStatement(select(DOCUMENTS.c.doc).where(DOCUMENTS.c.id == bindparam("id")))


async def test_driver_statements_share_the_sessions_transaction(engine: AsyncEngine) -> None:
    """On PostgreSQL they run on the asyncpg connection of the open transaction, elsewhere
    (and before the transaction's first statement) through SQLAlchemy: either way they
    commit or roll back with the session's other work, pending ORM rows are written first,
    and parameters are processed as SQLAlchemy would (JSON, float)."""
    async with engine.begin() as connection:
        await connection.run_sync(DRIVER_METADATA.create_all)
    async with unit_of_work(engine) as uow:
        await uow.session.execute(select(func.count()).select_from(EFFECTS))  # opens it
        uow.session.add(ProbeEffect(event_id="driver-1", n=1))
        await WRITE_DOCUMENT.execute(uow.session, {"id": "a", "doc": {"k": [1]}, "ratio": 2})
        assert await READ_DOCUMENT.scalar(uow.session, {"id": "a"}) == {"k": [1]}
        assert await count(engine, select(func.count()).select_from(DOCUMENTS)) == 0
    assert await count(engine, select(func.count()).select_from(DOCUMENTS)) == 0  # rolled back
    async with unit_of_work(engine) as uow:
        await uow.session.execute(select(func.count()).select_from(EFFECTS))
        uow.session.add(ProbeEffect(event_id="driver-2", n=2))  # pending: flushed first
        await WRITE_DOCUMENT.execute(uow.session, {"id": "b", "doc": None, "ratio": 3})
        await uow.commit()
    async with unit_of_work(engine) as uow:  # no statement yet: SQLAlchemy opens it
        await WRITE_DOCUMENT.execute(uow.session, {"id": "c", "doc": {"k": "v"}, "ratio": 0.5})
        await uow.commit()
    async with engine.connect() as connection:
        rows = (await connection.execute(select(DOCUMENTS).order_by(DOCUMENTS.c.id))).all()
        effects = (await connection.execute(select(EFFECTS.c.event_id))).scalars().all()
    assert [tuple(row) for row in rows] == [("b", None, 3.0), ("c", {"k": "v"}, 0.5)]
    assert effects == ["driver-2"]
