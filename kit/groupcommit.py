"""Group commit: work submitted concurrently shares one database transaction.

A commit costs a round trip and a flush to disk whatever it holds, so a busy writer that
commits once per piece of work spends most of its time waiting for commits. Here each
submitter hands over its piece and waits; one flusher at a time takes everything waiting
(up to `max_batch`) and lets `handle` write and commit it as one transaction, while the
next pieces gather behind it — under load, batches grow by themselves; when quiet, a
piece is committed alone, at once.

A submitter returns only once the transaction holding its piece has committed, so
"answered only after durable" holds per piece exactly as with one commit each. If a
batch's transaction fails, each of its pieces is handled again in a transaction of its
own, so one bad piece only ever fails itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_MAX_BATCH = 64


class Interrupted(Exception):
    """The flusher was stopped while a piece waited: its outcome is unknown."""


class GroupCommit(Generic[T]):
    """`await group(piece)` returns once `handle` has committed a batch holding `piece`, or
    raises what handling `piece` alone raised. `handle` must commit (or fail) everything
    it is given as one transaction."""

    def __init__(
        self,
        handle: Callable[[Sequence[T]], Awaitable[None]],
        *,
        name: str,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        """`name` names the flusher task (what a task dump or a profile shows)."""
        self._handle = handle
        self._name = f"group-commit:{name}"
        self._max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def __call__(self, piece: T) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((piece, done))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush(), name=self._name)
        await done

    async def _flush(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        try:
            await asyncio.sleep(0)  # pieces submitted in the same burst join this batch
            while self._waiting:
                size = self._max_batch
                batch, self._waiting = self._waiting[:size], self._waiting[size:]
                await self._settle(batch)
        except BaseException:
            # Stopped (shutdown) mid-batch: whether the batch committed is unknown, so no
            # submitter may take it as committed (a sender retries; a redelivery is harmless).
            stopped = Interrupted("the group commit stopped before this piece's outcome was known")
            for _, done in [*batch, *self._waiting]:
                _resolve(done, error=stopped)
            self._waiting = []
            raise
        finally:
            self._flusher = None

    async def _settle(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._handle([piece for piece, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                _resolve(batch[0][1], error=error)
                return
            for piece, done in batch:  # isolate the failure: one transaction each
                try:
                    await self._handle([piece])
                except Exception as alone:
                    _resolve(done, error=alone)
                else:
                    _resolve(done)
            return
        for _, done in batch:
            _resolve(done)


def _resolve(done: asyncio.Future[None], *, error: BaseException | None = None) -> None:
    if done.done():  # its submitter was cancelled (a connection dropped) while it waited
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
