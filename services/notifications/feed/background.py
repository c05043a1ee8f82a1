"""The feed's background tasks, run by every replica (their claims never overlap)."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any

from kit.runtime import ServiceRuntime
from services.notifications.feed import live
from services.notifications.feed.service import PUSH_BATCH, repeat
from services.notifications.settings import get_settings

Task = tuple[str, Coroutine[Any, Any, Any]]


def hub_task(runtime: ServiceRuntime) -> Task:
    """This process's Redis subscription, feeding the live streams it holds."""
    return ("feed-hub", live.hub_of(runtime).run())


def feed_tasks(runtime: ServiceRuntime) -> Sequence[Task]:
    settings = get_settings()
    hub = live.hub_of(runtime)
    return [
        hub_task(runtime),
        (
            "feed-push",
            repeat(
                "push",
                runtime.unit_of_work,
                live.push_round(hub),
                interval=settings.feed_push_interval,
                batch=PUSH_BATCH,
            ),
        ),
    ]
