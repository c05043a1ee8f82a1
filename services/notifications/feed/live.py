"""Live push: new notices and unread counts streamed to open web sessions (Server-Sent
Events), fanned out through Redis pub/sub so a notice written by any process reaches a
stream held by any other.

Each process keeps ONE Redis subscription (a pattern over every person's channel) and hands
messages to the streams it holds; a stream never opens its own Redis connection. Redis
pub/sub forgets what nobody heard, so the database stays the truth: a stream resumes after
`Last-Event-ID` from the rows, re-reads the rows at every heartbeat (catching anything a
lost publish or a Redis outage dropped) and drops repeats by id.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from sse_starlette import ServerSentEvent

from kit.auth import Principal
from kit.logging import get_logger
from kit.runtime import ServiceRuntime
from kit.uow import UnitOfWork
from services.notifications.feed import repository
from services.notifications.feed.service import PUSH_BATCH, view
from services.notifications.models import FeedNotification

log = get_logger(__name__)

QUEUE_SIZE = 256
REPLAY_LIMIT = 500
SEEN_MEMORY = 1_000
RECONNECT_DELAY = 1.0


def channel_of(prefix: str, workspace_id: str, user_id: str) -> str:
    return f"{prefix}feed:{workspace_id}:{user_id}"


@dataclass(eq=False)
class Listener:
    """One open stream's mailbox. `stale` is set when messages may have been missed (the
    mailbox overflowed, Redis reconnected): the stream then re-reads the rows."""

    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )
    stale: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.stale.set()


class Hub:
    """This process's end of the fan-out: one pattern subscription, many local listeners."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._listeners: dict[str, set[Listener]] = {}
        self.connected = asyncio.Event()

    def listen(self, workspace_id: str, user_id: str) -> tuple[str, Listener]:
        channel = channel_of(self._prefix, workspace_id, user_id)
        listener = Listener()
        self._listeners.setdefault(channel, set()).add(listener)
        return channel, listener

    def forget(self, channel: str, listener: Listener) -> None:
        listeners = self._listeners.get(channel)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[channel]

    async def publish(self, workspace_id: str, user_id: str, message: dict[str, Any]) -> None:
        await self._redis.publish(
            channel_of(self._prefix, workspace_id, user_id), json.dumps(message)
        )

    async def run(self) -> None:
        """The background task: subscribe, dispatch, and on losing Redis resubscribe and tell
        every stream to re-read (what was published meanwhile is gone from pub/sub)."""
        while True:
            try:
                await self._subscribed()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("feed hub lost redis", error=repr(error))
            self.connected.clear()
            for listeners in self._listeners.values():
                for listener in listeners:
                    listener.stale.set()
            await asyncio.sleep(RECONNECT_DELAY)

    async def _subscribed(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.psubscribe(f"{self._prefix}feed:*")
            self.connected.set()
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is None or message.get("type") != "pmessage":
                    continue
                channel = _text(message["channel"])
                for listener in list(self._listeners.get(channel, ())):
                    listener.offer(json.loads(message["data"]))
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


_HUBS: weakref.WeakKeyDictionary[ServiceRuntime, Hub] = weakref.WeakKeyDictionary()


def hub_of(runtime: ServiceRuntime) -> Hub:
    """The runtime's hub: the app (streams) and the background task (its subscription) share it."""
    hub = _HUBS.get(runtime)
    if hub is None:
        hub = _HUBS[runtime] = Hub(runtime.redis, runtime.settings.key_prefix)
    return hub


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- pushing new notices ------------------------------------------------------------------------


def push_round(hub: Hub) -> Callable[[UnitOfWork], Any]:
    async def round_(uow: UnitOfWork) -> int:
        rows = await repository.claim_unpushed(uow.session, limit=PUSH_BATCH)
        for row in rows:
            message = {"type": "notification", "notification": view(row).model_dump(mode="json")}
            await hub.publish(row.workspace_id, row.recipient_id, message)
        await repository.set_times(uow.session, [r.id for r in rows], pushed_at=datetime.now(UTC))
        return len(rows)

    return round_


async def announce_read(hub: Hub, principal: Principal) -> None:
    """After a mark-read commits: every open stream of the person updates its count."""
    try:
        await hub.publish(principal.workspace_id, principal.subject, {"type": "read"})
    except Exception as error:  # the streams catch up at their next heartbeat
        log.warning("feed read announcement failed", error=repr(error))


# --- one stream -------------------------------------------------------------------------------


async def stream(
    hub: Hub,
    unit_of_work: Callable[[], UnitOfWork],
    principal: Principal,
    *,
    last_event_id: str | None,
    heartbeat: float,
    expires_at: float | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """`notification` events (id = the notice's id, so a reconnecting browser sends it back
    as `Last-Event-ID`) and `unread` events with the count, then heartbeats."""
    workspace_id, user_id = principal.workspace_id, principal.subject
    # Listen before reading the rows, so nothing falls between the read and the subscription.
    channel, listener = hub.listen(workspace_id, user_id)
    seen: OrderedDict[str, None] = OrderedDict()
    cursor: str | None
    try:
        async with unit_of_work() as uow:
            if last_event_id:
                backlog = _views(
                    await repository.after(
                        uow.session, workspace_id, user_id, last_event_id, limit=REPLAY_LIMIT
                    )
                )
                cursor = last_event_id
            else:
                backlog, cursor = [], await repository.newest_id(uow.session, workspace_id, user_id)
            count = await repository.unread_count(uow.session, workspace_id, user_id)
        for notification in backlog:
            yield _event(notification, seen)
            cursor = max(cursor or notification["id"], notification["id"])
        yield ServerSentEvent(json.dumps({"unread": count}), event="unread", retry=3000)
        while True:
            left = None if expires_at is None else expires_at - time.time()
            if left is not None and left <= 0:
                yield ServerSentEvent("{}", event="expired")
                return
            try:
                wait = heartbeat if left is None else min(heartbeat, left)
                message = await asyncio.wait_for(_next(listener), timeout=wait)
            except TimeoutError:
                message = None
            if message is None:  # a heartbeat, or told to re-read: both look at the rows
                listener.stale.clear()
                yield ServerSentEvent(comment="heartbeat")
                async with unit_of_work() as uow:
                    missed = (
                        _views(
                            await repository.after(
                                uow.session, workspace_id, user_id, cursor, limit=REPLAY_LIMIT
                            )
                        )
                        if cursor
                        else []
                    )
                    if not cursor:
                        cursor = await repository.newest_id(uow.session, workspace_id, user_id)
                    count = await repository.unread_count(uow.session, workspace_id, user_id)
                fresh = [n for n in missed if n["id"] not in seen]
                for notification in fresh:
                    yield _event(notification, seen)
                for notification in missed:
                    cursor = max(cursor or notification["id"], notification["id"])
                if fresh:
                    yield ServerSentEvent(json.dumps({"unread": count}), event="unread")
                continue
            if message.get("type") == "notification":
                notification = message["notification"]
                if notification["id"] in seen:
                    continue
                yield _event(notification, seen)
                cursor = max(cursor or notification["id"], notification["id"])
            async with unit_of_work() as uow:
                count = await repository.unread_count(uow.session, workspace_id, user_id)
            yield ServerSentEvent(json.dumps({"unread": count}), event="unread")
    finally:
        hub.forget(channel, listener)


async def _next(listener: Listener) -> dict[str, Any] | None:
    """The next message, or None at once when the listener went stale."""
    if listener.stale.is_set():
        return None
    getting = asyncio.ensure_future(listener.queue.get())
    staling = asyncio.ensure_future(listener.stale.wait())
    try:
        done, _ = await asyncio.wait({getting, staling}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (getting, staling):
            if not task.done():
                task.cancel()
    if getting in done:
        return getting.result()
    return None


def _views(rows: list[FeedNotification]) -> list[dict[str, Any]]:
    """Read while the session is open (ending it expires the rows)."""
    return [view(row).model_dump(mode="json") for row in rows]


def _event(notification: dict[str, Any], seen: OrderedDict[str, None]) -> ServerSentEvent:
    seen[notification["id"]] = None
    while len(seen) > SEEN_MEMORY:
        seen.popitem(last=False)
    return ServerSentEvent(json.dumps(notification), event="notification", id=notification["id"])
