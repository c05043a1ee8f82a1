"""Triggers as tools use them: the catalog, polling lists (newest first, also the sample
data) and REST-hook subscriptions."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, SQLColumnExpression, true

from kit import access
from kit.auth import Principal
from kit.http.deps import unit_of_work
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.integrations.gateway.owners import CallerDep, require_scope
from services.integrations.models import TriggerEvent
from services.integrations.triggers import repository
from services.integrations.triggers.catalog import TRIGGERS
from services.integrations.webhooks import repository as webhooks_repository
from services.integrations.webhooks import service as webhooks
from services.integrations.webhooks.endpoints import Guard, Settings
from services.integrations.webhooks.schemas import Filters

router = APIRouter(prefix="/v1", tags=["triggers"])
UoW = Annotated[UnitOfWork, Depends(unit_of_work)]


class TriggerInfo(BaseModel):
    key: str
    label: str
    event_type: str
    staff_only: bool


class HookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_url: str = Field(min_length=1, max_length=2000)
    event: str = Field(min_length=1, max_length=40)
    filters: Filters = Field(default_factory=Filters)
    client_safe: bool = False


class Hook(BaseModel):
    id: str
    event: str
    target_url: str
    filters: dict[str, str]
    client_safe: bool
    enabled: bool
    disabled_reason: str | None
    secret: str


@router.get("/triggers", response_model=list[TriggerInfo])
async def catalog(caller: CallerDep) -> list[TriggerInfo]:
    return [
        TriggerInfo(key=t.key, label=t.label, event_type=t.event_type, staff_only=t.staff_only)
        for t in TRIGGERS.values()
    ]


async def _visible(uow: UnitOfWork, principal: Principal) -> ColumnElement[bool]:
    scope = await access.visible_projects(uow.session, principal)
    if scope.whole_workspace:
        return true()
    # Workspace-wide records (a new client, time on an unplaced item) are for admins.
    return scope.clause(cast("SQLColumnExpression[str]", TriggerEvent.project_id))


@router.get("/triggers/{trigger}", response_model=list[dict[str, Any]])
async def poll(
    trigger: str,
    caller: CallerDep,
    uow: UoW,
    response: Response,
    project_id: str | None = None,
    type_id: str | None = None,
    client_safe: bool = False,
    cursor: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[dict[str, Any]]:
    """Newest first; each object is exactly what a hook on this trigger receives as `data`.
    `X-Next-Cursor` pages further back."""
    principal = caller.principal
    require_scope(principal, "read")
    if trigger not in TRIGGERS:
        raise Problem(404, "unknown-trigger", f"No trigger {trigger!r}.", known=sorted(TRIGGERS))
    rows = await repository.newest(
        uow.session,
        principal.workspace_id,
        trigger,
        visible=await _visible(uow, principal),
        project_id=project_id,
        type_id=type_id,
        before=cursor,
        limit=limit + 1,
    )
    page = rows[:limit]
    if len(rows) > limit:
        response.headers["X-Next-Cursor"] = str(page[-1].seq)
    shaped = [row.client_payload if client_safe else row.staff_payload for row in page]
    return [payload for payload in shaped if payload is not None]


def _hook_out(row: Any) -> Hook:
    return Hook(
        id=row.id,
        event=row.events[0],
        target_url=row.url,
        filters=row.filters,
        client_safe=row.client_safe,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        secret=row.secret,
    )


@router.post("/hooks", status_code=201, response_model=Hook)
async def subscribe(
    body: HookCreate, caller: CallerDep, uow: UoW, settings: Settings, guard: Guard
) -> Hook:
    """A REST-hook subscription (Zapier's `performSubscribe`): the trigger's objects are
    POSTed to `target_url`, signed, until unsubscribed or the receiver answers 410."""
    principal = caller.principal
    require_scope(principal, "read")
    if body.filters.project_id is not None:
        await access.require(uow.session, principal, "view", body.filters.project_id)
    row = await webhooks.create_endpoint(
        uow,
        principal,
        settings,
        guard,
        url=body.target_url,
        events=[body.event],
        filters=body.filters.as_dict(),
        client_safe=body.client_safe,
        source="hook",
    )
    await uow.commit()
    return _hook_out(row)


async def _own_hook(uow: UnitOfWork, principal: Principal, hook_id: str) -> Any:
    row = await webhooks_repository.endpoint(uow.session, principal.workspace_id, hook_id)
    if (
        row is None
        or row.source != "hook"
        or (row.owner_id != principal.subject and not principal.is_admin)
    ):
        raise Problem(404, "not-found", "No such hook.")
    return row


@router.get("/hooks/{hook_id}", response_model=Hook)
async def get_hook(hook_id: str, caller: CallerDep, uow: UoW) -> Hook:
    return _hook_out(await _own_hook(uow, caller.principal, hook_id))


@router.delete("/hooks/{hook_id}", status_code=204)
async def unsubscribe(hook_id: str, caller: CallerDep, uow: UoW) -> Response:
    """Zapier's `performUnsubscribe`; nothing more is sent to the hook."""
    row = await _own_hook(uow, caller.principal, hook_id)
    await webhooks_repository.fail_pending(uow.session, row.id, webhooks.now(), "unsubscribed")
    await uow.session.delete(row)
    await uow.commit()
    return Response(status_code=204)


class Me(BaseModel):
    subject: str
    workspace_id: str
    kind: str
    workspace_role: str
    scopes: list[str]
    api_key_id: str | None = Field(
        description="The key used, if any; `subject` is then the person it acts for."
    )


@router.get("/me", response_model=Me, tags=["gateway"])
async def me(caller: CallerDep, request: Request) -> Me:
    """The connection test: who this key or token is, in which workspace."""
    p = caller.principal
    return Me(
        subject=p.subject,
        workspace_id=p.workspace_id,
        kind=p.kind,
        workspace_role=p.workspace_role,
        scopes=list(p.scopes),
        api_key_id=p.api_key_id,
    )
