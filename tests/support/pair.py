"""A small test-only producer/consumer pair built from the real kit pieces.

The producer writes probe events through its outbox; the consumer records an
effect row per delivery it handles (no unique constraint, so a duplicate
effect would show as a second row rather than an error).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI
from sqlalchemy import Integer, String, Table, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts import Envelope
from kit.bus.base import Bus, OutgoingMessage, PublishOutcome, Subscription
from kit.consumers import Consumer
from kit.db import KIT_METADATA, create_engine, ensure_database, new_metadata
from kit.db.engine import drop_database
from kit.module import ServiceModule
from kit.redis import make_redis
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from kit.supervisor import Supervisor
from kit.uow import UnitOfWork

PROBE_TYPE = "probe.item.recorded.v1"


class ProbeBase(DeclarativeBase):
    metadata = new_metadata()


class ProbeEffect(ProbeBase):
    """One row per handled delivery; deliberately no unique constraint on the event, so a
    second effect of one event would show as a second row rather than as an error."""

    __tablename__ = "probe_effects"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    n: Mapped[int] = mapped_column(Integer)


PROBE_METADATA = ProbeBase.metadata
EFFECTS = cast(Table, ProbeEffect.__table__)


async def record_effect(envelope: Envelope, uow: UnitOfWork) -> None:
    """The way domain code writes: add the entity; the unit of work flushes at commit."""
    uow.session.add(ProbeEffect(event_id=envelope.id, n=int(envelope.data["n"])))


def _no_app(_runtime: ServiceRuntime) -> FastAPI:
    return FastAPI()


PRODUCER = ServiceModule(
    name="producer", title="Probe producer", create_app=_no_app, migrations=Path(__file__).parent
)
CONSUMER = ServiceModule(
    name="consumer",
    title="Probe consumer",
    create_app=_no_app,
    migrations=Path(__file__).parent,
    consumers=[Consumer("record", ["probe.#"], record_effect)],
)


class ObservedBus:
    """Delegates to a real bus; counts deliveries and can crash on purpose.

    - `kill_after_effect`: in a consumer process, exit hard right after the
      handler for event number n committed, before the ack.
    - `crash_after_publish`: make the next `publish` fail after the broker
      confirmed, as a relay dying before it marks rows sent would.
    """

    def __init__(self, inner: Bus, *, kill_after_effect: int | None = None) -> None:
        self.inner = inner
        self.namespace = inner.namespace
        self.deliveries: Counter[str] = Counter()
        self.kill_after_effect = kill_after_effect
        self.crash_after_publish = False
        self.crashes = 0

    def subscribe(self, subscription: Subscription) -> None:
        handler = subscription.handler

        async def observed(envelope: Envelope) -> None:
            self.deliveries[envelope.id] += 1
            await handler(envelope)
            if self.kill_after_effect is not None and envelope.data.get("n") == (
                self.kill_after_effect
            ):
                os._exit(17)

        self.inner.subscribe(
            Subscription(
                subscription.service,
                subscription.name,
                subscription.patterns,
                observed,
                subscription.prefetch,
            )
        )

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishOutcome]:
        outcomes = await self.inner.publish(messages)
        if self.crash_after_publish:
            self.crash_after_publish = False
            self.crashes += 1
            raise RuntimeError("relay died after the broker confirmed")
        return outcomes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def pair_settings(
    *, amqp_url: str, pg_server_url: str, database: str, namespace: str, **overrides: Any
) -> Settings:
    from kit.testing.infra import database_url

    values: dict[str, Any] = {
        "bus_url": amqp_url,
        "database_url": database_url(pg_server_url, database),
        "namespace": namespace,
        "retry_delays": [0.2, 0.5, 1.0],
        "outbox_poll_interval": 0.2,
        "consumer_watchdog_interval": 0.5,
        "bus_connect_backoff_max": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


async def prepare_databases(settings: Settings) -> None:
    for module in (PRODUCER, CONSUMER):
        url = settings.database_url_for(module.name)
        await drop_database(url)
        await ensure_database(url)
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(KIT_METADATA.create_all)
            await connection.run_sync(PROBE_METADATA.create_all)
        await engine.dispose()


async def drop_databases(settings: Settings) -> None:
    for module in (PRODUCER, CONSUMER):
        await drop_database(settings.database_url_for(module.name))


def runtime(module: ServiceModule, settings: Settings, bus: Bus) -> ServiceRuntime:
    return ServiceRuntime(
        module, settings, bus=bus, redis=make_redis(Settings()), supervisor=Supervisor()
    )


async def produce(producer: ServiceRuntime, numbers: range, *, batch: int = 500) -> None:
    values = list(numbers)
    for start in range(0, len(values), batch):
        async with producer.unit_of_work() as uow:
            for n in values[start : start + batch]:
                uow.publish(Envelope(source="producer", type=PROBE_TYPE, data={"n": n}))
            await uow.commit()


async def effect_counts(consumer: ServiceRuntime) -> tuple[int, int]:
    """(effect rows, distinct events with an effect)."""
    async with consumer.engine.connect() as connection:
        total, distinct = (
            await connection.execute(
                select(func.count(), func.count(func.distinct(EFFECTS.c.event_id)))
            )
        ).one()
    return int(total), int(distinct)
