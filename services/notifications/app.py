"""The notifications service's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from kit.http import create_service_app
from kit.runtime import ServiceRuntime

# --- in-app feed ---
from services.notifications.feed.endpoints import router as feed
from services.notifications.preferences.endpoints import router as preferences


def create_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="Deskline notifications")
    # --- in-app feed ---
    for router in (feed, preferences):
        app.include_router(router)
    return app
