"""Actions, searches and dropdown lists: each forwarded to the service owning the data (see
`owners` for why over HTTP), answering with the owner's object.

Searches answer with an array (empty when nothing matches), as tools expect of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query

from kit.http.problems import Problem
from services.integrations.gateway.owners import Caller, CallerDep, Owners, OwnersDep, require_scope
from services.integrations.gateway.schemas import (
    AssignAction,
    Choice,
    ClientAction,
    CommentAction,
    ItemCreateAction,
    ItemUpdateAction,
    TimeAction,
)

router = APIRouter(prefix="/v1", tags=["gateway"])
Json = dict[str, Any]
USER_PAGES = 20
"""Identity lists people a page at a time; searches by e-mail read at most this many pages."""


# --- actions ------------------------------------------------------------------------------


async def _type_of_kind(owners: Owners, caller: Caller, kind: str) -> str:
    types = await owners.call(caller, "GET", "tickets", "/types")
    for item_type in types:
        if item_type["kind"] == kind and not item_type["archived"]:
            return str(item_type["id"])
    raise Problem(422, "no-item-type", f"The workspace has no {kind} type.")


async def _create_item(owners: Owners, caller: Caller, body: ItemCreateAction, kind: str) -> Json:
    require_scope(caller.principal, "write")
    requester_id = body.requester_id
    if requester_id is None and body.requester_email:
        found = await _users(owners, caller, email=body.requester_email, kind=None)
        if not found:
            raise Problem(422, "unknown-requester", "Nobody in the workspace has that e-mail.")
        requester_id = str(found[0]["id"])
    document: Json = {
        "project_id": body.project_id,
        "type_id": body.type_id or await _type_of_kind(owners, caller, kind),
        "title": body.title,
        "description": body.description,
        "priority": body.priority,
        "assignees": [{"type": "user", "id": user_id} for user_id in body.assignee_ids],
        "custom_values": body.custom_values,
    }
    optional = {
        "status_id": body.status_id,
        "requester_id": requester_id,
        "due_date": body.due_date.isoformat() if body.due_date else None,
        "estimate_minutes": body.estimate_minutes,
    }
    document.update({k: v for k, v in optional.items() if v is not None})
    created: Json = await owners.call(caller, "POST", "tickets", "/items", json=document)
    return created


@router.post("/actions/create-ticket", status_code=201)
async def create_ticket(body: ItemCreateAction, caller: CallerDep, owners: OwnersDep) -> Json:
    return await _create_item(owners, caller, body, "ticket")


@router.post("/actions/create-task", status_code=201)
async def create_task(body: ItemCreateAction, caller: CallerDep, owners: OwnersDep) -> Json:
    return await _create_item(owners, caller, body, "task")


@router.post("/actions/add-comment", status_code=201)
async def add_comment(body: CommentAction, caller: CallerDep, owners: OwnersDep) -> Json:
    require_scope(caller.principal, "write")
    created: Json = await owners.call(
        caller,
        "POST",
        "tickets",
        f"/items/{body.item_id}/comments",
        json={"body": body.body, "visibility": body.visibility},
    )
    return created


@router.post("/actions/update-item")
async def update_item(body: ItemUpdateAction, caller: CallerDep, owners: OwnersDep) -> Json:
    """Fields first, then the status (so a status gated by required fields sees them)."""
    require_scope(caller.principal, "write")
    changes = body.model_dump(mode="json", exclude_none=True, exclude={"item_id", "status_id"})
    path = f"/items/{body.item_id}"
    item: Json | None = None
    if changes:
        item = await owners.call(caller, "PATCH", "tickets", path, json=changes)
    if body.status_id is not None:
        item = await owners.call(
            caller, "POST", "tickets", f"{path}/status", json={"status_id": body.status_id}
        )
    if item is None:
        item = await owners.call(caller, "GET", "tickets", path)
    assert item is not None
    return item


@router.post("/actions/assign")
async def assign(body: AssignAction, caller: CallerDep, owners: OwnersDep) -> Json:
    require_scope(caller.principal, "write")
    path = f"/items/{body.item_id}"
    wanted = [{"type": "user", "id": u} for u in body.user_ids] + [
        {"type": "team", "id": t} for t in body.team_ids
    ]
    if not body.replace:
        current = await owners.call(caller, "GET", "tickets", path)
        kept = [{"type": a["type"], "id": a["id"]} for a in current["assignees"]]
        wanted = kept + [a for a in wanted if a not in kept]
    item: Json = await owners.call(
        caller, "PUT", "tickets", f"{path}/assignees", json={"assignees": wanted}
    )
    return item


@router.post("/actions/log-time", status_code=201)
async def log_time(body: TimeAction, caller: CallerDep, owners: OwnersDep) -> Json:
    require_scope(caller.principal, "write")
    document = body.model_dump(mode="json", exclude_none=True)
    document.setdefault("worked_on", datetime.now(UTC).date().isoformat())
    entry: Json = await owners.call(caller, "POST", "timetracking", "/entries", json=document)
    return entry


@router.post("/actions/create-client", status_code=201)
async def create_client(body: ClientAction, caller: CallerDep, owners: OwnersDep) -> Json:
    """Invites the client (identity mails them a link to set a password)."""
    require_scope(caller.principal, "write")
    organisation_id = body.client_organisation_id
    if organisation_id is None and body.organisation_name:
        organisation = await owners.call(
            caller,
            "POST",
            "identity",
            "/client-organisations",
            json={"name": body.organisation_name},
        )
        organisation_id = str(organisation["id"])
    document: Json = {"email": body.email, "display_name": body.display_name, "kind": "client"}
    if organisation_id is not None:
        document["client_organisation_id"] = organisation_id
    user: Json = await owners.call(caller, "POST", "identity", "/users/invitations", json=document)
    return user


# --- searches -----------------------------------------------------------------------------


@router.get("/search/items")
async def find_items(
    caller: CallerDep,
    owners: OwnersDep,
    number: int | None = Query(default=None, ge=1),
    title: str | None = Query(default=None, max_length=200),
    requester_email: str | None = Query(default=None, max_length=320),
    field_key: str | None = Query(default=None, max_length=100),
    field_value: str | None = Query(default=None, max_length=500),
    project_id: str | None = Query(default=None, max_length=36),
) -> list[Json]:
    require_scope(caller.principal, "read")
    if (field_key is None) != (field_value is None):
        raise Problem(422, "incomplete-field-search", "Send `field_key` with `field_value`.")
    params: Json = {"project_id": project_id, "limit": 50}
    if number is not None:
        params["q"] = str(number)
    elif title:
        params["q"] = title
    if requester_email:
        people = await _users(owners, caller, email=requester_email, kind=None)
        if not people:
            return []
        params["requester_id"] = [str(p["id"]) for p in people]
    if field_key is not None:
        params[f"cf.{field_key}"] = field_value
    if len(params) == 2 and project_id is None:
        raise Problem(422, "empty-search", "Search by number, title, requester or a field.")
    page = await owners.call(caller, "GET", "tickets", "/items", params=params)
    items: list[Json] = page["items"]
    return items


async def _users(
    owners: Owners, caller: Caller, *, email: str | None, kind: str | None
) -> list[Json]:
    wanted = None if email is None else email.strip().lower()
    found: list[Json] = []
    cursor: str | None = None
    for _ in range(USER_PAGES):
        page = await owners.call(
            caller,
            "GET",
            "identity",
            "/users",
            params={"limit": 200, "kind": kind, "cursor": cursor},
        )
        found += [u for u in page["items"] if wanted is None or u["email"].lower() == wanted]
        cursor = page["next_cursor"]
        if cursor is None or (wanted is not None and found):
            break
    return found


@router.get("/search/users")
async def find_users(
    caller: CallerDep,
    owners: OwnersDep,
    email: str = Query(min_length=3, max_length=320),
    kind: str | None = Query(default=None, pattern="^(staff|collaborator|client)$"),
) -> list[Json]:
    require_scope(caller.principal, "read")
    return await _users(owners, caller, email=email, kind=kind)


@router.get("/search/clients")
async def find_clients(
    caller: CallerDep, owners: OwnersDep, email: str = Query(min_length=3, max_length=320)
) -> list[Json]:
    require_scope(caller.principal, "read")
    return await _users(owners, caller, email=email, kind="client")


async def _projects(owners: Owners, caller: Caller) -> list[Json]:
    found: list[Json] = []
    cursor: str | None = None
    while True:
        page = await owners.call(
            caller, "GET", "tickets", "/projects", params={"limit": 200, "cursor": cursor}
        )
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


@router.get("/search/projects")
async def find_projects(
    caller: CallerDep, owners: OwnersDep, name: str = Query(min_length=1, max_length=200)
) -> list[Json]:
    require_scope(caller.principal, "read")
    wanted = name.strip().lower()
    projects = await _projects(owners, caller)
    exact = [p for p in projects if p["name"].lower() == wanted]
    return exact or [p for p in projects if wanted in p["name"].lower()]


# --- dynamic lists ------------------------------------------------------------------------


@router.get("/lists/projects", response_model=list[Choice])
async def project_choices(caller: CallerDep, owners: OwnersDep) -> list[Choice]:
    require_scope(caller.principal, "read")
    return [Choice(id=p["id"], name=p["name"]) for p in await _projects(owners, caller)]


@router.get("/lists/types", response_model=list[Choice])
async def type_choices(caller: CallerDep, owners: OwnersDep) -> list[Choice]:
    require_scope(caller.principal, "read")
    types = await owners.call(caller, "GET", "tickets", "/types")
    return [Choice(id=t["id"], name=t["name"]) for t in types if not t["archived"]]


async def _type(owners: Owners, caller: Caller, type_id: str) -> Json:
    found: Json = await owners.call(caller, "GET", "tickets", f"/types/{type_id}")
    return found


@router.get("/lists/statuses", response_model=list[Choice])
async def status_choices(
    caller: CallerDep, owners: OwnersDep, type_id: str = Query(min_length=1, max_length=36)
) -> list[Choice]:
    require_scope(caller.principal, "read")
    statuses = (await _type(owners, caller, type_id))["statuses"]
    return [Choice(id=s["id"], name=s["name"]) for s in statuses]


@router.get("/lists/fields")
async def field_choices(
    caller: CallerDep, owners: OwnersDep, type_id: str = Query(min_length=1, max_length=36)
) -> list[Json]:
    """The custom fields of a type (key, label, type, options): tools build inputs from them."""
    require_scope(caller.principal, "read")
    fields: list[Json] = (await _type(owners, caller, type_id))["fields"]
    return [
        {
            "id": f["key"],
            "key": f["key"],
            "name": f["label"],
            "field_type": f["field_type"],
            "options": f["options"],
            "required": f["required"],
        }
        for f in fields
    ]


@router.get("/lists/users", response_model=list[Choice])
async def user_choices(
    caller: CallerDep,
    owners: OwnersDep,
    kind: str | None = Query(default=None, pattern="^(staff|collaborator|client)$"),
) -> list[Choice]:
    require_scope(caller.principal, "read")
    people = await _users(owners, caller, email=None, kind=kind)
    return [Choice(id=p["id"], name=p["display_name"]) for p in people if p["status"] == "active"]
