"""The feed's background tasks, run by every replica (their claims never overlap)."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any

from kit.runtime import ServiceRuntime
from services.notifications.feed import live
from services.notifications.feed.forwarding import forward_round
from services.notifications.feed.service import FORWARD_BATCH, PUSH_BATCH, repeat
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
        (
            "feed-forward",
            repeat(
                "forward",
                runtime.unit_of_work,
                forward_round,
                interval=settings.feed_forward_interval,
                batch=FORWARD_BATCH,
            ),
        ),
    ]
