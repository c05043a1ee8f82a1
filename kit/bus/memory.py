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

from kit.bus.base import (
    DeadLetter,
    OutgoingMessage,
    PublishOutcome,
    Spawn,
    Subscription,
    unsupervised,
)
from kit.bus.delivery import DeadLettered, Deliverer, Handled, Retry
from kit.bus.topic import matches
from kit.logging import get_logger

log = get_logger(__name__)


@dataclass
class _Binding:
    subscription: Subscription
    deliverer: Deliverer
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
        self._bindings.append(
            _Binding(subscription, Deliverer(subscription, self._retry_delays), asyncio.Queue(), [])
        )

    async def declare(self) -> None:
        return None

    async def start(self, spawn: Spawn | None = None) -> None:
        self._consuming = True
        for binding in self._bindings:
            if binding.worker is None:
                name = f"memory-consumer:{binding.subscription.service}.{binding.subscription.name}"
                binding.worker = (spawn or unsupervised)(name, self._work(binding))

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

    async def _deliver(self, binding: _Binding, text: str, attempt: int) -> None:
        match await binding.deliverer.deliver(text, attempt):
            case Retry(attempt=next_attempt, delay=delay):
                self._schedule(binding, text, next_attempt, delay)
            case DeadLettered(attempts=attempts, error=error):
                binding.dead.append(DeadLetter(text.encode(), error, attempts))
            case Handled():
                pass

    def _schedule(self, binding: _Binding, text: str, attempt: int, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def requeue() -> None:
            self._delayed.discard(handle)
            binding.queue.put_nowait((text, attempt))

        handle = loop.call_later(delay, requeue)
        self._delayed.add(handle)

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
