"""The tickets service's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from kit.http import create_service_app
from kit.runtime import ServiceRuntime
from services.tickets.attachments.endpoints import router as attachments
from services.tickets.conversation.endpoints import router as conversation
from services.tickets.hierarchy.endpoints import router as hierarchy
from services.tickets.items.endpoints import router as items
from services.tickets.types.endpoints import router as types


def create_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="Deskline tickets")
    # Items first: their routes are the busiest, and matching tries routes in order (no path
    # of one router is a path of another, so the order changes nothing else).
    for router in (items, conversation, attachments, hierarchy, types):
        app.include_router(router)
    return app
