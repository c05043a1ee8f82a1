"""The notifications service running for real, for the feed's tests: in-process uvicorn on
PostgreSQL, real Redis for the live push, the memory bus.

Identity, tickets, automation and integrations do not run beside it: tests mint access
tokens with their own Ed25519 key and play the other services' parts by publishing the
very events they publish, waiting until the service's directory and grants hold them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from contracts import Envelope, registry
from contracts.identity import ProjectRole, TeamChanged, UserCreated, UserKind, WorkspaceCreated
from contracts.tickets import CommentAdded, ItemAssigned, ItemSnapshot, ProjectCreated
from kit.settings import Settings
from kit.testing.infra import database_url
from services.notifications.feed import service
from services.notifications.feed.background import feed_tasks
from services.notifications.models import (
    DirectoryPerson,
    DirectoryProject,
    DirectoryTeamMember,
    FeedNotification,
    OutgoingMail,
)
from services.notifications.module import module as notifications_module
from services.notifications.settings import get_settings
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


def mint(workspace_id: str, user_id: str, *, kind: str = "staff", ttl: int = 3600) -> str:
    """An access token as identity issues them, signed with this module's key."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "wid": workspace_id,
        "kind": kind,
        "role": "member",
        "iss": "deskline-identity",
        "aud": "deskline",
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, SIGNING_KEY, algorithm="EdDSA")


def feed_settings(pg_server_url: str, redis_url: str, tag: str, var_dir: Any) -> Settings:
    """One test session's settings: its own database, bus namespace and Redis prefix. Every
    process of the session (several replicas in the live-push tests) shares them."""
    # Tests wait for the background loops, not for production's pace. Set in the environment
    # (not on the cached object), so they outlive another fixture re-reading the settings.
    os.environ.update(
        {
            "DESKLINE_NOTIFICATIONS_FEED_PUSH_INTERVAL": "0.05",
            "DESKLINE_NOTIFICATIONS_FEED_FORWARD_INTERVAL": "0.1",
            "DESKLINE_NOTIFICATIONS_FEED_HEARTBEAT_SECONDS": "1",
        }
    )
    get_settings.cache_clear()
    return Settings(
        database_url=database_url(pg_server_url, f"dltest_{tag}_nf"),
        bus_url="memory://",
        redis_url=redis_url,
        redis_prefix=f"dltest:{tag}:feed:",
        namespace=f"t{tag}-notif-feed",
        var_dir=var_dir,
        host="127.0.0.1",
        port=free_port(),
        retry_delays=[0.1, 0.2, 0.5],
        outbox_poll_interval=0.1,
        jwt_public_key=PUBLIC_PEM,
    )


@dataclass(frozen=True)
class User:
    id: str
    token: str
    workspace_id: str
    email: str


@dataclass(frozen=True)
class Team:
    """A workspace with a project, a staff manager, two staff members, a collaborator and a
    client, all known to the directory; the project is shared (silently) with the staff and
    the collaborator."""

    workspace_id: str
    project_id: str
    manager: User
    ann: User
    bob: User
    vendor: User
    client: User
    outsider: User = field(repr=False)


