"""The tickets service running for real: in-process uvicorn on PostgreSQL, the memory bus.

No identity runs beside it: tests mint access tokens with their own Ed25519 key (the service
verifies them with its public half, as it would identity's), and play identity's part on the
bus by publishing its events (users, workspaces, grants) and waiting until the service's
projections hold them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from contracts import Envelope, registry
from contracts.identity import (
    ClientVisibility,
    GrantRevoked,
    ProjectRole,
    TeamChanged,
    UserCreated,
    UserKind,
    WorkspaceCreated,
)
from kit.module import ServiceModule
from kit.runtime import ServiceRuntime
from kit.settings import Settings
from kit.testing.infra import database_url
from services.tickets.app import create_app
from services.tickets.models import Person, WorkspaceDefaults
from services.tickets.module import module as tickets_module
from services.tickets.people import repository as people
from tests.conftest import eventually
from tests.support.harness import ServiceHarness, free_port, running_service

SIGNING_KEY = Ed25519PrivateKey.generate()
PUBLIC_PEM = (
    SIGNING_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def _routers() -> list[APIRouter]:
    """Every router of the service that exists yet (items and conversation may still be
    being written)."""
    from services.tickets.hierarchy.endpoints import router as hierarchy
    from services.tickets.types.endpoints import router as types

    found = [hierarchy, types]
    for name in ("items", "conversation"):
        try:
            module = __import__(f"services.tickets.{name}.endpoints", fromlist=["router"])
        except ImportError:
            continue
        found.append(module.router)
    return found


def tickets_app(runtime: ServiceRuntime) -> FastAPI:
    """The service's own app, plus any router it does not include yet."""
    app = create_app(runtime)
    present = {
        (route.path, method)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    for router in _routers():
        routes = [
            (route.path, method)
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods or ()
        ]
        if not any(r in present for r in routes):
            app.include_router(router)
    return app


TICKETS = ServiceModule(
    name="tickets",
    title="Tickets",
    create_app=tickets_app,
    migrations=tickets_module.migrations,
    consumers=tickets_module.consumers,
)


def new_id() -> str:
    return str(uuid.uuid4())


def mint(
    workspace_id: str,
    user_id: str,
    *,
    kind: str = "staff",
    role: str = "member",
    teams: Iterable[str] = (),
    org: str | None = None,
    ttl: int = 3600,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "wid": workspace_id,
        "kind": kind,
        "role": role,
        "teams": list(teams),
        "org": org,
        "iss": "deskline-identity",
        "aud": "deskline",
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, SIGNING_KEY, algorithm="EdDSA")


@dataclass(frozen=True)
class User:
    id: str
    token: str
    workspace_id: str


@dataclass(frozen=True)
class Workspace:
    id: str
    admin: User
    support_project_id: str
    ticket_type_id: str
    task_type_id: str

    @property
    def admin_token(self) -> str:
        return self.admin.token


@dataclass
class TicketsApp(ServiceHarness):
    """One running tickets service, shared by a test session; isolate tests by workspace."""

    # --- HTTP ----------------------------------------------------------------------------

    def token(
        self,
        workspace_id: str,
        user_id: str,
        kind: str = "staff",
        role: str = "member",
        teams: Sequence[str] = (),
        org: str | None = None,
    ) -> str:
        return mint(workspace_id, user_id, kind=kind, role=role, teams=teams, org=org)

    # --- playing identity on the bus -----------------------------------------------------

    async def add_user(
        self,
        workspace_id: str,
        *,
        kind: UserKind = "staff",
        role: str = "member",
        org: str | None = None,
        teams: Sequence[str] = (),
        name: str = "Someone",
    ) -> User:
        """A user identity announced (and the service's people projection holds)."""
        user_id = new_id()
        await self.emit(
            UserCreated(
                user_id=uuid.UUID(user_id),
                workspace_id=uuid.UUID(workspace_id),
                email=f"{user_id[:8]}@example.test",
                display_name=name,
                kind=kind,
                client_organisation_id=uuid.UUID(org) if org else None,
                workspace_role="admin" if role == "admin" else "member",
            ),
            workspace_id,
            f"user/{user_id}",
        )
        await eventually(lambda: self._has_person(user_id), timeout=10)
        token = self.token(workspace_id, user_id, kind, role, teams, org)
        return User(user_id, token, workspace_id)

    async def new_workspace(self, client_visibility: ClientVisibility = "own") -> Workspace:
        """A workspace as identity creates one (with its admin), once its defaults exist."""
        workspace_id = new_id()
        admin_id = new_id()
        await self.emit(
            UserCreated(
                user_id=uuid.UUID(admin_id),
                workspace_id=uuid.UUID(workspace_id),
                email=f"admin-{admin_id[:8]}@example.test",
                display_name="Ada Admin",
                kind="staff",
                workspace_role="admin",
            ),
            workspace_id,
            f"user/{admin_id}",
        )
        await self.emit(
            WorkspaceCreated(
                workspace_id=uuid.UUID(workspace_id),
                name="Acme Agency",
                slug=f"ws-{workspace_id[:8]}",
                time_zone="Europe/Paris",
                created_by=uuid.UUID(admin_id),
                client_visibility=client_visibility,
            ),
            workspace_id,
            f"workspace/{workspace_id}",
        )
        await eventually(lambda: self._has_defaults(workspace_id), timeout=10)
        await eventually(lambda: self._has_person(admin_id), timeout=10)
        admin = User(admin_id, self.token(workspace_id, admin_id, role="admin"), workspace_id)
        types = (await self.get("/types", admin.token)).json()
        by_kind = {t["kind"]: t["id"] for t in types}
        projects = (await self.get("/projects", admin.token)).json()["items"]
        return Workspace(workspace_id, admin, projects[0]["id"], by_kind["ticket"], by_kind["task"])

    async def settle(self) -> None:
        """Return once every identity event published before has been handled: each consumer
        handles its queue in order, and this waits for a fresh workspace (with its admin) to
        pass through all of them."""
        ws = await self.new_workspace()
        await eventually(lambda: self.knows_workspace(ws.id), timeout=10)

    async def grant(
        self,
        workspace_id: str,
        project_id: str,
        subject_id: str,
        role: ProjectRole,
        *,
        subject_type: Literal["user", "team"] = "user",
    ) -> str:
        """Share a project as identity would; returns the grant id once it is projected."""
        grant_id, _ = await self.give_grant(
            workspace_id, project_id, subject_id, role, subject_type=subject_type
        )
        return grant_id

    async def revoke(
        self, workspace_id: str, project_id: str, grant_id: str, subject_id: str
    ) -> None:
        await self.emit(
            GrantRevoked(
                grant_id=uuid.UUID(grant_id),
                workspace_id=uuid.UUID(workspace_id),
                project_id=uuid.UUID(project_id),
                subject_type="user",
                subject_id=uuid.UUID(subject_id),
            ),
            workspace_id,
            f"project/{project_id}",
        )
        await eventually(lambda: self._grant_gone(grant_id), timeout=10)

    def team_event(
        self,
        workspace_id: str,
        team_id: str,
        member_ids: Sequence[str],
        *,
        deleted: bool = False,
    ) -> Envelope:
        """identity.team.changed.v1 as identity would publish it (not published yet: a test
        may restamp it to play events overtaking one another)."""
        return registry.envelope(
            TeamChanged(
                team_id=uuid.UUID(team_id),
                workspace_id=uuid.UUID(workspace_id),
                name="Designers",
                member_ids=[uuid.UUID(m) for m in member_ids],
                deleted=deleted,
            ),
            workspace=workspace_id,
            subject=f"team/{team_id}",
        )

    async def set_team(
        self, workspace_id: str, team_id: str, member_ids: Sequence[str], *, deleted: bool = False
    ) -> None:
        """Announce the team's whole state and wait until the projection holds its members."""
        await self.publish(self.team_event(workspace_id, team_id, member_ids, deleted=deleted))
        expected = frozenset() if deleted else frozenset(member_ids)

        async def projected() -> bool:
            return await self.team_members(team_id) == expected

        await eventually(projected, timeout=10)

    # --- looking inside --------------------------------------------------------------------

    async def team_members(self, team_id: str) -> frozenset[str]:
        async with self.runtime.session_factory() as session:
            return await people.team_member_ids(session, team_id)

    async def teams_of(self, workspace_id: str, user_id: str) -> tuple[str, ...]:
        async with self.runtime.session_factory() as session:
            return await people.teams_of(session, workspace_id, user_id)

    async def person(self, user_id: str) -> Person | None:
        async with self.runtime.session_factory() as session:
            return await session.get(Person, user_id)

    async def _has_person(self, user_id: str) -> bool:
        found = await self.person(user_id)
        return found is not None and bool(found.email)

    async def _has_defaults(self, workspace_id: str) -> bool:
        async with self.runtime.session_factory() as session:
            return await session.get(WorkspaceDefaults, workspace_id) is not None

    async def _grant_gone(self, grant_id: str) -> bool:
        return await self.grant_role(grant_id) is None


def tickets_settings(database: str, namespace: str, var_dir: Path) -> Settings:
    """A test tickets service on `database` (PostgreSQL or SQLite), the memory bus, a free
    port and fast retries."""
    return Settings(
        database_url=database,
        bus_url="memory://",
        redis_url=None,
        namespace=namespace,
        var_dir=var_dir,
        host="127.0.0.1",
        port=free_port(),
        retry_delays=[0.1, 0.2, 0.5],
        outbox_poll_interval=0.1,
        jwt_public_key=PUBLIC_PEM,
    )


@pytest.fixture(scope="session")
async def tickets(
    pg_server_url: str, session_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TicketsApp]:
    settings = tickets_settings(
        database_url(pg_server_url, f"dltest_{session_tag}_tkt"),
        f"t{session_tag}-tickets",
        tmp_path_factory.mktemp("tickets-var"),
    )
    async with running_service(TICKETS, settings) as (base, host, client):
        yield TicketsApp(base, host, client)
