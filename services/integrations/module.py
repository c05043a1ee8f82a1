"""What the launcher runs for the integrations service."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from kit.access import access_consumer
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from services.integrations.app import create_app
from services.integrations.settings import IntegrationsSettings, get_settings
from services.integrations.triggers.consumers import CONSUMERS as TRIGGER_CONSUMERS
from services.integrations.webhooks import service, ssrf
from services.integrations.webhooks.consumers import CONSUMERS as WEBHOOK_CONSUMERS
from services.integrations.webhooks.dispatcher import Dispatcher


def build(
    *,
    settings: IntegrationsSettings | None = None,
    clock: service.Clock = service.now,
    lookup: ssrf.Lookup = ssrf.system_lookup,
) -> ServiceModule:
    """The service with its settings (default: the environment's), the clock of the delivery
    schedule and the name lookup of the URL guard (default: the system's). Tests build it
    with their own to step through days of retries or script what a name resolves to."""

    def chosen() -> IntegrationsSettings:
        # Read when the service starts, not at import, like every service's settings.
        return settings or get_settings()

    def guard() -> ssrf.Guard:
        return ssrf.Guard.of(chosen().webhook_allow_networks, lookup)

    def app(runtime: ServiceRuntime) -> FastAPI:
        return create_app(runtime, chosen(), guard())

    def background(runtime: ServiceRuntime) -> Sequence[tuple[str, Coroutine[Any, Any, Any]]]:
        """The webhook dispatcher; every replica runs one (claims are `SKIP LOCKED`)."""
        dispatcher = Dispatcher(runtime, chosen(), clock=clock, guard=guard())
        return [("webhook-dispatcher", dispatcher.run())]

    return ServiceModule(
        name="integrations",
        title="Integrations",
        create_app=app,
        migrations=Path(__file__).parent / "migrations",
        # Every service authorises locally against its projection of identity's grants.
        consumers=[access_consumer(), *TRIGGER_CONSUMERS, *WEBHOOK_CONSUMERS],
        background=background,
    )


module = build()