@dataclass
class FeedApp(ServiceHarness):
    # --- notices written directly (what every event handler ends in) ------------------------

    def person(self, workspace_id: str | None = None) -> User:
        """Someone with a token; the feed's API and stream need nothing else of a person."""
        workspace_id = workspace_id or new_id()
        user_id = new_id()
        return User(user_id, mint(workspace_id, user_id), workspace_id, f"{user_id[:8]}@x.test")

    async def deliver(self, user: User, title: str = "Hello", *, kind: str = "assigned") -> str:
        """A notice for `user` through `service.deliver`, committed; returns its event id."""
        event_id = new_id()
        async with self.runtime.unit_of_work() as uow:
            notice = service.Notice(workspace_id=user.workspace_id, kind=kind, title=title)
            await service.deliver(uow, event_id, notice, [user.id])
            await uow.commit()
        return event_id

    async def add_workspace(self) -> str:
        workspace_id = new_id()
        await self.emit(
            WorkspaceCreated(
                workspace_id=uuid.UUID(workspace_id),
                name="Acme Agency",
                slug=f"ws-{workspace_id[:8]}",
                time_zone="Europe/Paris",
                created_by=uuid.uuid4(),
            ),
            workspace_id,
            f"workspace/{workspace_id}",
        )
        await eventually(lambda: self.knows_workspace(workspace_id), timeout=10)
        return workspace_id

    async def add_user(
        self,
        workspace_id: str,
        name: str,
        kind: UserKind = "staff",
        org: str | None = None,
        *,
        email: str | None = None,
    ) -> User:
        user_id = new_id()
        email = email or f"{name.lower().replace(' ', '-')}.{user_id[:6]}@acme.example"
        await self.emit(
            UserCreated(
                user_id=uuid.UUID(user_id),
                workspace_id=uuid.UUID(workspace_id),
                email=email,
                display_name=name,
                kind=kind,
                client_organisation_id=uuid.UUID(org) if org else None,
                workspace_role="member",
            ),
            workspace_id,
            f"user/{user_id}",
        )
        await eventually(lambda: self._has(DirectoryPerson, user_id), timeout=10)
        return User(user_id, mint(workspace_id, user_id, kind=kind), workspace_id, email)

    async def add_project(self, workspace_id: str, name: str = "Spring campaign") -> str:
        project_id = new_id()
        await self.emit(
            ProjectCreated(
                project_id=uuid.UUID(project_id), workspace_id=uuid.UUID(workspace_id), name=name
            ),
            workspace_id,
            f"project/{project_id}",
        )
        await eventually(lambda: self._has(DirectoryProject, project_id), timeout=10)
        return project_id

    async def grant(
        self,
        workspace_id: str,
        project_id: str,
        user_id: str,
        role: ProjectRole,
        *,
        silent: bool = True,
        granted_by: str | None = None,
    ) -> Envelope:
        _, envelope = await self.give_grant(
            workspace_id, project_id, user_id, role, silent=silent, granted_by=granted_by
        )
        return envelope

    async def add_team(self, workspace_id: str, name: str, members: Sequence[User]) -> str:
        """A team as identity announces it, once the directory holds its members."""
        team_id = new_id()
        await self.change_team(workspace_id, team_id, name, members)
        return team_id

    async def change_team(
        self,
        workspace_id: str,
        team_id: str,
        name: str,
        members: Sequence[User],
        *,
        deleted: bool = False,
        at: datetime | None = None,
    ) -> Envelope:
        """Identity's event of a team's whole state (as of `at`, now unless told), once the
        directory consumer has handled it."""
        envelope = registry.envelope(
            TeamChanged(
                team_id=uuid.UUID(team_id),
                workspace_id=uuid.UUID(workspace_id),
                name=name,
                member_ids=[uuid.UUID(m.id) for m in members],
                deleted=deleted,
            ),
            workspace=workspace_id,
            subject=f"team/{team_id}",
        )
        if at is not None:
            envelope = envelope.model_copy(update={"time": at})
        await self.publish(envelope)
        await self.handled(envelope, by="directory-teams")
        return envelope

    async def team_members(self, workspace_id: str, team_id: str) -> list[str]:
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(
                select(DirectoryTeamMember.user_id)
                .where(
                    DirectoryTeamMember.workspace_id == workspace_id,
                    DirectoryTeamMember.team_id == team_id,
                )
                .order_by(DirectoryTeamMember.user_id)
            )
            return list(rows)

    async def team(self) -> Team:
        workspace_id = await self.add_workspace()
        project_id = await self.add_project(workspace_id)
        manager = await self.add_user(workspace_id, "Mia")
        ann = await self.add_user(workspace_id, "Ann")
        bob = await self.add_user(workspace_id, "Bob")
        vendor = await self.add_user(workspace_id, "Vic", kind="collaborator")
        client = await self.add_user(workspace_id, "Cleo", kind="client")
        outsider = await self.add_user(workspace_id, "Otto")
        await self.grant(workspace_id, project_id, manager.id, "manager")
        for member in (ann, bob, vendor):
            await self.grant(workspace_id, project_id, member.id, "editor")
        return Team(workspace_id, project_id, manager, ann, bob, vendor, client, outsider)

    async def assign(
        self,
        team: Team,
        *added: User,
        actor: User | None = None,
        title: str = "Banner",
        teams: Sequence[str] = (),
    ) -> Envelope:
        """Tickets' event of people (and `teams`) assigned an item (by the team's manager
        unless told), once the feed has handled it."""
        item_id = new_id()
        envelope = registry.envelope(
            ItemAssigned(
                item=snapshot(
                    item_id,
                    team.project_id,
                    title=title,
                    assignees=[a.id for a in added],
                    teams=teams,
                ),
                added_user_ids=[uuid.UUID(a.id) for a in added],
                added_team_ids=[uuid.UUID(t) for t in teams],
            ),
            workspace=team.workspace_id,
            subject=f"item/{item_id}",
        ).model_copy(update={"actor": (actor or team.manager).id})
        await self.publish(envelope)
        await self.handled(envelope)
        return envelope

    async def comment(
        self,
        team: Team,
        author: User,
        body: str,
        *,
        followers: Sequence[User] = (),
        teams: Sequence[str] = (),
        visibility: Literal["public", "private"] = "public",
    ) -> str:
        """Tickets' event of a comment by `author` on a new item of the team's project, once
        the feed has handled it; returns the event's id."""
        item_id = new_id()
        envelope = registry.envelope(
            CommentAdded(
                comment_id=uuid.uuid4(),
                item=snapshot(
                    item_id, team.project_id, followers=[f.id for f in followers], teams=teams
                ),
                author_id=uuid.UUID(author.id),
                visibility=visibility,
                channel="app",
                body=body,
            ),
            workspace=team.workspace_id,
            subject=f"item/{item_id}",
        ).model_copy(update={"actor": author.id})
        await self.publish(envelope)
        await self.handled(envelope)
        return envelope.id

    # --- what the service holds ---------------------------------------------------------------

    async def notices(self, user: User, *, with_mail_only: bool = False) -> list[FeedNotification]:
        async with self.runtime.session_factory() as session:
            statement = select(FeedNotification).where(
                FeedNotification.workspace_id == user.workspace_id,
                FeedNotification.recipient_id == user.id,
            )
            if not with_mail_only:
                statement = statement.where(FeedNotification.in_feed)
            return list(await session.scalars(statement.order_by(FeedNotification.id)))

    async def notices_of_event(self, event_id: str) -> list[FeedNotification]:
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(
                select(FeedNotification).where(FeedNotification.source_event_id == event_id)
            )
            return list(rows)

    async def handled(self, envelope: Envelope, by: str = "feed") -> None:
        """Wait until the consumer `by` (the feed's unless told) committed this event (its
        inbox row)."""
        from kit.db.tables import INBOX

        async def done() -> bool:
            async with self.runtime.engine.connect() as connection:
                row = (
                    await connection.execute(
                        select(INBOX.c.event_id).where(
                            INBOX.c.consumer == f"notifications.{by}",
                            INBOX.c.event_id == envelope.id,
                        )
                    )
                ).first()
            return row is not None

        await eventually(done, timeout=10)

    async def backdate_forwarding(self, user: User) -> None:
        """Make every unread notice of the person due for mail now (as if minutes passed)."""
        async with self.runtime.session_factory() as session:
            await session.execute(
                update(FeedNotification)
                .where(
                    FeedNotification.workspace_id == user.workspace_id,
                    FeedNotification.recipient_id == user.id,
                    FeedNotification.forward_at.is_not(None),
                )
                .values(forward_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()

    async def mails_to(self, user: User) -> list[OutgoingMail]:
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(
                select(OutgoingMail)
                .where(
                    OutgoingMail.workspace_id == user.workspace_id, OutgoingMail.user_id == user.id
                )
                .order_by(OutgoingMail.created_at)
            )
            return list(rows)

    async def notice(self, notification_id: str) -> FeedNotification:
        async with self.runtime.session_factory() as session:
            found = await session.get(FeedNotification, notification_id)
        assert found is not None
        return found

    async def _has(self, model: type[Any], key: str) -> bool:
        async with self.runtime.session_factory() as session:
            return await session.get(model, key) is not None


def snapshot(
    item_id: str,
    project_id: str,
    *,
    number: int = 1042,
    title: str = "Banner",
    followers: Sequence[str] = (),
    assignees: Sequence[str] = (),
    teams: Sequence[str] = (),
    requester_id: str | None = None,
) -> ItemSnapshot:
    """An item as tickets describes it in every item event."""
    return ItemSnapshot(
        id=uuid.UUID(item_id),
        number=number,
        title=title,
        project_id=uuid.UUID(project_id),
        type_id=uuid.UUID("00000000-0000-7000-8000-000000000001"),
        kind="ticket",
        status_id=uuid.uuid4(),
        status_name="Open",
        status_category="open",
        priority="normal",
        requester_id=uuid.UUID(requester_id) if requester_id else None,
        assignee_user_ids=[uuid.UUID(a) for a in assignees],
        assignee_team_ids=[uuid.UUID(t) for t in teams],
        follower_ids=[uuid.UUID(f) for f in followers],
    )


# --- a live stream, read as a browser's EventSource would --------------------------------------


@dataclass
class SseEvent:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


class EventStream:
    """Parses `text/event-stream` lines (the WHATWG rules this service's stream needs: fields
    `event`, `data`, `id`; comments; a blank line ends an event)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments = 0

    async def next(self) -> SseEvent:
        event, event_id = "message", None
        data: list[str] = []
        async for line in self._lines:
            if not line:
                if data:
                    return SseEvent(event, "\n".join(data), event_id)
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
        raise AssertionError("the stream ended")

    async def heartbeats(self, count: int) -> None:
        """Read on (skipping events) until `count` heartbeat comments have come in all."""
        async with asyncio.timeout(20):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments += 1
                    if self.comments >= count:
                        return

    async def next_of(self, kind: Literal["notification", "unread", "expired"]) -> SseEvent:
        """The next event of this kind (others are skipped), within a bound that only a
        broken push would reach."""
        async with asyncio.timeout(20):
            while True:
                event = await self.next()
                if event.event == kind:
                    return event


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, base: str, token: str, last_event_id: str | None = None
) -> AsyncIterator[EventStream]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    async with client.stream("GET", f"{base}/feed/stream", headers=headers) as response:
        assert response.status_code == 200, response.status_code
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)


# --- fixtures (imported by the feed's test modules) ----------------------------------------------


@pytest.fixture(scope="session")
async def feed_settings_(
    pg_server_url: str, redis_url: str, session_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return feed_settings(pg_server_url, redis_url, session_tag, tmp_path_factory.mktemp("nf-var"))


FEED_ONLY = dataclasses.replace(notifications_module, background=feed_tasks)
"""The service with every consumer, but of the background tasks only the feed's: mail is
queued (what these tests look at) but not sent, and no SMTP listener competes for a port
with the mail tests' own service."""


@pytest.fixture(scope="session")
async def feed(feed_settings_: Settings) -> AsyncIterator[FeedApp]:
    async with running_service(FEED_ONLY, feed_settings_) as (base, host, client):
        yield FeedApp(base, host, client)
