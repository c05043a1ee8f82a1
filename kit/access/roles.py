"""Project roles and what each one allows: the single table every service checks against.

A role is held on a project through a grant to the user or to one of their
teams; the highest applies. Roles are ordered, each includes the ones below:
`viewer < contributor < editor < manager`. An action needs a minimum role:

| action             | minimum role | covers                                                       |
|--------------------|--------------|--------------------------------------------------------------|
| `view`             | viewer       | see the project, its items, public comments, attachments     |
| `view_private`     | viewer       | see private notes and internal fields                        |
| `comment`          | contributor  | post public replies                                          |
| `comment_private`  | contributor  | post private notes                                           |
| `create_item`      | contributor  | create tickets and tasks                                     |
| `log_time`         | contributor  | run timers and log time on items                             |
| `edit_item`        | editor       | change fields, dates, description                            |
| `change_status`    | editor       | move an item through its workflow                            |
| `assign`           | editor       | set or change assignees                                      |
| `manage_followers` | editor       | add or remove other people as followers                      |
| `delete_item`      | manager      | delete items                                                 |
| `manage_project`   | manager      | rename, move, archive the project; its item types            |
| `manage_grants`    | manager      | share the project with users and teams, change their roles   |
| `decide_access`    | manager      | approve or deny access requests                              |

Who holds which role:

- **Staff**: the highest of their own grants and their teams' grants on the
  project. Workspace admins are managers of every project of their workspace.
- **Collaborators** (outside vendors): exactly their grants (their own and
  their teams'). The workspace admin role gives them nothing more.
- **Clients**: a grant puts a project in their portal, capped at
  `contributor`, and only `view`, `comment` and `create_item` are ever theirs,
  never private notes or internal fields. Inside any project they see only the
  items they requested or follow — and their organisation's, when the
  workspace's client visibility is `organisation` — whether or not the project
  is granted to them, so a client who mailed a ticket in can follow it.
- **Service** principals (minted by the platform itself) are treated as staff.
- **API keys** act as the person who created them, capped by the key's scopes: `read` allows
  only `view` and `view_private`, `write` everything the person's role allows on projects;
  workspace admin powers need the `admin` scope.

Private notes are separate actions from public ones (`comment_private`,
`view_private`) rather than a flag on `comment`, so the client rule is data in
this table, not an `if` repeated in every endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal, get_args

from contracts.identity import ProjectRole

__all__ = [
    "ACTIONS",
    "CLIENT_ACTIONS",
    "CLIENT_ITEM_ACTIONS",
    "CLIENT_ROLE_CAP",
    "READ_ACTIONS",
    "ROLES",
    "Action",
    "ProjectRole",
    "at_least",
    "highest",
    "lowest",
    "rank",
]

ROLES: tuple[ProjectRole, ...] = get_args(ProjectRole)
"""Lowest first; a role's position is its rank (the contract lists them in this order)."""

Action = Literal[
    "view",
    "view_private",
    "comment",
    "comment_private",
    "create_item",
    "log_time",
    "edit_item",
    "change_status",
    "assign",
    "manage_followers",
    "delete_item",
    "manage_project",
    "manage_grants",
    "decide_access",
]

ACTIONS: Mapping[Action, ProjectRole] = MappingProxyType(
    {
        "view": "viewer",
        "view_private": "viewer",
        "comment": "contributor",
        "comment_private": "contributor",
        "create_item": "contributor",
        "log_time": "contributor",
        "edit_item": "editor",
        "change_status": "editor",
        "assign": "editor",
        "manage_followers": "editor",
        "delete_item": "manager",
        "manage_project": "manager",
        "manage_grants": "manager",
        "decide_access": "manager",
    }
)
"""Action → the minimum project role it needs (the table of the module docstring)."""

CLIENT_ACTIONS: frozenset[Action] = frozenset({"view", "comment", "create_item"})
"""The only project actions a client may ever be allowed, whatever their grant says."""

READ_ACTIONS: frozenset[Action] = frozenset({"view", "view_private"})
"""What an API key with only the `read` scope may do: see, never change."""

CLIENT_ITEM_ACTIONS: frozenset[Action] = frozenset({"view", "comment"})
"""What a client may do on an item they can see, granted project or not."""

CLIENT_ROLE_CAP: ProjectRole = "contributor"

_RANK: Mapping[ProjectRole, int] = MappingProxyType({role: i for i, role in enumerate(ROLES)})


def rank(role: ProjectRole) -> int:
    return _RANK[role]


def at_least(role: ProjectRole | None, minimum: ProjectRole) -> bool:
    """No role allows nothing, so callers need not special-case None."""
    return role is not None and rank(role) >= rank(minimum)


def highest(roles: Iterable[ProjectRole]) -> ProjectRole | None:
    return max(roles, key=rank, default=None)


def lowest(first: ProjectRole, second: ProjectRole) -> ProjectRole:
    return first if rank(first) <= rank(second) else second
