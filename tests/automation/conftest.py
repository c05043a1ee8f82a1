"""The automation service running for real: in-process uvicorn on PostgreSQL, the memory bus.

Identity and tickets do not run beside it: tests mint tokens with the time-tracking tests'
Ed25519 key and play identity's and tickets' parts on the bus with the very events those
services publish, waiting until automation's projections hold them. The scheduler is not
started with the service: tests run scheduler loops themselves (several, restarted, or one
pass at a time) against the service's database.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from contracts import Envelope, EventData, registry
from contracts.identity import UserCreated, UserKind, WorkspaceCreated
from contracts.tickets import (
    CommentAdded,
    ItemCreated,
    ItemSnapshot,
    ItemStatusChanged,
    StatusCategory,
    StatusInfo,
    TypeChanged,
)
from kit.db.engine import create_engine
from kit.settings import Settings
from kit.testing.infra import database_url
from kit.uow import UnitOfWork
from services.automation.models import Clock, Execution, ItemHistory, Job, Person, TypeView
from services.automation.module import module as automation_module
from tests.conftest import eventually
from tests.support.harness import ServiceHarness, free_port, running_service
from tests.timetracking.conftest import PUBLIC_PEM, mint

AUTOMATION = dataclasses.replace(automation_module, background=lambda _runtime: ())

STATUSES: list[tuple[str, StatusCategory]] = [
    ("New", "new"),
    ("Open", "open"),
    ("In progress", "in_progress"),
    ("Waiting on client", "waiting"),
    ("Resolved", "done"),
]


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class ItemType:
    id: str
    statuses: dict[str, StatusInfo]


@dataclass(frozen=True)
class Workspace:
    id: str
    admin_id: str
    admin: str
    """The admin's token."""
    type: ItemType
    project_id: str


@dataclass
class AutomationApp(ServiceHarness):
    def token(
        self, workspace_id: str, user_id: str, *, role: str = "member", kind: str = "staff"
    ) -> str:
        return mint(workspace_id, user_id, role=role, kind=kind)

    async def emit_at(
        self, data: EventData, workspace_id: str, subject: str, at: datetime | None = None
    ) -> Envelope:
        """As `emit`, with the event's time set (history in the past, for clocks)."""
        envelope = registry.envelope(data, workspace=workspace_id, subject=subject)
        if at is not None:
            envelope = envelope.model_copy(update={"time": at})
        await self.publish(envelope)
        return envelope

    async def new_workspace(self) -> Workspace:
        workspace_id, admin_id = new_id(), new_id()
        await self.add_user(workspace_id, user_id=admin_id, role="admin")
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
        item_type = await self.add_type(workspace_id)
        token = self.token(workspace_id, admin_id, role="admin")
        return Workspace(workspace_id, admin_id, token, item_type, new_id())

    async def add_user(
        self,
        workspace_id: str,
        *,
        user_id: str | None = None,
        kind: UserKind = "staff",
        role: str = "member",
    ) -> str:
        user_id = user_id or new_id()
        await self.emit(
            UserCreated(
                user_id=uuid.UUID(user_id),
                workspace_id=uuid.UUID(workspace_id),
                email=f"{user_id[:8]}@example.test",
                display_name="Someone",
                kind=kind,
                workspace_role="admin" if role == "admin" else "member",
            ),
            workspace_id,
            f"user/{user_id}",
        )
        await eventually(lambda: self._has(Person, user_id), timeout=10)
        return user_id

    async def add_type(self, workspace_id: str) -> ItemType:
        type_id = new_id()
        statuses = {
            name: StatusInfo(id=uuid.uuid4(), name=name, category=category, position=i)
            for i, (name, category) in enumerate(STATUSES)
        }
        await self.emit(
            TypeChanged(
                type_id=uuid.UUID(type_id),
                workspace_id=uuid.UUID(workspace_id),
                name="Ticket",
                kind="ticket",
                statuses=list(statuses.values()),
                fields=[],
            ),
            workspace_id,
            f"type/{type_id}",
        )
        await eventually(lambda: self._has(TypeView, type_id), timeout=10)
        return ItemType(type_id, statuses)

    def snapshot(
        self,
        ws: Workspace,
        item_id: str,
        status: str = "New",
        *,
        priority: str = "normal",
        assignees: Sequence[str] = (),
        requester_id: str | None = None,
        due_date: str | None = None,
    ) -> ItemSnapshot:
        info = ws.type.statuses[status]
        return ItemSnapshot(
            id=uuid.UUID(item_id),
            number=1,
            title="Logo is blurry",
            project_id=uuid.UUID(ws.project_id),
            type_id=uuid.UUID(ws.type.id),
            kind="ticket",
            status_id=info.id,
            status_name=info.name,
            status_category=info.category,
            priority=priority,
            requester_id=uuid.UUID(requester_id) if requester_id else None,
            assignee_user_ids=[uuid.UUID(a) for a in assignees],
            due_date=due_date,
        )

    async def create_item(
        self,
        ws: Workspace,
        *,
        at: datetime | None = None,
        channel: str = "app",
        **fields: Any,
    ) -> str:
        item_id = new_id()
        await self.emit_at(
            ItemCreated(item=self.snapshot(ws, item_id, **fields), channel=channel),
            ws.id,
            f"item/{item_id}",
            at,
        )
        await eventually(lambda: self.history_count(item_id, 1), timeout=10)
        return item_id

    async def move(
        self, ws: Workspace, item_id: str, frm: str, to: str, *, at: datetime | None = None
    ) -> None:
        before, after = ws.type.statuses[frm], ws.type.statuses[to]
        count = len(await self.history(item_id))
        await self.emit_at(
            ItemStatusChanged(
                item=self.snapshot(ws, item_id, to),
                from_status_id=before.id,
                from_category=before.category,
                to_status_id=after.id,
                to_category=after.category,
            ),
            ws.id,
            f"item/{item_id}",
            at,
        )
        await eventually(lambda: self.history_count(item_id, count + 1), timeout=10)

    async def comment(
        self,
        ws: Workspace,
        item_id: str,
        author_id: str,
        *,
        status: str = "New",
        visibility: Literal["public", "private"] = "public",
        channel: str = "app",
        at: datetime | None = None,
    ) -> Envelope:
        return await self.emit_at(
            CommentAdded(
                comment_id=uuid.uuid4(),
                item=self.snapshot(ws, item_id, status),
                author_id=uuid.UUID(author_id),
                visibility=visibility,
                channel=channel,
                body="Thanks!",
            ),
            ws.id,
            f"item/{item_id}",
            at,
        )

    # --- looking inside ------------------------------------------------------------------------

    async def history(self, item_id: str) -> list[ItemHistory]:
        async with self.runtime.session_factory() as session:
            return list(
                await session.scalars(select(ItemHistory).where(ItemHistory.item_id == item_id))
            )

    async def history_count(self, item_id: str, at_least: int) -> bool:
        return len(await self.history(item_id)) >= at_least

    async def clocks(self, item_id: str) -> dict[str, Clock]:
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(select(Clock).where(Clock.item_id == item_id))
            return {r.target: r for r in rows}

    async def jobs(self, subject_id: str) -> list[Job]:
        async with self.runtime.session_factory() as session:
            return list(
                await session.scalars(
                    select(Job).where(Job.subject_id == subject_id).order_by(Job.id)
                )
            )

    async def executions(self, rule_id: str) -> list[Execution]:
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(
                select(Execution).where(Execution.rule_id == rule_id).order_by(Execution.id)
            )
            return list(rows)

    async def executions_count(self, rule_id: str) -> int:
        async with self.runtime.session_factory() as session:
            found = await session.scalar(
                select(func.count()).select_from(Execution).where(Execution.rule_id == rule_id)
            )
            return int(found or 0)

    async def published_about(self, event_type: str, item_id: str) -> list[dict[str, Any]]:
        return [e for e in await self.published(event_type) if _about(e, item_id)]

    async def _has(self, model: type[Any], key: str) -> bool:
        async with self.runtime.session_factory() as session:
            return await session.get(model, key) is not None


