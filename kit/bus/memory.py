"""The in-memory transport: the embedded default and the fast unit-test bus.

It keeps the semantics that matter to handlers: topic matching, a JSON round
trip for every message (so nothing shares objects with the producer), one
queue and worker per binding, retries after the configured delays, then a
dead-letter list. Messages in flight are not durable; the outbox is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from contracts import Envelope
from kit.bus.base import DeadLetter, OutgoingMessage, PublishOutcome, Subscription
from kit.bus.topic import matches
from kit.logging import get_logger
from kit.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_RETRIED

log = get_logger(__name__)


@dataclass
class _Binding:
    subscription: Subscription
    queue: asyncio.Queue[tuple[str, int]]
    dead: list[DeadLetter]
    worker: asyncio.Task[None] | None = None


class MemoryBus:
    def __init__(self, *, namespace: str = "deskline", retry_delays: Sequence[float] = ()) -> None:
        self.namespace = namespace
        self._retry_delays = list(retry_delays)
        self._bindings: list[_Binding] = []
        self._delayed: set[asyncio.TimerHandle] = set()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._consuming = False

    def subscribe(self, subscription: Subscription) -> None:
        self._bindings.append(_Binding(subscription, asyncio.Queue(), []))

    async def declare(self) -> None:
        return None

    async def start(self) -> None:
        self._consuming = True
        for binding in self._bindings:
            if binding.worker is None:
                binding.worker = asyncio.create_task(
                    self._work(binding), name=f"memory-consumer:{binding.subscription.name}"
                )

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishOutcome]:
        outcomes = []
        for message in messages:
            text = message.body.decode()
            targets = [
                binding
                for binding in self._bindings
                if any(matches(p, message.routing_key) for p in binding.subscription.patterns)
            ]
            for binding in targets:
                binding.queue.put_nowait((text, 0))
            outcomes.append(PublishOutcome.CONFIRMED if targets else PublishOutcome.UNROUTABLE)
        return outcomes

    async def _work(self, binding: _Binding) -> None:
        subscription = binding.subscription
        while True:
            text, attempt = await binding.queue.get()
            self._in_flight += 1
            self._idle.clear()
            try:
                await self._deliver(binding, text, attempt)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()
                binding.queue.task_done()
            if not self._consuming:
                log.info("memory consumer stopped", handler=subscription.name)
                return

    async def _deliver(self, binding: _Binding, text: str, attempt: int) -> None:
        subscription = binding.subscription
        try:
            envelope = Envelope.from_json(text)
        except ValidationError as error:
            self._dead_letter(binding, text, f"unparseable message: {error}", attempt)
            return
        try:
            await subscription.handler(envelope)
        except Exception as error:  # a failing handler must never stop the worker
            EVENTS_CONSUMED.labels(subscription.service, subscription.name, "failed").inc()
            if attempt < len(self._retry_delays):
                EVENTS_RETRIED.labels(subscription.service, subscription.name).inc()
                log.warning(
                    "handler failed, will retry",
                    handler=subscription.name,
                    event_id=envelope.id,
                    attempt=attempt + 1,
                    error=repr(error),
                )
                self._schedule(binding, text, attempt + 1, self._retry_delays[attempt])
            else:
                self._dead_letter(binding, text, repr(error), attempt)
            return
        EVENTS_CONSUMED.labels(subscription.service, subscription.name, "ok").inc()

    def _schedule(self, binding: _Binding, text: str, attempt: int, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def requeue() -> None:
            self._delayed.discard(handle)
            binding.queue.put_nowait((text, attempt))

        handle = loop.call_later(delay, requeue)
        self._delayed.add(handle)

    def _dead_letter(self, binding: _Binding, text: str, error: str, attempts: int) -> None:
        subscription = binding.subscription
        EVENTS_DEAD_LETTERED.labels(subscription.service, subscription.name).inc()
        log.error("message dead-lettered", handler=subscription.name, error=error)
        binding.dead.append(DeadLetter(text.encode(), error, attempts))

    async def stop_consuming(self) -> None:
        self._consuming = False
        await self._idle.wait()
        for binding in self._bindings:
            if binding.worker is not None:
                binding.worker.cancel()
        await asyncio.gather(
            *(b.worker for b in self._bindings if b.worker is not None), return_exceptions=True
        )
        for binding in self._bindings:
            binding.worker = None

    async def close(self) -> None:
        await self.stop_consuming()
        for handle in self._delayed:
            handle.cancel()
        self._delayed.clear()

    def is_connected(self) -> bool:
        return True

    def consumers_alive(self) -> bool:
        return all(b.worker is not None and not b.worker.done() for b in self._bindings)

    async def drain_dead_letters(self, subscription: Subscription) -> list[DeadLetter]:
        drained: list[DeadLetter] = []
        for binding in self._bindings:
            if binding.subscription == subscription:
                drained.extend(binding.dead)
                binding.dead.clear()
        return drained
