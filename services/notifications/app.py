"""The notifications service's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from kit.http import create_service_app
from kit.runtime import ServiceRuntime
from services.notifications.feed.endpoints import router as feed_router
from services.notifications.inbound.endpoints import router as inbound_router
from services.notifications.mailsettings.endpoints import router as mail_settings_router
from services.notifications.preferences.endpoints import router as preferences_router


def create_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="Deskline notifications")
    app.include_router(inbound_router)
    app.include_router(mail_settings_router)
    # --- in-app feed ---
    app.include_router(feed_router)
    app.include_router(preferences_router)
    return app
