"""What other services ask of items: time logged (T3) and automation's commands.

Commands run as a workspace-level service principal named after the rule, through the
same service functions as the API, so their changes are validated, recorded in the
activity and published exactly like a person's (the envelope's actor says which rule).
"""

from __future__ import annotations

from typing import Any, cast

from contracts import Envelope, registry
from contracts.tickets import (
    AddFollower,
    Assign,
    CommandOrigin,
    PostComment,
    RemoveFollower,
    SetField,
    SetPercentComplete,
    SetStatus,
)
from contracts.timetracking import TimeLogged
from kit import context
from kit.auth import Principal
from kit.consumers import Consumer
from kit.http.problems import Problem
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.tickets.items import repository, service
from services.tickets.items.schemas import AssigneeRef, ItemUpdate

log = get_logger(__name__)

# Worked/estimated hours never claim completion: only a done status (or a person) does.
PERCENT_CAP_UNTIL_DONE = 99


def system(workspace_id: str, name: str) -> Principal:
    return Principal(
        subject=name, workspace_id=workspace_id, kind="service", workspace_role="admin"
    )


def _actor(origin: CommandOrigin) -> str:
    return f"rule:{origin.rule_id}" if origin.rule_id else "automation"


async def on_time_logged(envelope: Envelope, uow: UnitOfWork) -> None:
    event = TimeLogged.model_validate(envelope.data)
    workspace, item_id = str(event.workspace_id), str(event.item_id)
    row = await repository.item(uow.session, workspace, item_id)
    if row is None:
        log.info("time logged on an unknown or deleted item", item_id=item_id)
        return
    row.logged_minutes += event.minutes
    actor = system(workspace, "timetracking")
    with context.working(actor=f"user:{event.user_id}"):
        loaded = await service.load(uow, actor, item_id, "view")
        if row.status_category == "new":
            started = next(
                (s for s in loaded.definition.statuses if s.category == "in_progress"), None
            )
            if started is not None:
                loaded = await service.change_status(uow, actor, item_id, started.id)
        percent = _percent(
            loaded.row.percent_complete,
            event.percent_complete,
            loaded.row.logged_minutes,
            loaded.row.estimate_minutes,
            loaded.row.status_category,
        )
        if percent != loaded.row.percent_complete:
            await service.update(uow, actor, item_id, ItemUpdate(percent_complete=percent))


def _percent(
    current: int, reported: int | None, logged: int, estimate: int | None, category: str
) -> int:
    if reported is not None:
        return reported
    if not estimate or category in ("done", "closed"):
        return current
    return max(current, min(PERCENT_CAP_UNTIL_DONE, logged * 100 // estimate))


async def on_command(envelope: Envelope, uow: UnitOfWork) -> None:
    command = registry.parse(envelope)
    origin: CommandOrigin = cast(Any, command).origin
    workspace, item_id = str(cast(Any, command).workspace_id), str(cast(Any, command).item_id)
    actor = system(workspace, _actor(origin))
    with context.working(actor=actor.subject):
        try:
            await _run(uow, actor, item_id, command)
        except Problem as problem:
            # A rule asked for something the item refuses (a gate, a removed status): that is
            # the rule's outcome, not a failure to retry. Automation sees it in its log.
            log.warning(
                "command refused",
                type=envelope.type,
                item_id=item_id,
                problem=problem.kind,
                detail=problem.detail,
            )


async def _run(uow: UnitOfWork, actor: Principal, item_id: str, command: Any) -> None:
    if isinstance(command, SetStatus):
        loaded = await service.load(uow, actor, item_id, "change_status")
        if command.status_id is not None:
            target = str(command.status_id)
        else:
            found = next(
                (s for s in loaded.definition.statuses if s.category == command.status_category),
                None,
            )
            if found is None:
                raise Problem(422, "unknown-status", "The workflow has no such category.")
            target = found.id
        await service.change_status(uow, actor, item_id, target)
    elif isinstance(command, SetField):
        if command.field.startswith("custom."):
            body = ItemUpdate(custom_values={command.field[7:]: command.value})
        else:
            body = ItemUpdate.model_validate({command.field: command.value})
        await service.update(uow, actor, item_id, body)
    elif isinstance(command, SetPercentComplete):
        await service.update(
            uow, actor, item_id, ItemUpdate(percent_complete=command.percent_complete)
        )
    elif isinstance(command, Assign):
        loaded = await service.load(uow, actor, item_id, "assign")
        wanted = (
            []
            if command.replace
            else [
                AssigneeRef(type=cast(Any, a.assignee_type), id=a.assignee_id)
                for a in loaded.assignees
            ]
        )
        wanted += [AssigneeRef(type="user", id=str(u)) for u in command.user_ids]
        wanted += [AssigneeRef(type="team", id=str(t)) for t in command.team_ids]
        await service.assign(uow, actor, item_id, wanted)
    elif isinstance(command, AddFollower):
        await service.follow(uow, actor, item_id, str(command.user_id))
    elif isinstance(command, RemoveFollower):
        await service.unfollow(uow, actor, item_id, str(command.user_id))
    elif isinstance(command, PostComment):
        from services.tickets.conversation import service as conversation

        loaded = await service.load(uow, actor, item_id, "view")
        await conversation.post(
            uow,
            loaded,
            str(command.author_id) if command.author_id else None,
            command.body_html,
            command.visibility,
            "rule",
        )


COMMANDS = [
    "tickets.command.set_status.v1",
    "tickets.command.set_field.v1",
    "tickets.command.assign.v1",
    "tickets.command.add_follower.v1",
    "tickets.command.remove_follower.v1",
    "tickets.command.post_comment.v1",
    "tickets.command.set_percent_complete.v1",
]

CONSUMERS = [
    Consumer("time-logged", ["timetracking.time.logged.v1"], on_time_logged),
    Consumer("commands", COMMANDS, on_command),
]
