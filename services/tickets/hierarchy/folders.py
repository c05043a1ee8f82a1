"""Folders (portfolios, e.g. one per client), nested through their parent (W1).

Staff and admins arrange them. Collaborators and clients only ever learn of the folders
leading to a project they may see. Archiving is reversible and cascades nowhere: an archived
folder leaves the tree with everything below it, but its projects stay active (they may sit
in other folders too).
"""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from contracts.tickets import FolderCreated, FolderUpdated
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.tickets.hierarchy import repository, tree
from services.tickets.hierarchy.access import may_arrange, visible_scope
from services.tickets.ids import new_id, now
from services.tickets.models import Folder, Project


def folder_not_found() -> Problem:
    return Problem(404, "not-found", "No such folder.")


def require_arranger(principal: Principal) -> None:
    if not may_arrange(principal):
        raise Problem(403, "staff-only", "Only staff and admins arrange folders and projects.")


async def create_folder(
    uow: UnitOfWork, principal: Principal, name: str, parent_id: str | None
) -> Folder:
    require_arranger(principal)
    workspace = principal.workspace_id
    if parent_id is not None:
        await usable_folders(uow, principal, [parent_id])
    row = Folder(
        id=new_id(), workspace_id=workspace, parent_id=parent_id, name=name, created_at=now()
    )
    uow.session.add(row)
    uow.emit(
        FolderCreated(
            folder_id=UUID(row.id),
            workspace_id=UUID(workspace),
            name=name,
            parent_id=UUID(parent_id) if parent_id else None,
        ),
        workspace=workspace,
        subject=f"folder/{row.id}",
    )
    return row


async def update_folder(
    uow: UnitOfWork,
    principal: Principal,
    folder_id: str,
    *,
    name: str | None = None,
    move: bool = False,
    parent_id: str | None = None,
) -> Folder:
    """Rename and/or move (`move` with `parent_id` None: to the top). A folder cannot move into
    itself or below itself; the workspace's folders are locked meanwhile, so two concurrent
    moves cannot build a cycle between them either."""
    require_arranger(principal)
    rows = await repository.folders(uow.session, principal.workspace_id, lock=True)
    by_id = {row.id: row for row in rows}
    row = by_id.get(folder_id)
    if row is None:
        raise folder_not_found()
    changes: dict[str, str | None] = {}
    if name is not None and name != row.name:
        row.name = changes["name"] = name
    if move and parent_id != row.parent_id:
        if parent_id is not None:
            if parent_id not in by_id:
                raise _unknown_folders([parent_id])
            if parent_id in tree.descendants(row.id, rows):
                raise Problem(
                    422,
                    "folder-cycle",
                    "A folder cannot move into itself or into one of its sub-folders.",
                    folder_id=row.id,
                    parent_id=parent_id,
                )
        row.parent_id = changes["parent_id"] = parent_id
    if changes:
        _folder_updated(uow, row, dict(changes))
    return row


async def set_folder_archived(
    uow: UnitOfWork, principal: Principal, folder_id: str, archived: bool
) -> Folder:
    require_arranger(principal)
    row = await repository.folder(uow.session, principal.workspace_id, folder_id)
    if row is None:
        raise folder_not_found()
    if (row.archived_at is not None) != archived:
        row.archived_at = now() if archived else None
        _folder_updated(uow, row, {"archived": archived})
    return row


def _folder_updated(uow: UnitOfWork, row: Folder, changes: dict[str, str | bool | None]) -> None:
    uow.emit(
        FolderUpdated(
            folder_id=UUID(row.id), workspace_id=UUID(row.workspace_id), changes=dict(changes)
        ),
        workspace=row.workspace_id,
        subject=f"folder/{row.id}",
    )


async def get_folder(uow: UnitOfWork, principal: Principal, folder_id: str) -> Folder:
    """Staff may address every folder (they arrange them); collaborators and clients only
    those leading to a project they may see, so a folder named after another client stays
    unknown to them."""
    row = await repository.folder(uow.session, principal.workspace_id, folder_id)
    if row is None:
        raise folder_not_found()
    if not may_arrange(principal) and row.id not in await folders_with_content(uow, principal):
        raise folder_not_found()
    return row


async def folders_with_content(uow: UnitOfWork, principal: Principal) -> set[str]:
    workspace = principal.workspace_id
    scope = await visible_scope(uow.session, principal)
    projects = await repository.projects(
        uow.session, workspace, scope.clause(Project.id), include_archived=True
    )
    links = await repository.links(uow.session, workspace, [p.id for p in projects])
    return tree.with_content(await repository.folders(uow.session, workspace), links)


async def usable_folders(
    uow: UnitOfWork, principal: Principal, folder_ids: Collection[str], *, new: bool = True
) -> list[Folder]:
    """The folders a body names, each of which must exist for the caller (422 otherwise) and,
    when something is newly filed in it, must not be archived."""
    wanted = set(folder_ids)
    rows = await repository.folders_by_ids(uow.session, principal.workspace_id, wanted)
    if not may_arrange(principal):
        known = await folders_with_content(uow, principal)
        rows = [row for row in rows if row.id in known]
    missing = wanted - {row.id for row in rows}
    if missing:
        raise _unknown_folders(missing)
    archived = sorted(row.id for row in rows if row.archived_at is not None)
    if new and archived:
        raise Problem(
            422,
            "folder-archived",
            "Nothing new can be filed in an archived folder; restore it first.",
            folder_ids=archived,
        )
    return rows


def _unknown_folders(folder_ids: Collection[str]) -> Problem:
    return Problem(
        422, "unknown-folder", "Some folders do not exist.", folder_ids=sorted(folder_ids)
    )
