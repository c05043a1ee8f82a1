"""Projects (e.g. one per campaign) and the tree they hang in (W1).

A project can sit in several folders (see `folders`) or in none. Staff and admins create
projects; a project's managers rename, describe, file and archive it. What a caller sees is
what `kit.access` lets them see (see `access`): admins everything, others the projects they
hold a grant on and, in the tree, only the folders leading to those.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from uuid import UUID

from contracts.tickets import InitialGrant, ProjectCreated, ProjectUpdated
from kit.access import ProjectRole
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.tickets.hierarchy import folders, repository, tree
from services.tickets.hierarchy.access import require_project, role_on, visible_scope
from services.tickets.hierarchy.folders import require_arranger, usable_folders
from services.tickets.hierarchy.schemas import GrantRequest, Tree
from services.tickets.ids import new_id, now
from services.tickets.models import Project

PAGE_MAX = 200


@dataclass(frozen=True)
class ProjectView:
    """A project as one caller sees it."""

    row: Project
    folder_ids: list[str]
    role: ProjectRole | None


async def create_project(
    uow: UnitOfWork,
    principal: Principal,
    *,
    name: str,
    description: str = "",
    folder_ids: Sequence[str] = (),
    client_organisation_id: str | None = None,
    grants: Sequence[GrantRequest] = (),
) -> ProjectView:
    """Staff and admins create projects. The creator is shared the project as its manager (an
    initial grant identity writes), unless an admin, who manages every project anyway."""
    require_arranger(principal)
    filed_in = sorted(set(folder_ids))
    await usable_folders(uow, principal, filed_in)
    creator = _user_id(principal)
    initial = [
        InitialGrant(
            subject_type=g.subject_type, subject_id=g.subject_id, role=g.role, silent=g.silent
        )
        for g in grants
    ]
    if creator is not None and not principal.is_admin:
        initial = [g for g in initial if (g.subject_type, g.subject_id) != ("user", creator)]
        initial.append(
            InitialGrant(subject_type="user", subject_id=creator, role="manager", silent=True)
        )
    row = await add_project(
        uow,
        workspace_id=principal.workspace_id,
        name=name,
        description=description,
        folder_ids=filed_in,
        client_organisation_id=client_organisation_id,
        created_by=str(creator) if creator else None,
        initial_grants=initial,
    )
    return ProjectView(row, filed_in, await role_on(uow.session, principal, row))


async def add_project(
    uow: UnitOfWork,
    *,
    workspace_id: str,
    name: str,
    description: str = "",
    folder_ids: Sequence[str] = (),
    client_organisation_id: str | None = None,
    created_by: str | None = None,
    initial_grants: Sequence[InitialGrant] = (),
) -> Project:
    """Create and announce a project, with no access check: for callers that did theirs (or,
    like a new workspace's defaults, act for the system)."""
    row = Project(
        id=new_id(),
        workspace_id=workspace_id,
        name=name,
        description=description,
        client_organisation_id=client_organisation_id,
        created_by=created_by,
        created_at=now(),
    )
    uow.session.add(row)
    await uow.session.flush()
    await repository.replace_links(uow.session, workspace_id, row.id, folder_ids)
    uow.emit(
        ProjectCreated(
            project_id=UUID(row.id),
            workspace_id=UUID(workspace_id),
            name=name,
            folder_ids=[UUID(f) for f in sorted(folder_ids)],
            client_organisation_id=UUID(client_organisation_id) if client_organisation_id else None,
            created_by=UUID(created_by) if created_by else None,
            initial_grants=list(initial_grants),
        ),
        workspace=workspace_id,
        subject=f"project/{row.id}",
    )
    return row


async def get_project(uow: UnitOfWork, principal: Principal, project_id: str) -> ProjectView:
    row = await require_project(uow.session, principal, "view", project_id)
    return await _view(uow, principal, row)


async def _view(uow: UnitOfWork, principal: Principal, row: Project) -> ProjectView:
    filed_in = await repository.folder_ids_of(uow.session, row.workspace_id, row.id)
    return ProjectView(row, filed_in, await role_on(uow.session, principal, row))


async def update_project(
    uow: UnitOfWork, principal: Principal, project_id: str, requested: dict[str, str | None]
) -> ProjectView:
    """Rename, describe, or change the client organisation (only the keys given)."""
    row = await require_project(uow.session, principal, "manage_project", project_id)
    changes: dict[str, str | None] = {}
    for key in ("name", "description", "client_organisation_id"):
        if key not in requested:
            continue
        value = requested[key]
        if key == "description":
            value = value or ""
        elif key == "name" and value is None:
            raise Problem(422, "name-required", "A project needs a name.")
        if value != getattr(row, key):
            setattr(row, key, value)
            changes[key] = value
    if changes:
        _project_updated(uow, row, dict(changes))
    return await _view(uow, principal, row)


async def set_folders(
    uow: UnitOfWork, principal: Principal, project_id: str, folder_ids: Collection[str]
) -> ProjectView:
    """File the project in exactly these folders (moving it between folders is one call)."""
    row = await require_project(uow.session, principal, "manage_project", project_id)
    before = set(await repository.folder_ids_of(uow.session, row.workspace_id, row.id))
    after = set(folder_ids)
    await usable_folders(uow, principal, after - before)
    if after != before:
        await repository.replace_links(uow.session, row.workspace_id, row.id, after)
        _project_updated(uow, row, {"folder_ids": sorted(after)})
    return await _view(uow, principal, row)


async def file_in(
    uow: UnitOfWork, principal: Principal, project_id: str, folder_id: str, *, present: bool
) -> ProjectView:
    """Add the project to one folder (`present`) or take it out of one."""
    row = await require_project(uow.session, principal, "manage_project", project_id)
    current = set(await repository.folder_ids_of(uow.session, row.workspace_id, row.id))
    wanted = current | {folder_id} if present else current - {folder_id}
    return await set_folders(uow, principal, row.id, wanted)


async def set_project_archived(
    uow: UnitOfWork, principal: Principal, project_id: str, archived: bool
) -> ProjectView:
    row = await require_project(uow.session, principal, "manage_project", project_id)
    if (row.archived_at is not None) != archived:
        row.archived_at = now() if archived else None
        _project_updated(uow, row, {"archived": archived})
    return await _view(uow, principal, row)


def _project_updated(
    uow: UnitOfWork, row: Project, changes: dict[str, str | bool | list[str] | None]
) -> None:
    uow.emit(
        ProjectUpdated(
            project_id=UUID(row.id), workspace_id=UUID(row.workspace_id), changes=dict(changes)
        ),
        workspace=row.workspace_id,
        subject=f"project/{row.id}",
    )


async def list_projects(
    uow: UnitOfWork,
    principal: Principal,
    *,
    include_archived: bool = False,
    folder_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ProjectView], str | None]:
    """A page of the projects the caller may see, in creation order; `folder_id` keeps those
    filed in that folder or below it."""
    workspace = principal.workspace_id
    scope = await visible_scope(uow.session, principal)
    in_folders: set[str] | None = None
    if folder_id is not None:
        await folders.get_folder(uow, principal, folder_id)
        in_folders = tree.descendants(folder_id, await repository.folders(uow.session, workspace))
    size = max(1, min(limit, PAGE_MAX))
    rows = await repository.projects(
        uow.session,
        workspace,
        scope.clause(Project.id),
        include_archived=include_archived,
        in_folders=in_folders,
        after=cursor,
        limit=size + 1,
    )
    page, more = rows[:size], len(rows) > size
    links = await repository.links(uow.session, workspace, [p.id for p in page])
    views = [
        ProjectView(
            row,
            sorted(f for p, f in links if p == row.id),
            await role_on(uow.session, principal, row),
        )
        for row in page
    ]
    return views, page[-1].id if more else None


async def tree_for(uow: UnitOfWork, principal: Principal, *, include_archived: bool) -> Tree:
    """The hierarchy as the caller may see it. Admins see every folder; others see the
    folders leading to a project they may see (for collaborators and clients that keeps other
    clients' folders secret; for staff it keeps the tree to what concerns them)."""
    workspace = principal.workspace_id
    scope = await visible_scope(uow.session, principal)
    every_folder = await repository.folders(uow.session, workspace)
    projects = await repository.projects(
        uow.session, workspace, scope.clause(Project.id), include_archived=include_archived
    )
    links = await repository.links(uow.session, workspace, [p.id for p in projects])
    shown = {row.id for row in every_folder}
    if not include_archived:
        shown -= tree.hidden_when_archived(every_folder)
    if not principal.is_admin:
        shown &= tree.with_content(every_folder, links)
    return tree.build(every_folder, projects, links, shown=shown)


def _user_id(principal: Principal) -> UUID | None:
    """The caller as a user id, for `created_by`; None for API keys and the platform."""
    if principal.kind == "service":
        return None
    try:
        return UUID(principal.subject)
    except ValueError:
        return None
