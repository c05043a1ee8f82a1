"""Building the folder tree in memory, from a workspace's folders and the projects a caller
may see (pure functions: the queries happen before, in the service)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

from services.tickets.hierarchy.schemas import ProjectSummary, Tree, TreeFolder
from services.tickets.models import Folder, Project


def descendants(folder_id: str, folders: Iterable[Folder]) -> set[str]:
    """The folder and every folder below it."""
    return _below(folder_id, _children(folders))


def _below(folder_id: str, children: Mapping[str, list[Folder]]) -> set[str]:
    found: set[str] = set()
    stack = [folder_id]
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(child.id for child in children.get(current, ()))
    return found


def hidden_when_archived(folders: Iterable[Folder]) -> set[str]:
    """Archived folders and everything below them: what a tree without archives leaves out."""
    rows = list(folders)
    children = _children(rows)
    hidden: set[str] = set()
    for row in rows:
        if row.archived_at is not None and row.id not in hidden:
            hidden |= _below(row.id, children)
    return hidden


def with_content(folders: Iterable[Folder], links: Iterable[tuple[str, str]]) -> set[str]:
    """Folders holding one of the linked projects, directly or in a sub-folder."""
    parents = {row.id: row.parent_id for row in folders}
    found: set[str] = set()
    for _, folder_id in links:
        current: str | None = folder_id
        while current is not None and current in parents and current not in found:
            found.add(current)
            current = parents[current]
    return found


def build(
    folders: Collection[Folder],
    projects: Collection[Project],
    links: Collection[tuple[str, str]],
    *,
    shown: Collection[str],
) -> Tree:
    """The tree of `shown` folders, each with its sub-folders and projects, names in order.

    A project sits under every shown folder it is filed in; projects filed nowhere are listed
    at the top. A folder whose parent is not shown is not shown either.
    """
    by_id = {p.id: p for p in projects}
    in_folder: dict[str, list[ProjectSummary]] = defaultdict(list)
    filed: set[str] = set()
    for project_id, folder_id in links:
        if project_id in by_id:
            filed.add(project_id)
            if folder_id in shown:
                in_folder[folder_id].append(summary(by_id[project_id]))
    children = _children(f for f in folders if f.id in shown)

    def node(row: Folder) -> TreeFolder:
        return TreeFolder(
            id=row.id,
            name=row.name,
            archived=row.archived_at is not None,
            folders=[node(child) for child in _by_name(children.get(row.id, []))],
            projects=sorted(in_folder.get(row.id, []), key=lambda p: (p.name.casefold(), p.id)),
        )

    roots = [f for f in folders if f.id in shown and f.parent_id is None]
    loose = [summary(p) for p in projects if p.id not in filed]
    return Tree(
        folders=[node(row) for row in _by_name(roots)],
        projects=sorted(loose, key=lambda p: (p.name.casefold(), p.id)),
    )


def summary(row: Project) -> ProjectSummary:
    return ProjectSummary(
        id=row.id,
        name=row.name,
        archived=row.archived_at is not None,
        client_organisation_id=row.client_organisation_id,
    )


def _children(folders: Iterable[Folder]) -> Mapping[str, list[Folder]]:
    children: dict[str, list[Folder]] = defaultdict(list)
    for row in folders:
        if row.parent_id is not None:
            children[row.parent_id].append(row)
    return children


def _by_name(rows: Iterable[Folder]) -> list[Folder]:
    return sorted(rows, key=lambda f: (f.name.casefold(), f.id))
