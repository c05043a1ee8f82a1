"""Which workspace (and project, or item through a reply token) an inbound address means:
`<workspace slug>@<domain>`, `<slug>+<project key>@<domain>`, `reply+<token>@<domain>`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.directory import repository as directory
from services.notifications.outbound import repository as outbound

REPLY_LOCAL = "reply"


@dataclass(frozen=True)
class Route:
    workspace_id: str
    project_id: str | None = None
    token: str | None = None


async def route(session: AsyncSession, address: str, domain: str) -> Route | None:
    local, _, host = address.strip().strip("<>").rpartition("@")
    if not local or host.lower() != domain.lower():
        return None
    base, _, tag = local.lower().partition("+")
    if base == REPLY_LOCAL:
        token = await outbound.reply_token(session, tag) if tag else None
        return Route(token.workspace_id, token=token.token) if token else None
    workspace = await directory.workspace_by_slug(session, base)
    if workspace is None:
        return None
    if not tag:
        return Route(workspace.id)
    project = await directory.project_by_key(session, workspace.id, tag)
    return Route(workspace.id, project_id=project.id) if project else None
