"""Events produced by the tickets service that other services project (projects so far)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from contracts.envelope import EventData
from contracts.registry import registry

SOURCE = "tickets"


class InitialGrant(BaseModel):
    """A share requested together with the project ("give this vendor editor")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subject_type: Literal["user", "team"]
    subject_id: UUID
    role: Literal["viewer", "contributor", "editor", "manager"]
    silent: bool = False


@registry.event(
    "tickets.project.created.v1",
    source=SOURCE,
    summary="A project was created (e.g. one per campaign), possibly already shared.",
)
class ProjectCreated(EventData):
    """Identity validates grants against projects it learnt of here, and writes
    `initial_grants` as grants given by `created_by`."""

    project_id: UUID
    workspace_id: UUID
    name: str = Field(min_length=1)
    folder_ids: list[UUID] = Field(default_factory=list)
    client_organisation_id: UUID | None = None
    created_by: UUID | None = None
    initial_grants: list[InitialGrant] = Field(default_factory=list)


@registry.event(
    "tickets.project.updated.v1",
    source=SOURCE,
    summary="A project was renamed, moved, archived or restored.",
)
class ProjectUpdated(EventData):
    project_id: UUID
    workspace_id: UUID
    changes: dict[str, JsonValue] = Field(
        description="Changed attributes, e.g. `name`, `folder_ids`, `archived` (bool)."
    )


Visibility = Literal["public", "private"]
StatusCategory = Literal["new", "open", "in_progress", "waiting", "done", "closed"]


@registry.event(
    "tickets.folder.created.v1",
    source=SOURCE,
    summary="A folder (portfolio, e.g. one per client) was created.",
)
class FolderCreated(EventData):
    folder_id: UUID
    workspace_id: UUID
    name: str
    parent_id: UUID | None = None


@registry.event(
    "tickets.folder.updated.v1",
    source=SOURCE,
    summary="A folder was renamed, moved or archived.",
)
class FolderUpdated(EventData):
    folder_id: UUID
    workspace_id: UUID
    changes: dict[str, JsonValue]


class StatusInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: UUID
    name: str
    category: StatusCategory
    position: int


class FieldInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: UUID
    key: str
    label: str
    field_type: str
    required: bool
    client_visible: bool


@registry.event(
    "tickets.type.changed.v1",
    source=SOURCE,
    summary="An item type was created or its workflow or fields changed (full state).",
)
class TypeChanged(EventData):
    """Carries the whole type, so consumers (automation rules, integrations' dropdowns)
    replace their copy without replaying history."""

    type_id: UUID
    workspace_id: UUID
    name: str
    kind: Literal["ticket", "task"]
    statuses: list[StatusInfo]
    fields: list[FieldInfo]
    archived: bool = False


class ItemSnapshot(BaseModel):
    """What consumers need of an item to route, notify and report without calling back."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: UUID
    number: int
    title: str
    project_id: UUID
    type_id: UUID
    kind: Literal["ticket", "task"]
    status_id: UUID
    status_name: str
    status_category: StatusCategory
    priority: str
    requester_id: UUID | None = None
    requester_organisation_id: UUID | None = None
    assignee_user_ids: list[UUID] = Field(default_factory=list)
    assignee_team_ids: list[UUID] = Field(default_factory=list)
    follower_ids: list[UUID] = Field(default_factory=list)
    due_date: str | None = None
    percent_complete: int = 0
    estimate_minutes: int | None = None


class FieldChange(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    old: JsonValue = None
    new: JsonValue = None
    client_visible: bool = Field(
        default=True, description="False for internal fields: never forwarded to clients."
    )


@registry.event(
    "tickets.item.created.v1",
    source=SOURCE,
    summary="A ticket or task was created.",
)
class ItemCreated(EventData):
    item: ItemSnapshot
    channel: str = Field(default="app", description="app, email, portal, api or rule.")
    created_by: UUID | None = None


@registry.event(
    "tickets.item.updated.v1",
    source=SOURCE,
    summary="Fields of an item changed; each change carries its old and new value.",
)
class ItemUpdated(EventData):
    item: ItemSnapshot
    changes: dict[str, FieldChange]


@registry.event(
    "tickets.item.status_changed.v1",
    source=SOURCE,
    summary="An item moved to another status of its workflow.",
)
class ItemStatusChanged(EventData):
    item: ItemSnapshot
    from_status_id: UUID
    from_category: StatusCategory
    to_status_id: UUID
    to_category: StatusCategory


@registry.event(
    "tickets.item.assigned.v1",
    source=SOURCE,
    summary="The assignees of an item changed.",
)
class ItemAssigned(EventData):
    item: ItemSnapshot
    added_user_ids: list[UUID] = Field(default_factory=list)
    removed_user_ids: list[UUID] = Field(default_factory=list)
    added_team_ids: list[UUID] = Field(default_factory=list)
    removed_team_ids: list[UUID] = Field(default_factory=list)


@registry.event(
    "tickets.item.deleted.v1",
    source=SOURCE,
    summary="An item was deleted (soft: it can be restored by an admin).",
)
class ItemDeleted(EventData):
    item: ItemSnapshot


@registry.event(
    "tickets.item.converted.v1",
    source=SOURCE,
    summary="An item changed type (e.g. a ticket converted to a task), keeping its history.",
)
class ItemConverted(EventData):
    item: ItemSnapshot
    from_type_id: UUID
    from_kind: Literal["ticket", "task"]


@registry.event(
    "tickets.comment.added.v1",
    source=SOURCE,
    summary="A comment was added to an item; private notes are marked and never reach clients.",
)
class CommentAdded(EventData):
    """Every consumer that can reach a client (mail, portal, webhooks, exports) must drop
    `visibility == "private"`."""

    comment_id: UUID
    item: ItemSnapshot
    author_id: UUID | None
    visibility: Visibility
    channel: str
    body: str
    in_reply_to_message_id: str | None = None


@registry.event(
    "tickets.follower.added.v1",
    source=SOURCE,
    summary="Someone now follows an item (and is mailed its conversation).",
)
class FollowerAdded(EventData):
    item_id: UUID
    workspace_id: UUID
    user_id: UUID


@registry.event(
    "tickets.follower.removed.v1",
    source=SOURCE,
    summary="Someone stopped following an item.",
)
class FollowerRemoved(EventData):
    item_id: UUID
    workspace_id: UUID
    user_id: UUID


class CommandOrigin(BaseModel):
    """Who asked: a rule (with its version) and how deep in a chain of rule-caused changes."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rule_id: UUID | None = None
    rule_version: int | None = None
    depth: int = Field(default=0, ge=0)


