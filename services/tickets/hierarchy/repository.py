"""Queries on folders, projects and their links; every one is scoped to a workspace."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db.tables import ACCESS_GRANTS
from services.tickets.models import Folder, Project, ProjectFolder, WorkspaceDefaults


async def folder(session: AsyncSession, workspace_id: str, folder_id: str) -> Folder | None:
    result = await session.execute(
        select(Folder).where(Folder.workspace_id == workspace_id, Folder.id == folder_id)
    )
    return result.scalar_one_or_none()


async def folders(session: AsyncSession, workspace_id: str, *, lock: bool = False) -> list[Folder]:
    """All folders of the workspace (a few hundred at most: trees are built in memory).

    `lock` takes their row locks, which serialises moves within a workspace so two concurrent
    moves cannot build a cycle between them.
    """
    query = select(Folder).where(Folder.workspace_id == workspace_id).order_by(Folder.id)
    if lock:
        query = query.with_for_update()
    return list((await session.execute(query)).scalars())


async def folders_by_ids(
    session: AsyncSession, workspace_id: str, folder_ids: Collection[str]
) -> list[Folder]:
    if not folder_ids:
        return []
    result = await session.execute(
        select(Folder).where(Folder.workspace_id == workspace_id, Folder.id.in_(sorted(folder_ids)))
    )
    return list(result.scalars())


_PROJECT = select(Project).where(
    Project.workspace_id == bindparam("workspace_id"), Project.id == bindparam("project_id")
)
_PROJECT_LOCKED = _PROJECT.with_for_update()


async def project(
    session: AsyncSession, workspace_id: str, project_id: str, *, lock: bool = False
) -> Project | None:
    """Built once: every item written asks for its project."""
    result = await session.execute(
        _PROJECT_LOCKED if lock else _PROJECT,
        {"workspace_id": workspace_id, "project_id": project_id},
    )
    return result.scalar_one_or_none()


async def projects(
    session: AsyncSession,
    workspace_id: str,
    visible: ColumnElement[bool],
    *,
    include_archived: bool,
    in_folders: Collection[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[Project]:
    """Projects the `visible` clause lets through, in id (creation) order from `after` on."""
    query = select(Project).where(Project.workspace_id == workspace_id, visible)
    if not include_archived:
        query = query.where(Project.archived_at.is_(None))
    if in_folders is not None:
        linked = select(ProjectFolder.project_id).where(
            ProjectFolder.workspace_id == workspace_id,
            ProjectFolder.folder_id.in_(sorted(in_folders)),
        )
        query = query.where(Project.id.in_(linked))
    if after is not None:
        query = query.where(Project.id > after)
    query = query.order_by(Project.id)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars())


async def links(
    session: AsyncSession, workspace_id: str, project_ids: Collection[str]
) -> list[tuple[str, str]]:
    """(project id, folder id) pairs of these projects."""
    if not project_ids:
        return []
    result = await session.execute(
        select(ProjectFolder.project_id, ProjectFolder.folder_id).where(
            ProjectFolder.workspace_id == workspace_id,
            ProjectFolder.project_id.in_(sorted(project_ids)),
        )
    )
    return [(row.project_id, row.folder_id) for row in result]


async def folder_ids_of(session: AsyncSession, workspace_id: str, project_id: str) -> list[str]:
    result = await session.execute(
        select(ProjectFolder.folder_id)
        .where(ProjectFolder.workspace_id == workspace_id, ProjectFolder.project_id == project_id)
        .order_by(ProjectFolder.folder_id)
    )
    return list(result.scalars())


async def replace_links(
    session: AsyncSession, workspace_id: str, project_id: str, folder_ids: Collection[str]
) -> None:
    await session.execute(
        delete(ProjectFolder).where(
            ProjectFolder.workspace_id == workspace_id, ProjectFolder.project_id == project_id
        )
    )
    if folder_ids:
        await session.execute(
            insert(ProjectFolder),
            [
                {"project_id": project_id, "folder_id": f, "workspace_id": workspace_id}
                for f in sorted(folder_ids)
            ],
        )


def _own_grant_record(
    workspace_id: str, project_id: SQLColumnExpression[str] | str, user_id: str
) -> ColumnElement[bool]:
    """Any row identity's grants left for this user on this project, revoked ones included."""
    grants = ACCESS_GRANTS.c
    return exists().where(
        and_(
            grants.workspace_id == workspace_id,
            grants.project_id == project_id,
            grants.subject_type == "user",
            grants.subject_id == user_id,
        )
    )


async def awaiting_creator_grant(
    session: AsyncSession, workspace_id: str, project_id: str, user_id: str, since: datetime
) -> bool:
    """Did this user create the project after `since`, with identity's grant for them not yet
    projected?"""
    result = await session.execute(
        select(Project.id).where(
            Project.workspace_id == workspace_id,
            Project.id == project_id,
            Project.created_by == user_id,
            Project.created_at > since,
            ~_own_grant_record(workspace_id, project_id, user_id),
        )
    )
    return result.first() is not None


async def created_awaiting_grant(
    session: AsyncSession, workspace_id: str, user_id: str, since: datetime
) -> frozenset[str]:
    """The projects this user created after `since` whose creator grant is not projected yet."""
    result = await session.execute(
        select(Project.id).where(
            Project.workspace_id == workspace_id,
            Project.created_by == user_id,
            Project.created_at > since,
            ~_own_grant_record(workspace_id, Project.id, user_id),
        )
    )
    return frozenset(result.scalars())


async def workspace_defaults(session: AsyncSession, workspace_id: str) -> WorkspaceDefaults | None:
    result = await session.execute(
        select(WorkspaceDefaults).where(WorkspaceDefaults.workspace_id == workspace_id)
    )
    return result.scalar_one_or_none()
