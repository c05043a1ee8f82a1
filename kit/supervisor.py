"""Long-running tasks of a process; one that dies takes the process down.

A consumer or relay that stopped silently would leave a process that looks
healthy but does nothing. Failing loudly lets the supervisor (systemd,
compose, Kubernetes) restart it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from kit.logging import get_logger

log = get_logger(__name__)


class Supervisor:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.failed = asyncio.Event()
        self.failure: str | None = None

    def spawn(self, name: str, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if self._stopping or task.cancelled():
            return
        error = task.exception()
        self.failure = f"background task {task.get_name()} ended: {error!r}"
        log.error(
            "background task died; stopping the process", task=task.get_name(), error=repr(error)
        )
        self.failed.set()

    def fail(self, reason: str) -> None:
        self.failure = reason
        self.failed.set()

    @property
    def alive(self) -> bool:
        return not self.failed.is_set()

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