def _about(data: dict[str, Any], item_id: str) -> bool:
    item = data.get("item")
    return str(data.get("item_id") or (item or {}).get("id")) == item_id


class SchedulerProcess:
    """A scheduler as another automation process runs it: its own engine and connections."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.engine: AsyncEngine = create_engine(url)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)

    async def close(self) -> None:
        await self.engine.dispose()


@pytest.fixture(scope="session")
async def automation(
    pg_server_url: str, session_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AutomationApp]:
    url = database_url(pg_server_url, f"dltest_{session_tag}_auto")
    settings = _settings(url, f"t{session_tag}-automation", tmp_path_factory.mktemp("auto-var"))
    async with running_service(AUTOMATION, settings) as (base, host, client):
        yield AutomationApp(base, host, client)


def _settings(url: str | None, namespace: str, var_dir: Path) -> Settings:
    """The service alone on the in-memory bus; `url` None is the embedded SQLite file."""
    return Settings(
        database_url=url,
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
async def automation_embedded(
    session_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AutomationApp]:
    """The same service on the embedded SQLite database of `deskline run`, whose stored times
    come back without their time zone."""
    var_dir = tmp_path_factory.mktemp("auto-lite-var")
    settings = _settings(None, f"t{session_tag}-automation-lite", var_dir)
    async with running_service(AUTOMATION, settings) as (base, host, client):
        yield AutomationApp(base, host, client)


@pytest.fixture
async def workspace(automation: AutomationApp) -> Workspace:
    return await automation.new_workspace()


def always_open() -> dict[str, Any]:
    return {
        "name": "Around the clock",
        "time_zone": "UTC",
        "week": {
            day: [{"start": "00:00", "end": "24:00"}]
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    }


def utc_now() -> datetime:
    return datetime.now(UTC)


Check = Callable[[], Any]