@registry.event(
    "tickets.command.set_status.v1",
    source=SOURCE,
    summary="Move an item to a status (by id, or the first status of a category).",
    command=True,
)
class SetStatus(EventData):
    workspace_id: UUID
    item_id: UUID
    status_id: UUID | None = None
    status_category: StatusCategory | None = None
    origin: CommandOrigin = Field(default_factory=CommandOrigin)


@registry.event(
    "tickets.command.set_field.v1",
    source=SOURCE,
    summary="Set a built-in field (priority, due_date, …) or a custom field of an item.",
    command=True,
)
class SetField(EventData):
    workspace_id: UUID
    item_id: UUID
    field: str = Field(
        description="`priority`, `due_date`, `start_date`, `title` or `custom.<key>`."
    )
    value: JsonValue = None
    origin: CommandOrigin = Field(default_factory=CommandOrigin)


@registry.event(
    "tickets.command.assign.v1",
    source=SOURCE,
    summary="Add assignees to an item (users and/or teams).",
    command=True,
)
class Assign(EventData):
    workspace_id: UUID
    item_id: UUID
    user_ids: list[UUID] = Field(default_factory=list)
    team_ids: list[UUID] = Field(default_factory=list)
    replace: bool = False
    origin: CommandOrigin = Field(default_factory=CommandOrigin)


@registry.event(
    "tickets.command.add_follower.v1",
    source=SOURCE,
    summary="Make someone follow an item.",
    command=True,
)
class AddFollower(EventData):
    workspace_id: UUID
    item_id: UUID
    user_id: UUID
    origin: CommandOrigin = Field(default_factory=CommandOrigin)


@registry.event(
    "tickets.command.remove_follower.v1",
    source=SOURCE,
    summary="Stop someone following an item.",
    command=True,
)
class RemoveFollower(EventData):
    workspace_id: UUID
    item_id: UUID
    user_id: UUID
    origin: CommandOrigin = Field(default_factory=CommandOrigin)


@registry.event(
    "tickets.command.post_comment.v1",
    source=SOURCE,
    summary="Post a public reply or a private note on an item (e.g. an automatic reply).",
    command=True,
)
class PostComment(EventData):
    workspace_id: UUID
    item_id: UUID
    body_html: str = Field(min_length=1)
    visibility: Visibility = "public"
    author_id: UUID | None = None
    origin: CommandOrigin = Field(default_factory=CommandOrigin)


@registry.event(
    "tickets.command.set_percent_complete.v1",
    source=SOURCE,
    summary="Set an item's percent complete (e.g. 100 when done).",
    command=True,
)
class SetPercentComplete(EventData):
    workspace_id: UUID
    item_id: UUID
    percent_complete: int = Field(ge=0, le=100)
    origin: CommandOrigin = Field(default_factory=CommandOrigin)
