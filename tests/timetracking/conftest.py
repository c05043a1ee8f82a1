"""The time-tracking service running for real: in-process uvicorn on PostgreSQL, the memory bus.

Neither identity nor tickets runs beside it: tests mint access tokens with their own Ed25519
key (the service verifies them with its public half, as it would identity's), and play
identity's and tickets' parts on the bus by publishing the very events those services
publish (workspaces, people, organisations, grants; projects and items), waiting until the
service's projections hold them.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from contracts.identity import (
    ClientOrganisationCreated,
    ProjectRole,
    UserCreated,
    UserKind,
    WorkspaceCreated,
)
from contracts.tickets import ItemCreated, ItemSnapshot, ProjectCreated, StatusCategory
from kit.settings import Settings
from kit.testing.infra import database_url
from services.timetracking.models import (
    ItemRef,
    OrganisationRef,
    PersonRef,
    ProjectRef,
    RunningTimer,
    TimeEntry,
)
from services.timetracking.module import module as timetracking_module
from tests.conftest import eventually
from tests.support.harness import ServiceHarness, free_port, running_service

SIGNING_KEY = Ed25519PrivateKey.generate()
PUBLIC_PEM = (
    SIGNING_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
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
    api_key: tuple[str, list[str]] | None = None,
) -> str:
    """An access token as identity issues them, signed with this module's key; `api_key`
    (id, scopes) makes it the token of an API key of that person."""
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
    if api_key is not None:
        claims |= {"api_key": api_key[0], "scopes": api_key[1]}
    return jwt.encode(claims, SIGNING_KEY, algorithm="EdDSA")


def item_snapshot(
    item_id: str,
    project_id: str,
    *,
    title: str = "Banner",
    number: int = 1000,
    status_category: StatusCategory = "new",
    estimate_minutes: int | None = None,
    requester_organisation_id: str | None = None,
    type_id: str | None = None,
    kind: Literal["ticket", "task"] = "task",
) -> ItemSnapshot:
    """An item as tickets describes it in every item event."""
    return ItemSnapshot(
        id=uuid.UUID(item_id),
        number=number,
        title=title,
        project_id=uuid.UUID(project_id),
        type_id=uuid.UUID(type_id or "00000000-0000-7000-8000-000000000001"),
        kind=kind,
        status_id=uuid.uuid4(),
        status_name=status_category.replace("_", " ").title(),
        status_category=status_category,
        priority="normal",
        requester_organisation_id=(
            uuid.UUID(requester_organisation_id) if requester_organisation_id else None
        ),
        estimate_minutes=estimate_minutes,
    )


@dataclass(frozen=True)
class User:
    id: str
    token: str
    workspace_id: str


@dataclass(frozen=True)
class Workspace:
    id: str
    admin: User


@dataclass
class TimetrackingApp(ServiceHarness):
    """One running time-tracking service, shared by a test session; tests isolate themselves
    by workspace."""

    # --- HTTP ----------------------------------------------------------------------------------

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

    # --- playing identity and tickets on the bus -----------------------------------------------

    async def new_workspace(self) -> Workspace:
        """A workspace as identity creates one, with its admin, once the service knows both."""
        workspace_id, admin_id = new_id(), new_id()
        await self._announce_user(workspace_id, admin_id, "staff", "admin", "Ada Admin", None)
        await self.emit(
            WorkspaceCreated(
                workspace_id=uuid.UUID(workspace_id),
                name="Acme Agency",
                slug=f"ws-{workspace_id[:8]}",
                time_zone="Europe/Paris",
                created_by=uuid.UUID(admin_id),
            ),
            workspace_id,
            f"workspace/{workspace_id}",
        )
        await eventually(lambda: self.knows_workspace(workspace_id), timeout=10)
        await eventually(lambda: self._knows_person(admin_id), timeout=10)
        admin = User(admin_id, self.token(workspace_id, admin_id, role="admin"), workspace_id)
        return Workspace(workspace_id, admin)

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
        user_id = new_id()
        await self._announce_user(workspace_id, user_id, kind, role, name, org)
        await eventually(lambda: self._knows_person(user_id), timeout=10)
        return User(
            user_id, self.token(workspace_id, user_id, kind, role, teams, org), workspace_id
        )

    async def add_organisation(self, workspace_id: str, name: str = "Globex") -> str:
        organisation_id = new_id()
        await self.emit(
            ClientOrganisationCreated(
                organisation_id=uuid.UUID(organisation_id),
                workspace_id=uuid.UUID(workspace_id),
                name=name,
            ),
            workspace_id,
            f"organisation/{organisation_id}",
        )
        await eventually(
            lambda: self._has(OrganisationRef, organisation_id, lambda r: bool(r.name)), timeout=10
        )
        return organisation_id

    async def add_project(
        self, workspace_id: str, name: str = "Website", client_organisation_id: str | None = None
    ) -> str:
        project_id = new_id()
        await self.emit(
            ProjectCreated(
                project_id=uuid.UUID(project_id),
                workspace_id=uuid.UUID(workspace_id),
                name=name,
                client_organisation_id=(
                    uuid.UUID(client_organisation_id) if client_organisation_id else None
                ),
            ),
            workspace_id,
            f"project/{project_id}",
        )
        await eventually(
            lambda: self._has(ProjectRef, project_id, lambda r: bool(r.name)), timeout=10
        )
        return project_id

    async def add_item(
        self,
        workspace_id: str,
        project_id: str,
        *,
        title: str = "Banner",
        estimate_minutes: int | None = None,
        requester_organisation_id: str | None = None,
    ) -> str:
        """An item as tickets announces a new one (New), once the service knows it."""
        item_id = new_id()
        snapshot = item_snapshot(
            item_id,
            project_id,
            title=title,
            estimate_minutes=estimate_minutes,
            requester_organisation_id=requester_organisation_id,
        )
        await self.emit(ItemCreated(item=snapshot), workspace_id, f"item/{item_id}")
        await eventually(lambda: self._has(ItemRef, item_id, lambda _: True), timeout=10)
        return item_id

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

    async def _announce_user(
        self,
        workspace_id: str,
        user_id: str,
        kind: UserKind,
        role: str,
        name: str,
        org: str | None,
    ) -> None:
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

    # --- looking inside ------------------------------------------------------------------------

    async def row(self, model: type[Any], key: Any) -> Any:
        async with self.runtime.session_factory() as session:
            return await session.get(model, key)

    async def running_timers(self, workspace_id: str, user_id: str) -> list[RunningTimer]:
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(
                select(RunningTimer).where(
                    RunningTimer.workspace_id == workspace_id, RunningTimer.user_id == user_id
                )
            )
            return list(rows)

    async def entries_of(self, workspace_id: str, user_id: str) -> list[TimeEntry]:
        """Every entry of the person, deleted ones included, oldest first."""
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(
                select(TimeEntry)
                .where(TimeEntry.workspace_id == workspace_id, TimeEntry.user_id == user_id)
                .order_by(TimeEntry.id)
            )
            return list(rows)

    async def backdate_timer(self, workspace_id: str, user_id: str, by: timedelta) -> datetime:
        """Move the person's running timer's start into the past; returns the new start."""
        async with self.runtime.session_factory() as session:
            started = await session.scalar(
                update(RunningTimer)
                .where(RunningTimer.workspace_id == workspace_id, RunningTimer.user_id == user_id)
                .values(started_at=RunningTimer.started_at - by)
                .returning(RunningTimer.started_at)
            )
            await session.commit()
        assert isinstance(started, datetime), "no running timer to backdate"
        return started

    async def _has(self, model: type[Any], key: str, check: Any) -> bool:
        found = await self.row(model, key)
        return found is not None and bool(check(found))

    async def _knows_person(self, user_id: str) -> bool:
        return await self._has(PersonRef, user_id, lambda r: bool(r.email))


@dataclass(frozen=True)
class Team:
    """A workspace with the people and the project most tests need: an admin, a manager, a
    contributor, a viewer and an outsider (no grant), and one item of the project."""

    workspace: Workspace
    project_id: str
    item_id: str
    manager: User
    contributor: User
    viewer: User
    outsider: User

    @property
    def id(self) -> str:
        return self.workspace.id

    @property
    def admin(self) -> User:
        return self.workspace.admin


async def make_team(app: TimetrackingApp, *, estimate_minutes: int | None = None) -> Team:
    ws = await app.new_workspace()
    project_id = await app.add_project(ws.id)
    item_id = await app.add_item(ws.id, project_id, estimate_minutes=estimate_minutes)
    manager, contributor, viewer, outsider = [
        await app.add_user(ws.id, name=name) for name in ("Mia", "Carl", "Vera", "Otto")
    ]
    await app.grant(ws.id, project_id, manager.id, "manager")
    await app.grant(ws.id, project_id, contributor.id, "contributor")
    await app.grant(ws.id, project_id, viewer.id, "viewer")
    return Team(ws, project_id, item_id, manager, contributor, viewer, outsider)


TIMETRACKING = dataclasses.replace(timetracking_module, background=lambda _runtime: ())
"""The service as it runs, less its once-a-minute sweep of forgotten timers: tests that
backdate a timer decide themselves when it is swept (`test_timers` runs the sweep's loop)."""


@pytest.fixture(scope="session")
async def timetracking(
    pg_server_url: str, session_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TimetrackingApp]:
    port = free_port()
    settings = Settings(
        database_url=database_url(pg_server_url, f"dltest_{session_tag}_tt"),
        bus_url="memory://",
        redis_url=None,
        namespace=f"t{session_tag}-timetracking",
        var_dir=tmp_path_factory.mktemp("timetracking-var"),
        host="127.0.0.1",
        port=port,
        retry_delays=[0.1, 0.2, 0.5],
        outbox_poll_interval=0.1,
        jwt_public_key=PUBLIC_PEM,
    )
    async with running_service(TIMETRACKING, settings) as (base, host, client):
        yield TimetrackingApp(base, host, client)
