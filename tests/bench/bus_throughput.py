"""Events per second through outbox → RabbitMQ → inbox (PostgreSQL), against raw aio-pika.

The baseline publishes the same number of messages with publisher confirms
and consumes them with manual acks, nothing else; the ratio is what the
outbox, the relay and the transactional inbox cost. Target: ≥ 0.5.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import aio_pika

from kit.bus import make_bus
from kit.testing import infra
from tests.support.buses import delete_namespace
from tests.support.pair import (
    CONSUMER,
    PRODUCER,
    drop_databases,
    effect_counts,
    pair_settings,
    prepare_databases,
    produce,
    runtime,
)

EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
BATCH = 500


async def raw_baseline(amqp_url: str, namespace: str, count: int) -> float:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        publish_channel = await connection.channel(publisher_confirms=True)
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=32)
        exchange = await publish_channel.declare_exchange(
            f"{namespace}.raw", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await consume_channel.declare_queue(
            f"{namespace}.raw.consumer", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(f"{namespace}.raw", routing_key="probe.#")
        done = asyncio.Event()
        received = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == count:
                done.set()

        await queue.consume(on_message)
        body = b'{"n": 0, "payload": "a probe event of a realistic size"}' * 4
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            body,
                            message_id=uuid.uuid4().hex,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key="probe.item.recorded.v1",
                        mandatory=True,
                    )
                    for _ in range(min(BATCH, count - start))
                )
            )
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - started
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        return count / elapsed
    finally:
        await connection.close()


async def through_the_kit(amqp_url: str, pg_url: str, namespace: str, count: int) -> float:
    settings = pair_settings(
        amqp_url=amqp_url,
        pg_server_url=pg_url,
        database=f"dlbench_{namespace.replace('-', '_')}",
        namespace=namespace,
        outbox_poll_interval=1.0,
    )
    await prepare_databases(settings)
    producer_bus, consumer_bus = make_bus(settings), make_bus(settings)
    producer = runtime(PRODUCER, settings, producer_bus)
    consumer = runtime(CONSUMER, settings, consumer_bus)
    try:
        await producer.start()
        await producer_bus.start()
        await consumer.start()
        await consumer_bus.start()
        while not consumer_bus.consumers_alive():  # noqa: ASYNC110 - polling a flag
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        await produce(producer, range(count), batch=BATCH)
        while (await effect_counts(consumer))[1] < count:  # noqa: ASYNC110 - polling the DB
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        total, distinct = await effect_counts(consumer)
        assert total == distinct == count, (total, distinct)
        return count / elapsed
    finally:
        for rt, bus in ((consumer, consumer_bus), (producer, producer_bus)):
            await bus.close()
            await rt.supervisor.stop()
            await rt.stop()
        await delete_namespace(amqp_url, namespace)
        await drop_databases(settings)


async def run() -> None:
    amqp_url = infra.resolve(infra.RABBITMQ)
    pg_url = infra.resolve(infra.POSTGRES)
    tag = uuid.uuid4().hex[:8]
    raw = await raw_baseline(amqp_url, f"bench-{tag}", EVENTS)
    kit = await through_the_kit(amqp_url, pg_url, f"bench-{tag}", EVENTS)
    print(f"bus throughput, {EVENTS} events (BENCH_EVENTS to change):")
    print(f"  raw aio-pika publish-with-confirms -> consume/ack : {raw:10.0f} events/s")
    print(f"  outbox -> relay -> RabbitMQ -> inbox (PostgreSQL) : {kit:10.0f} events/s")
    print(f"  ratio (target >= 0.5)                             : {kit / raw:10.2f}")
