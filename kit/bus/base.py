"""What a bus promises, whichever transport carries the messages.

- `publish` returns only when every message is safely with the broker
  (publisher confirms), or raises; a message no binding matches is reported
  as `UNROUTABLE` instead of disappearing.
- A subscription's handler runs once per delivery; the message is acknowledged
  only after the handler returned (its transaction committed). A handler that
  raises is retried after each delay in `retry_delays`, then dead-lettered.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts import Envelope

Handler = Callable[[Envelope], Awaitable[None]]
# How a transport starts its long-running tasks; the launcher passes its supervisor's
# `spawn`, so a consumer loop that dies takes the process down instead of going quiet.
Spawn = Callable[[str, Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


def unsupervised(name: str, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """The default `Spawn` when no supervisor watches (tests, tools)."""
    return asyncio.create_task(coroutine, name=name)


ATTEMPT_HEADER = "x-deskline-attempt"
ERROR_HEADER = "x-deskline-error"


class BusError(Exception):
    """The transport could not take a message (broker down, nack, timeout)."""


class PublishOutcome(enum.Enum):
    CONFIRMED = "confirmed"
    UNROUTABLE = "unroutable"


@dataclass(frozen=True)
class OutgoingMessage:
    routing_key: str
    message_id: str
    body: bytes

    @classmethod
    def of(cls, envelope: Envelope) -> OutgoingMessage:
        return cls(routing_key=envelope.type, message_id=envelope.id, body=envelope.to_json())


@dataclass(frozen=True)
class Subscription:
    """One durable queue: a (service, handler) pair bound by routing-key patterns."""

    service: str
    name: str
    patterns: Sequence[str]
    handler: Handler = field(compare=False)
    prefetch: int | None = None

    def queue(self, namespace: str) -> str:
        return f"{namespace}.{self.service}.{self.name}"


@dataclass(frozen=True)
class DeadLetter:
    envelope_json: bytes
    error: str
    attempts: int


class Bus(Protocol):
    namespace: str

    def subscribe(self, subscription: Subscription) -> None:
        """Register a consumer; call before `start`."""

    async def start(self, spawn: Spawn | None = None) -> None:
        """Connect (waiting for the broker as long as it takes, in the background) and consume."""

    async def declare(self) -> None:
        """Create exchange, queues and bindings without consuming (used by `deskline migrate`)."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishOutcome]:
        """Hand messages to the broker, in order; raises BusError if any was not confirmed."""

    async def stop_consuming(self) -> None:
        """Stop taking new deliveries and wait for handlers in flight (graceful shutdown)."""

    async def close(self) -> None: ...

    def is_connected(self) -> bool: ...

    def consumers_alive(self) -> bool: ...

    async def drain_dead_letters(self, subscription: Subscription) -> list[DeadLetter]:
        """Remove and return what a handler's dead-letter queue holds (operations, tests)."""
