"""The RabbitMQ transport (aio-pika).

Topology, all names prefixed by the namespace:
- `<ns>.events`: one durable topic exchange; routing key = event type.
- `<ns>.<service>.<handler>`: one durable quorum queue per handler, bound by
  its patterns; a delivery limit dead-letters a message that keeps killing
  its consumer before it can even be retried.
- `<ns>.<service>.<handler>.retry.<n>`: quorum queues whose message TTL is the
  n-th retry delay; expired messages dead-letter straight back to the handler's
  queue (not the exchange), so other handlers never see a retry.
- `<ns>.<service>.<handler>.dead`: the handler's dead-letter queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError

from kit.bus.base import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    BusError,
    DeadLetter,
    OutgoingMessage,
    PublishOutcome,
    Spawn,
    Subscription,
    unsupervised,
)
from kit.bus.delivery import DeadLettered, Deliverer, Handled, Retry
from kit.logging import get_logger
from kit.metrics import CONSUMERS_RESTARTED

log = get_logger(__name__)

PUBLISH_TIMEOUT = 30.0


def _header_int(headers: Any, name: str) -> int:
    value = (headers or {}).get(name)
    return int(value) if isinstance(value, int | str | float) else 0


@dataclass
class _Consumer:
    subscription: Subscription
    deliverer: Deliverer
    channel: AbstractChannel | None = None
    queue: AbstractQueue | None = None
    tag: str | None = None
    alive: bool = False
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)


class RabbitBus:
    def __init__(
        self,
        url: str,
        *,
        namespace: str = "deskline",
        prefetch: int = 128,
        retry_delays: Sequence[float] = (1.0, 10.0, 60.0, 300.0),
        delivery_limit: int = 20,
        watchdog_interval: float = 2.0,
        connect_backoff_max: float = 10.0,
    ) -> None:
        self.namespace = namespace
        self._url = url
        self._prefetch = prefetch
        self._retry_delays = list(retry_delays)
        self._delivery_limit = delivery_limit
        self._watchdog_interval = watchdog_interval
        self._backoff_max = connect_backoff_max
        self._consumers: list[_Consumer] = []
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._ready = asyncio.Event()
        self._watchdog_wake = asyncio.Event()
        self._consuming = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def exchange_name(self) -> str:
        return f"{self.namespace}.events"

    def subscribe(self, subscription: Subscription) -> None:
        self._consumers.append(_Consumer(subscription, Deliverer(subscription, self._retry_delays)))

    # -- connection -------------------------------------------------------

    async def _connect(self) -> None:
        """Wait for the broker as long as it takes; the outbox buffers meanwhile."""
        if self._ready.is_set():
            return
        delay = 0.5
        while self._connection is None:
            try:
                connection = await aio_pika.connect_robust(
                    self._url, client_properties={"connection_name": f"deskline:{self.namespace}"}
                )
            except CONNECTION_EXCEPTIONS as error:
                log.warning("broker not reachable, retrying", error=repr(error), delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
                continue
            self._connection = connection
        self._publish_channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._exchange = await self._publish_channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._ready.set()

    async def _declare_consumer_queue(
        self, channel: AbstractChannel, subscription: Subscription
    ) -> AbstractQueue:
        name = subscription.queue(self.namespace)
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self._delivery_limit,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": f"{name}.dead",
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        for pattern in subscription.patterns:
            await queue.bind(self.exchange_name, routing_key=pattern)
        for tier, delay in enumerate(self._retry_delays, start=1):
            await channel.declare_queue(
                f"{name}.retry.{tier}",
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-message-ttl": int(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": name,
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                },
            )
        await channel.declare_queue(
            f"{name}.dead", durable=True, arguments={"x-queue-type": "quorum"}
        )
        return queue

    async def declare(self) -> None:
        await self._connect()
        assert self._connection is not None
        channel = await self._connection.channel()
        try:
            for consumer in self._consumers:
                await self._declare_consumer_queue(channel, consumer.subscription)
        finally:
            await channel.close()

    async def start(self, spawn: Spawn | None = None) -> None:
        self._consuming = True
        task = (spawn or unsupervised)("rabbit-consumers", self._run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        """Connect, consume, then watch the consumers until cancelled at shutdown."""
        await self._connect()
        for consumer in self._consumers:
            await self._consume(consumer)
        await self._watchdog()

    async def _consume(self, consumer: _Consumer) -> None:
        assert self._connection is not None
        subscription = consumer.subscription
        if consumer.channel is None or consumer.channel.is_closed:
            consumer.channel = await self._connection.channel()
            await consumer.channel.set_qos(prefetch_count=subscription.prefetch or self._prefetch)
        consumer.queue = await self._declare_consumer_queue(consumer.channel, subscription)

        async def on_message(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            if task is not None:
                consumer.in_flight.add(task)
            try:
                await self._handle(consumer.deliverer, message)
            finally:
                if task is not None:
                    consumer.in_flight.discard(task)

        # Re-using the tag after a broker cancel keeps aio-pika's restore list to one entry.
        consumer.tag = await consumer.queue.consume(on_message, consumer_tag=consumer.tag)
        consumer.alive = True
        underlay = await consumer.channel.get_underlay_channel()
        underlay.on_consumer_cancel_callbacks.add(self._on_broker_cancel)

    async def _on_broker_cancel(self, frame: Any) -> None:
        # Runs in the channel's reader: only flag it here, the watchdog consumes again.
        for consumer in self._consumers:
            if consumer.tag == frame.consumer_tag:
                consumer.alive = False
        self._watchdog_wake.set()

    async def _watchdog(self) -> None:
        """aio-pika restores consumers after a reconnect, but not after the broker cancels one
        (queue deleted, quorum leader lost): notice that and consume again."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._watchdog_wake.wait(), self._watchdog_interval)
            self._watchdog_wake.clear()
            if not self._consuming:
                continue
            connection = self._connection
            if connection is None or not connection.connected.is_set():
                for consumer in self._consumers:
                    consumer.alive = False
                continue
            for consumer in self._consumers:
                if consumer.channel is None or not self._consuming:
                    continue
                try:
                    underlay = await consumer.channel.get_underlay_channel()
                except CONNECTION_EXCEPTIONS:
                    consumer.alive = False
                    continue
                if consumer.tag in underlay.consumers:  # type: ignore[attr-defined]
                    consumer.alive = True
                    continue
                consumer.alive = False
                log.warning(
                    "consumer cancelled by the broker, consuming again",
                    handler=consumer.subscription.name,
                )
                try:
                    await self._consume(consumer)
                except CONNECTION_EXCEPTIONS as error:
                    log.warning("re-consume failed, will retry", error=repr(error))
                    continue
                CONSUMERS_RESTARTED.labels(
                    consumer.subscription.service, consumer.subscription.name
                ).inc()

    # -- consuming --------------------------------------------------------

    async def _handle(self, deliverer: Deliverer, message: AbstractIncomingMessage) -> None:
        outcome = await deliverer.deliver(
            message.body, _header_int(message.headers, ATTEMPT_HEADER)
        )
        match outcome:
            case Handled():
                await self._ack(message)
            case Retry(attempt=attempt, tier=tier, error=error):
                await self._forward(
                    deliverer.subscription, message, f"retry.{tier}", attempt, error
                )
            case DeadLettered(attempts=attempts, error=error):
                await self._forward(deliverer.subscription, message, "dead", attempts, error)

    async def _forward(
        self,
        subscription: Subscription,
        message: AbstractIncomingMessage,
        suffix: str,
        attempt: int,
        error: str,
    ) -> None:
        """Copy the delivery to a retry or dead-letter queue (confirmed), then ack the original.

        If the copy cannot be confirmed the original stays unacked and comes back.
        """
        assert self._publish_channel is not None
        headers = dict(message.headers or {})
        headers[ATTEMPT_HEADER] = attempt
        headers[ERROR_HEADER] = error[:1000]
        copy = aio_pika.Message(
            body=message.body,
            headers=headers,
            message_id=message.message_id,
            type=message.type,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            await self._publish_channel.default_exchange.publish(
                copy,
                routing_key=f"{subscription.queue(self.namespace)}.{suffix}",
                mandatory=True,
                timeout=PUBLISH_TIMEOUT,
            )
        except (*CONNECTION_EXCEPTIONS, TimeoutError) as failure:
            log.warning("could not park message, it will be redelivered", error=repr(failure))
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await message.nack(requeue=True)
            return
        await self._ack(message)

    @staticmethod
    async def _ack(message: AbstractIncomingMessage) -> None:
        # A lost connection makes the ack impossible; the broker redelivers and
        # the inbox turns the redelivery into a no-op.
        try:
            await message.ack()
        except CONNECTION_EXCEPTIONS as error:
            log.warning("ack lost with the connection; expect a redelivery", error=repr(error))

    # -- publishing -------------------------------------------------------

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishOutcome]:
        if not self._ready.is_set():
            raise BusError("not connected to the broker yet")
        exchange = self._exchange
        assert exchange is not None

        async def publish_one(message: OutgoingMessage) -> PublishOutcome:
            try:
                await exchange.publish(
                    aio_pika.Message(
                        body=message.body,
                        message_id=message.message_id,
                        type=message.routing_key,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=message.routing_key,
                    mandatory=True,
                )
            except PublishError:
                return PublishOutcome.UNROUTABLE
            except DeliveryError as error:
                raise BusError(f"broker refused {message.message_id}: {error!r}") from error
            except CONNECTION_EXCEPTIONS as error:
                raise BusError(f"publish of {message.message_id} failed: {error!r}") from error
            return PublishOutcome.CONFIRMED

        # One deadline for the whole batch: a per-message timeout costs a task per message.
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                return list(await asyncio.gather(*(publish_one(m) for m in messages)))
        except TimeoutError as error:
            raise BusError(f"broker did not confirm within {PUBLISH_TIMEOUT} s") from error

    # -- lifecycle --------------------------------------------------------

    async def stop_consuming(self) -> None:
        self._consuming = False
        for consumer in self._consumers:
            if consumer.queue is not None and consumer.tag is not None:
                with contextlib.suppress(*CONNECTION_EXCEPTIONS, TimeoutError):
                    await consumer.queue.cancel(consumer.tag, timeout=5)
            consumer.alive = False
        in_flight = [task for c in self._consumers for task in c.in_flight]
        if in_flight:
            await asyncio.wait(in_flight, timeout=30)

    async def close(self) -> None:
        await self.stop_consuming()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connection is not None:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS, TimeoutError):
                await self._connection.close()
        self._connection = None
        self._ready.clear()

    def is_connected(self) -> bool:
        return (
            self._ready.is_set()
            and self._connection is not None
            and self._connection.connected.is_set()
        )

    def consumers_alive(self) -> bool:
        return self.is_connected() and all(c.alive for c in self._consumers)

    async def drain_dead_letters(self, subscription: Subscription) -> list[DeadLetter]:
        assert self._connection is not None
        channel = await self._connection.channel()
        drained: list[DeadLetter] = []
        try:
            queue = await channel.get_queue(f"{subscription.queue(self.namespace)}.dead")
            while (message := await queue.get(fail=False, timeout=5)) is not None:
                headers = message.headers or {}
                drained.append(
                    DeadLetter(
                        message.body,
                        str(headers.get(ERROR_HEADER, "")),
                        _header_int(headers, ATTEMPT_HEADER),
                    )
                )
                await message.ack()
        finally:
            await channel.close()
        return drained
