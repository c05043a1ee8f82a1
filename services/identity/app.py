"""The identity service's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from kit.http import create_service_app
from kit.runtime import ServiceRuntime
from services.identity.apikeys.endpoints import router as apikeys
from services.identity.auth.endpoints import router as auth
from services.identity.dependencies import Identity
from services.identity.grants.endpoints import router as grants
from services.identity.people.endpoints import router as people
from services.identity.teams.endpoints import router as teams
from services.identity.workspaces.endpoints import router as workspaces


def create_app(runtime: ServiceRuntime) -> FastAPI:
    app = create_service_app(runtime, title="Deskline identity")
    app.state.identity = Identity.build(runtime)
    for router in (auth, workspaces, people, teams, grants, apikeys):
        app.include_router(router)
    return app
