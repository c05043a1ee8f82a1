"""What the launcher runs for the notifications service."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from kit.access import access_consumer
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from services.notifications.app import create_app
from services.notifications.directory.consumers import CONSUMERS as DIRECTORY_CONSUMERS
from services.notifications.feed.background import feed_tasks
from services.notifications.feed.consumers import CONSUMERS as FEED_CONSUMERS
from services.notifications.inbound import listener
from services.notifications.inbound.consumers import CONSUMERS as INBOUND_CONSUMERS
from services.notifications.outbound.consumers import CONSUMERS as OUTBOUND_CONSUMERS
from services.notifications.parts import mail_parts


def background(runtime: ServiceRuntime) -> Sequence[tuple[str, Coroutine[Any, Any, Any]]]:
    """Every replica runs a sender and a processor (they lease rows `SKIP LOCKED`, so two
    never handle the same mail) and, when configured, the SMTP listener."""
    parts = mail_parts(runtime)
    tasks: list[tuple[str, Coroutine[Any, Any, Any]]] = [
        ("mail-sender", parts.sender.run_forever()),
        ("mail-processor", parts.processor.run_forever()),
    ]
    if parts.settings.smtp_listen:
        tasks.append(
            (
                "smtp-listener",
                listener.serve(runtime.unit_of_work, parts.settings, parts.limiter, parts.intake),
            )
        )
    # --- in-app feed: live push (Redis), pushing new notices, forwarding unread ones ---
    tasks.extend(feed_tasks(runtime))
    return tasks


module = ServiceModule(
    name="notifications",
    title="Notifications",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    # Every service authorises locally against its projection of identity's grants.
    consumers=[
        access_consumer(),
        *DIRECTORY_CONSUMERS,
        *OUTBOUND_CONSUMERS,
        *INBOUND_CONSUMERS,
        *FEED_CONSUMERS,
    ],
    background=background,
)
