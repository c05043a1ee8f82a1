"""The automation service's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from kit.http import create_service_app
from kit.runtime import ServiceRuntime
from services.automation.rules.endpoints import router as rules
from services.automation.sla.endpoints import router as sla


def create_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="Deskline automation")
    for router in (rules, sla):
        app.include_router(router)
    return app
