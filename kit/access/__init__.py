"""Authorisation in every service, from a local projection of identity's grants.

A service adds `access_consumer()` to its consumers (the projection then lives
in its own database, created by the kit's revision `kit_0002`) and guards its
endpoints with `require` / `require_on_item`, its lists with
`visible_projects(...).clause(column)` or, for clients, `client_items_clause`.
What each role may do is documented once, in `kit.access.roles`.
"""

from kit.access.authorizer import (
    ItemFacts,
    ProjectScope,
    can,
    can_on_item,
    client_items_clause,
    client_may_see_item,
    client_visibility,
    permits,
    project_role,
    require,
    require_on_item,
    visible_projects,
)
from kit.access.projection import access_consumer, apply_identity_event
from kit.access.roles import ACTIONS, ROLES, Action, ProjectRole

__all__ = [
    "ACTIONS",
    "ROLES",
    "Action",
    "ItemFacts",
    "ProjectRole",
    "ProjectScope",
    "access_consumer",
    "apply_identity_event",
    "can",
    "can_on_item",
    "client_items_clause",
    "client_may_see_item",
    "client_visibility",
    "permits",
    "project_role",
    "require",
    "require_on_item",
    "visible_projects",
]
