"""What the launcher runs for the notifications service."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from kit.access import access_consumer
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from services.notifications.app import create_app

# --- in-app feed ---
from services.notifications.feed.background import feed_tasks


def background(runtime: ServiceRuntime) -> Sequence[tuple[str, Coroutine[Any, Any, Any]]]:
    return [*feed_tasks(runtime)]


module = ServiceModule(
    name="notifications",
    title="Notifications",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    # Every service authorises locally against its projection of identity's grants.
    consumers=[access_consumer()],
    background=background,
)
