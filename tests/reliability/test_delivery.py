"""At-least-once delivery with exactly-once effects, while the broker and processes fail.

Real RabbitMQ and PostgreSQL; the producer writes through its outbox, the
consumer handles through its inbox.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from kit.bus import make_bus
from kit.bus.rabbit import RabbitBus
from kit.metrics import REGISTRY
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from tests.conftest import eventually
from tests.support.buses import ensure_broker_running, rabbitmqctl
from tests.support.pair import (
    CONSUMER,
    PRODUCER,
    ObservedBus,
    effect_counts,
    produce,
    runtime,
)

pytestmark = pytest.mark.reliability


def rabbit(settings: Settings) -> RabbitBus:
    bus = make_bus(settings)
    assert isinstance(bus, RabbitBus)
    return bus


class Pair:
    def __init__(self, settings: Settings, *, consumer: bool = True) -> None:
        self.producer_bus = ObservedBus(rabbit(settings))
        self.consumer_bus = ObservedBus(rabbit(settings))
        self.producer = runtime(PRODUCER, settings, self.producer_bus)
        self.consumer = runtime(CONSUMER, settings, self.consumer_bus) if consumer else None

    async def start(self) -> None:
        await self.producer.start()
        await self.producer_bus.start()
        if self.consumer is not None:
            await self.consumer.start()
            await self.consumer_bus.start()

            # As `deskline migrate` does in production: the queue exists before producers publish.
            async def consuming() -> bool:
                return bool(self.consumer_bus.consumers_alive())

            await eventually(consuming, timeout=30)

    async def stop(self) -> None:
        for rt, bus in ((self.consumer, self.consumer_bus), (self.producer, self.producer_bus)):
            if rt is not None:
                await bus.close()
                await rt.supervisor.stop()
                await rt.stop()


@pytest.fixture
async def pair(settings: Settings) -> AsyncIterator[Pair]:
    built = Pair(settings)
    await built.start()
    yield built
    await built.stop()


async def all_effects_once(consumer: ServiceRuntime, count: int, timeout: float) -> None:
    async def complete() -> bool:
        return (await effect_counts(consumer))[1] >= count

    await eventually(complete, timeout=timeout, interval=0.5)
    # Late redeliveries would land after the last first delivery: give them time to show.
    await asyncio.sleep(2)
    total, distinct = await effect_counts(consumer)
    assert (total, distinct) == (count, count), "every event once, and no effect twice"


async def test_ten_thousand_events_survive_connections_being_closed(pair: Pair) -> None:
    assert pair.consumer is not None
    producing = asyncio.create_task(produce(pair.producer, range(10_000), batch=250))

    async def some_consumed() -> bool:
        return (await effect_counts(pair.consumer))[1] >= 1_500  # type: ignore[arg-type]

    await eventually(some_consumed, timeout=120, interval=0.2)
    await rabbitmqctl("close_all_connections", "reliability test")
    await asyncio.sleep(3)
    await rabbitmqctl("close_all_connections", "reliability test, again")
    await producing
    await all_effects_once(pair.consumer, 10_000, timeout=240)
    redelivered = sum(1 for n in pair.consumer_bus.deliveries.values() if n > 1)
    print(f"deliveries seen more than once (absorbed by the inbox): {redelivered}")


async def test_broker_stopped_then_started_producers_buffer_and_consumers_resume(
    pair: Pair,
) -> None:
    assert pair.consumer is not None
    await produce(pair.producer, range(1_000))
    await rabbitmqctl("stop_app")
    try:
        # The broker is gone: writes keep succeeding, the outbox holds the events.
        await produce(pair.producer, range(1_000, 2_000))
        pending, _lag = await pair.producer.relay.pending()
        assert pending > 0
        await asyncio.sleep(5)
    finally:
        await ensure_broker_running()
    await produce(pair.producer, range(2_000, 2_500))
    await all_effects_once(pair.consumer, 2_500, timeout=240)

    async def drained() -> bool:
        return (await pair.producer.relay.pending())[0] == 0

    await eventually(drained, timeout=60)


async def test_relay_dying_after_publish_before_marking_sent_causes_no_second_effect(
    pair: Pair,
) -> None:
    assert pair.consumer is not None
    pair.producer_bus.crash_after_publish = True
    await produce(pair.producer, range(300))

    async def delivered_twice() -> bool:
        # The relay published, died before marking the rows sent, then published them again.
        return sum(pair.consumer_bus.deliveries.values()) == 600

    await eventually(delivered_twice, timeout=60)
    assert pair.producer_bus.crashes == 1
    assert all(n == 2 for n in pair.consumer_bus.deliveries.values())
    await all_effects_once(pair.consumer, 300, timeout=60)


async def test_consumer_killed_after_effect_before_ack_has_no_second_effect(
    settings: Settings,
) -> None:
    pair = Pair(settings, consumer=False)
    await pair.start()
    consumer = runtime(CONSUMER, settings, ObservedBus(rabbit(settings)))
    try:
        environment = {
            **os.environ,
            "DESKLINE_BUS_URL": settings.bus_url,
            "DESKLINE_DATABASE_URL": str(settings.database_url),
            "DESKLINE_NAMESPACE": settings.namespace,
            "DESKLINE_LOG_JSON": "true",
        }
        # Declare the consumer's queue first so nothing is unroutable.
        first = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.consumer_process",
            "--kill-after",
            "42",
            env=environment,
            stderr=subprocess.PIPE,
        )
        await wait_for_consumer_queue(settings)
        await produce(pair.producer, range(100))
        exit_code = await asyncio.wait_for(first.wait(), timeout=60)
        assert exit_code == 17, "the consumer died right after its 43rd effect, before the ack"
        total_before, _ = await effect_counts(consumer)
        assert total_before >= 43

        second = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.consumer_process",
            env=environment,
            stderr=subprocess.PIPE,
        )
        try:
            await all_effects_once(consumer, 100, timeout=60)
        finally:
            second.terminate()
            await second.wait()
    finally:
        await consumer.stop()
        await pair.stop()


async def wait_for_consumer_queue(settings: Settings) -> None:
    queue = f"{settings.namespace}.consumer.record"

    async def declared() -> bool:
        listing = await asyncio.to_thread(
            subprocess.run,
            ["rabbitmqctl", "list_queues", "--quiet", "--no-table-headers", "name", "consumers"],
            capture_output=True,
            text=True,
            check=False,
        )
        return any(
            line.split()[0] == queue and line.split()[1] != "0"
            for line in listing.stdout.splitlines()
            if line.strip()
        )

    await eventually(declared, timeout=60, interval=0.5)


async def test_a_consumer_cancelled_by_the_broker_is_restored_by_the_watchdog(
    pair: Pair, settings: Settings
) -> None:
    assert pair.consumer is not None
    await produce(pair.producer, range(10))
    await all_effects_once(pair.consumer, 10, timeout=30)
    labels = {"service": "consumer", "handler": "record"}
    restarts_before = REGISTRY.get_sample_value("deskline_consumers_restarted_total", labels) or 0
    # Deleting the queue makes the broker cancel the consumer (basic.cancel).
    await rabbitmqctl("delete_queue", f"{settings.namespace}.consumer.record")

    async def restored() -> bool:
        restarts = REGISTRY.get_sample_value("deskline_consumers_restarted_total", labels) or 0
        return restarts == restarts_before + 1 and pair.consumer_bus.consumers_alive()

    await eventually(restored, timeout=20, interval=0.1)
    await produce(pair.producer, range(10, 20))
    await all_effects_once(pair.consumer, 20, timeout=30)
