"""Folders, projects and the tree (W1)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from services.tickets.dependencies import Caller, UoW
from services.tickets.hierarchy import folders, service
from services.tickets.hierarchy.schemas import (
    Folder,
    FolderCreate,
    FolderUpdate,
    Project,
    ProjectCreate,
    ProjectFolders,
    ProjectPage,
    ProjectUpdate,
    Tree,
)
from services.tickets.models import Folder as FolderRow

router = APIRouter(tags=["hierarchy"])


def folder_out(row: FolderRow) -> Folder:
    return Folder(
        id=row.id,
        name=row.name,
        parent_id=row.parent_id,
        archived=row.archived_at is not None,
        created_at=row.created_at,
    )


def project_out(view: service.ProjectView) -> Project:
    row = view.row
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        client_organisation_id=row.client_organisation_id,
        folder_ids=view.folder_ids,
        archived=row.archived_at is not None,
        created_by=row.created_by,
        created_at=row.created_at,
        my_role=view.role,
    )


@router.get("/tree", response_model=Tree)
async def get_tree(principal: Caller, uow: UoW, include_archived: bool = False) -> Tree:
    """Folders with their sub-folders and projects, as far as the caller may see them."""
    return await service.tree_for(uow, principal, include_archived=include_archived)


@router.post("/folders", status_code=201, response_model=Folder)
async def create_folder(body: FolderCreate, principal: Caller, uow: UoW) -> Folder:
    row = await folders.create_folder(uow, principal, body.name, body.parent_id)
    await uow.commit()
    return folder_out(row)


@router.get("/folders/{folder_id}", response_model=Folder)
async def get_folder(folder_id: str, principal: Caller, uow: UoW) -> Folder:
    return folder_out(await folders.get_folder(uow, principal, folder_id))


@router.patch("/folders/{folder_id}", response_model=Folder)
async def update_folder(folder_id: str, body: FolderUpdate, principal: Caller, uow: UoW) -> Folder:
    """Rename and/or move; moving a folder into itself or below itself is refused (422)."""
    row = await folders.update_folder(
        uow,
        principal,
        folder_id,
        name=body.name,
        move="parent_id" in body.model_fields_set,
        parent_id=body.parent_id,
    )
    await uow.commit()
    return folder_out(row)


@router.post("/folders/{folder_id}/archive", response_model=Folder)
async def archive_folder(folder_id: str, principal: Caller, uow: UoW) -> Folder:
    row = await folders.set_folder_archived(uow, principal, folder_id, True)
    await uow.commit()
    return folder_out(row)


@router.post("/folders/{folder_id}/restore", response_model=Folder)
async def restore_folder(folder_id: str, principal: Caller, uow: UoW) -> Folder:
    row = await folders.set_folder_archived(uow, principal, folder_id, False)
    await uow.commit()
    return folder_out(row)


@router.get("/projects", response_model=ProjectPage)
async def list_projects(
    principal: Caller,
    uow: UoW,
    include_archived: bool = False,
    folder_id: str | None = Query(default=None, description="In this folder or below it."),
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=service.PAGE_MAX),
) -> ProjectPage:
    views, next_cursor = await service.list_projects(
        uow,
        principal,
        include_archived=include_archived,
        folder_id=folder_id,
        cursor=cursor,
        limit=limit,
    )
    return ProjectPage(items=[project_out(v) for v in views], next_cursor=next_cursor)


@router.post("/projects", status_code=201, response_model=Project)
async def create_project(body: ProjectCreate, principal: Caller, uow: UoW) -> Project:
    """Create a project, optionally filed in folders, for a client organisation, and shared
    at once (`initial_grants`); the creator becomes its manager."""
    view = await service.create_project(
        uow,
        principal,
        name=body.name,
        description=body.description,
        folder_ids=body.folder_ids,
        client_organisation_id=_str(body.client_organisation_id),
        grants=body.initial_grants,
    )
    await uow.commit()
    return project_out(view)


@router.get("/projects/{project_id}", response_model=Project)
async def get_project(project_id: str, principal: Caller, uow: UoW) -> Project:
    return project_out(await service.get_project(uow, principal, project_id))


@router.patch("/projects/{project_id}", response_model=Project)
async def update_project(
    project_id: str, body: ProjectUpdate, principal: Caller, uow: UoW
) -> Project:
    requested = {
        key: _str(value) if key == "client_organisation_id" else value
        for key, value in body.model_dump(exclude_unset=True).items()
    }
    view = await service.update_project(uow, principal, project_id, requested)
    await uow.commit()
    return project_out(view)


@router.put("/projects/{project_id}/folders", response_model=Project)
async def set_project_folders(
    project_id: str, body: ProjectFolders, principal: Caller, uow: UoW
) -> Project:
    """Move the project: it ends up in exactly these folders."""
    view = await service.set_folders(uow, principal, project_id, body.folder_ids)
    await uow.commit()
    return project_out(view)


@router.put("/projects/{project_id}/folders/{folder_id}", response_model=Project)
async def add_project_to_folder(
    project_id: str, folder_id: str, principal: Caller, uow: UoW
) -> Project:
    view = await service.file_in(uow, principal, project_id, folder_id, present=True)
    await uow.commit()
    return project_out(view)


@router.delete("/projects/{project_id}/folders/{folder_id}", response_model=Project)
async def remove_project_from_folder(
    project_id: str, folder_id: str, principal: Caller, uow: UoW
) -> Project:
    view = await service.file_in(uow, principal, project_id, folder_id, present=False)
    await uow.commit()
    return project_out(view)


@router.post("/projects/{project_id}/archive", response_model=Project)
async def archive_project(project_id: str, principal: Caller, uow: UoW) -> Project:
    view = await service.set_project_archived(uow, principal, project_id, True)
    await uow.commit()
    return project_out(view)


@router.post("/projects/{project_id}/restore", response_model=Project)
async def restore_project(project_id: str, principal: Caller, uow: UoW) -> Project:
    view = await service.set_project_archived(uow, principal, project_id, False)
    await uow.commit()
    return project_out(view)


def _str(value: object) -> str | None:
    return None if value is None else str(value)
