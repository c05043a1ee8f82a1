"""The timetracking service's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from kit.http import create_service_app
from kit.runtime import ServiceRuntime
from services.timetracking.entries.endpoints import router as entries
from services.timetracking.imports.endpoints import router as imports
from services.timetracking.rates.endpoints import router as rates
from services.timetracking.reports.endpoints import router as reports
from services.timetracking.timers.endpoints import router as timers


def create_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="Deskline timetracking")
    for router in (timers, entries, rates, reports, imports):
        app.include_router(router)
    return app
