"""What the launcher runs for the integrations service."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from kit.access import access_consumer
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from services.integrations.app import create_app
from services.integrations.settings import get_settings
from services.integrations.triggers.consumers import CONSUMERS as TRIGGER_CONSUMERS
from services.integrations.webhooks.consumers import CONSUMERS as WEBHOOK_CONSUMERS
from services.integrations.webhooks.dispatcher import Dispatcher


def background(runtime: ServiceRuntime) -> Sequence[tuple[str, Coroutine[Any, Any, Any]]]:
    """The webhook dispatcher; every replica runs one (claims are `SKIP LOCKED`)."""
    return [("webhook-dispatcher", Dispatcher(runtime, get_settings()).run())]


module = ServiceModule(
    name="integrations",
    title="Integrations",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    # Every service authorises locally against its projection of identity's grants.
    consumers=[access_consumer(), *TRIGGER_CONSUMERS, *WEBHOOK_CONSUMERS],
    background=background,
)
