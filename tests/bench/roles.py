"""The producing and consuming halves of the throughput benchmark, each its own OS process.

Services run one per process in production, so the benchmark does the same for
both the kit path and the raw baseline. Protocol on stdio: a role prints
`ready` once set up, a producer then waits for `go`, and a consumer prints
`done <unix time>` when it has handled every message.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

import aio_pika
import uvloop

from contracts import Envelope
from kit.bus import make_bus
from kit.logging import configure_logging
from kit.settings import Settings
from tests.support.pair import CONSUMER, PROBE_TYPE, PRODUCER, effect_counts, produce, runtime

BATCH = 500
BODY = Envelope(source="producer", type=PROBE_TYPE, data={"n": 0}).to_json()


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def wait_for_go() -> None:
    line = await asyncio.to_thread(sys.stdin.readline)
    if line.strip() != "go":
        raise SystemExit(f"expected 'go', got {line!r}")


async def raw_queue(
    channel: aio_pika.abc.AbstractChannel, namespace: str
) -> aio_pika.abc.AbstractQueue:
    await channel.declare_exchange(f"{namespace}.raw", aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(
        f"{namespace}.raw.consumer", durable=True, arguments={"x-queue-type": "quorum"}
    )
    await queue.bind(f"{namespace}.raw", routing_key="probe.#")
    return queue


async def raw_consume(url: str, namespace: str, count: int) -> None:
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=Settings().prefetch)
    queue = await raw_queue(channel, namespace)
    done = asyncio.Event()
    received = 0

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal received
        await message.ack()
        received += 1
        if received == count:
            done.set()

    await queue.consume(on_message)
    say("ready")
    await done.wait()
    say(f"done {time.time()}")
    await queue.delete(if_unused=False, if_empty=False)
    await connection.close()


async def raw_publish(url: str, namespace: str, count: int) -> None:
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(
        f"{namespace}.raw", aio_pika.ExchangeType.TOPIC, durable=True
    )
    say("ready")
    await wait_for_go()
    for start in range(0, count, BATCH):
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        BODY,
                        message_id=uuid.uuid4().hex,
                        type=PROBE_TYPE,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=PROBE_TYPE,
                    mandatory=True,
                )
                for _ in range(min(BATCH, count - start))
            )
        )
    say("published")
    await connection.close()


async def kit_consume(count: int) -> None:
    settings = Settings()
    bus = make_bus(settings)
    consumer = runtime(CONSUMER, settings, bus)
    await consumer.start()
    await bus.start(spawn=consumer.supervisor.spawn)
    while not bus.consumers_alive():  # noqa: ASYNC110 - polling a flag
        await asyncio.sleep(0.02)
    say("ready")
    while (await effect_counts(consumer))[1] < count:  # noqa: ASYNC110 - polling the DB
        await asyncio.sleep(0.02)
    say(f"done {time.time()}")
    await bus.close()
    await consumer.supervisor.stop()
    await consumer.stop()


async def kit_produce(count: int) -> None:
    settings = Settings()
    bus = make_bus(settings)
    producer = runtime(PRODUCER, settings, bus)
    await producer.start()
    await bus.start(spawn=producer.supervisor.spawn)
    while not bus.is_connected():  # noqa: ASYNC110 - polling a flag
        await asyncio.sleep(0.02)
    say("ready")
    await wait_for_go()
    await produce(producer, range(count), batch=BATCH)
    while (await producer.relay.pending())[0]:  # noqa: ASYNC110 - polling the outbox
        await asyncio.sleep(0.02)
    say("published")
    await bus.close()
    await producer.supervisor.stop()
    await producer.stop()


ROLES = {
    "raw-consume": lambda a: raw_consume(a[0], a[1], int(a[2])),
    "raw-publish": lambda a: raw_publish(a[0], a[1], int(a[2])),
    "kit-consume": lambda a: kit_consume(int(a[0])),
    "kit-produce": lambda a: kit_produce(int(a[0])),
}

if __name__ == "__main__":
    configure_logging(json=True, level="WARNING")  # stdout is the protocol channel
    uvloop.run(ROLES[sys.argv[1]](sys.argv[2:]))
