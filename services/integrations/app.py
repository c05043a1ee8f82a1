"""The integrations service's HTTP API: the versioned gateway under `/v1`."""

from __future__ import annotations

from fastapi import FastAPI

from kit.http import create_service_app
from kit.runtime import ServiceRuntime
from services.integrations.gateway.endpoints import router as gateway_router
from services.integrations.gateway.owners import Owners
from services.integrations.settings import IntegrationsSettings, get_settings
from services.integrations.triggers.endpoints import router as triggers_router
from services.integrations.webhooks import ssrf
from services.integrations.webhooks.endpoints import router as webhooks_router


def create_app(
    runtime: ServiceRuntime,
    settings: IntegrationsSettings | None = None,
    guard: ssrf.Guard | None = None,
) -> FastAPI:
    app = create_service_app(runtime, title="Deskline integrations")
    settings = settings or get_settings()
    app.state.integrations_settings = settings
    # Registration checks URLs with the same guard (allow-list, name lookup) as every attempt.
    app.state.url_guard = guard or ssrf.Guard.of(settings.webhook_allow_networks)
    app.state.owners = Owners(runtime, settings)
    app.include_router(triggers_router)
    app.include_router(gateway_router)
    app.include_router(webhooks_router)
    return app
