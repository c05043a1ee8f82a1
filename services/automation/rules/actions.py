"""Turning a fired rule's actions into commands to the owning services, through the outbox.

Each command carries its origin (rule, version, depth) and is remembered as issued, so the
events it causes can be traced back to the rule (loop protection). In a dry run the same
planning runs and reports what would be sent, and nothing is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import JsonValue

from contracts import Envelope, EventData, registry
from contracts.integrations import DeliverWebhook
from contracts.notifications import MessageRecipient, SendMessage
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
from kit.uow import UnitOfWork
from services.automation.models import IssuedCommand, MailSent
from services.automation.projections import repository as projections
from services.automation.rules import repository
from services.automation.rules.engine import CompiledRule, Facts
from services.automation.rules.schemas import (
    Action,
    ApplyPolicyAction,
    AssignAction,
    CommentAction,
    FollowerAction,
    MessageAction,
    PercentAction,
    SetFieldAction,
    SetPriorityAction,
    SetStatusAction,
    WebhookAction,
)
from services.automation.settings import get_settings
from services.automation.sla import service as sla

TEMPLATES = ImmutableSandboxedEnvironment(autoescape=True)
Result = dict[str, Any]


class Skip(Exception):
    """The action does not apply here (e.g. a status the workflow lacks, a mail cap)."""


@dataclass(frozen=True)
class Run:
    uow: UnitOfWork
    rule: CompiledRule
    facts: Facts
    dry_run: bool

    @property
    def origin(self) -> CommandOrigin:
        return CommandOrigin(
            rule_id=uuid.UUID(self.rule.id),
            rule_version=self.rule.version,
            depth=self.facts.depth + 1,
        )


async def perform(run: Run, actions: list[Action]) -> list[Result]:
    results: list[Result] = []
    for action in actions:
        try:
            results.append(await _perform(run, action))
        except Skip as why:
            results.append({"action": action.type, "outcome": "skipped", "reason": str(why)})
        except TemplateError as error:
            reason = f"template error: {error}"
            results.append({"action": action.type, "outcome": "failed", "reason": reason})
    return results


async def _perform(run: Run, action: Action) -> Result:
    item_id = _item_id(run)
    workspace = uuid.UUID(run.facts.workspace_id)
    origin = run.origin
    command: EventData
    if isinstance(action, SetStatusAction):
        command = await _set_status(run, action, workspace, item_id, origin)
    elif isinstance(action, SetFieldAction | SetPriorityAction):
        name, value = _field_and_value(action)
        command = SetField(
            workspace_id=workspace, item_id=item_id, field=name, value=value, origin=origin
        )
    elif isinstance(action, PercentAction):
        command = SetPercentComplete(
            workspace_id=workspace,
            item_id=item_id,
            percent_complete=action.percent_complete,
            origin=origin,
        )
    elif isinstance(action, AssignAction):
        command = await _assign(run, action, workspace, item_id, origin)
    elif isinstance(action, FollowerAction):
        user = run.facts.actor_id if action.the_actor else action.user_id
        if not user:
            raise Skip("nobody to add or remove as follower")
        follower_command = AddFollower if action.type == "add_follower" else RemoveFollower
        command = follower_command(
            workspace_id=workspace, item_id=item_id, user_id=uuid.UUID(user), origin=origin
        )
    elif isinstance(action, CommentAction):
        command = PostComment(
            workspace_id=workspace,
            item_id=item_id,
            body_html=render(action.template, run.facts, public=action.visibility == "public"),
            visibility=action.visibility,
            origin=origin,
        )
    elif isinstance(action, MessageAction):
        command = await _message(run, action, workspace, origin)
    elif isinstance(action, WebhookAction):
        command = DeliverWebhook(
            workspace_id=workspace,
            endpoint_id=uuid.UUID(action.endpoint_id),
            event_name=action.event_name,
            payload=_webhook_payload(run),
            origin=origin,
        )
    else:
        return await _apply_policy(run, action)
    return _send(run, command, action.type)


def _send(run: Run, command: EventData, action: str) -> Result:
    envelope = registry.envelope(
        command,
        source="automation",
        workspace=run.facts.workspace_id,
        subject=f"item/{run.facts.item_id}",
        actor=f"rule:{run.rule.id}",
    )
    result: Result = {
        "action": action,
        "outcome": "would_send" if run.dry_run else "sent",
        "command": envelope.type,
        "data": command.model_dump(mode="json", exclude={"origin"}),
    }
    if run.dry_run:
        return result
    _issue(run, envelope)
    result["command_id"] = envelope.id
    return result


def _issue(run: Run, envelope: Envelope) -> None:
    run.uow.session.add(
        IssuedCommand(
            command_id=envelope.id,
            workspace_id=run.facts.workspace_id,
            rule_id=run.rule.id,
            rule_version=run.rule.version,
            depth=run.facts.depth + 1,
            item_id=run.facts.item_id,
            created_at=run.facts.now,
        )
    )
    run.uow.publish(envelope)


def _item_id(run: Run) -> uuid.UUID:
    item_id = run.facts.item_id
    if item_id is None:
        raise Skip("the event concerns no item")
    return uuid.UUID(item_id)


def _field_and_value(action: SetFieldAction | SetPriorityAction) -> tuple[str, JsonValue]:
    if isinstance(action, SetPriorityAction):
        return "priority", action.priority
    return action.field, action.value


async def _set_status(
    run: Run, action: SetStatusAction, workspace: uuid.UUID, item_id: uuid.UUID, origin: Any
) -> SetStatus:
    status_id = action.status_id
    if action.status_name is not None:
        type_id = str(run.facts.item.get("type_id"))
        known = await projections.item_type(run.uow.session, run.facts.workspace_id, type_id)
        wanted = action.status_name.casefold()
        found = next(
            (s for s in (known.statuses if known else []) if s["name"].casefold() == wanted), None
        )
        if found is None:
            raise Skip(f"the item's workflow has no status {action.status_name!r}")
        status_id = found["id"]
    current = run.facts.item.get("status_id")
    if status_id is not None and str(current) == status_id:
        raise Skip("the item is already in that status")
    if action.status_category is not None and run.facts.item.get("status_category") == (
        action.status_category
    ):
        raise Skip("the item is already in a status of that category")
    return SetStatus(
        workspace_id=workspace,
        item_id=item_id,
        status_id=uuid.UUID(status_id) if status_id else None,
        status_category=action.status_category,
        origin=origin,
    )


async def _assign(
    run: Run, action: AssignAction, workspace: uuid.UUID, item_id: uuid.UUID, origin: Any
) -> Assign:
    users = [uuid.UUID(u) for u in action.user_ids]
    if action.round_robin_team_id is not None:
        team = await projections.team(
            run.uow.session, run.facts.workspace_id, action.round_robin_team_id
        )
        members = sorted(team.member_ids) if team is not None and not team.deleted else []
        if not members:
            raise Skip("the round-robin team has no members")
        if run.dry_run:
            users.append(uuid.UUID(members[0]))
        else:
            turn = await repository.round_robin(
                run.uow.session, run.facts.workspace_id, action.round_robin_team_id
            )
            following = [m for m in members if turn.last_user_id is None or m > turn.last_user_id]
            chosen = following[0] if following else members[0]
            turn.last_user_id = chosen
            users.append(uuid.UUID(chosen))
    return Assign(
        workspace_id=workspace,
        item_id=item_id,
        user_ids=users,
        team_ids=[uuid.UUID(t) for t in action.team_ids],
        replace=action.replace,
        origin=origin,
    )


async def _message(
    run: Run, action: MessageAction, workspace: uuid.UUID, origin: Any
) -> SendMessage:
    if action.channel != "in_app":
        settings = get_settings()
        since = run.facts.now - timedelta(minutes=settings.mail_cap_window_minutes)
        on_item, in_workspace = await repository.mails_since(
            run.uow.session, run.facts.workspace_id, run.facts.item_id, since
        )
        if on_item >= settings.mail_cap_per_item:
            raise Skip(f"mail cap reached: {on_item} rule mails on this item in the window")
        if in_workspace >= settings.mail_cap_per_workspace:
            raise Skip(f"mail cap reached: {in_workspace} rule mails in the workspace")
        if not run.dry_run:
            run.uow.session.add(
                MailSent(
                    workspace_id=run.facts.workspace_id,
                    item_id=run.facts.item_id,
                    at=run.facts.now,
                )
            )
    item_id = run.facts.item_id
    public = action.visibility == "public"
    return SendMessage(
        workspace_id=workspace,
        item_id=uuid.UUID(item_id) if item_id else None,
        recipients=[
            MessageRecipient(
                user_id=uuid.UUID(r.user_id) if r.user_id else None, email=r.email, role=r.role
            )
            for r in action.recipients
        ],
        channel=action.channel,
        subject=render(action.subject, run.facts, escape=False, public=public),
        body_html=render(action.template, run.facts, public=public),
        visibility=action.visibility,
        origin=origin,
    )


def _webhook_payload(run: Run) -> dict[str, JsonValue]:
    """Private content never leaves through a webhook: the item's fields, not comments."""
    item = {k: v for k, v in run.facts.item.items() if not k.startswith("_") and k != "custom"}
    return {
        "rule_id": run.rule.id,
        "rule_name": run.rule.name,
        "event_type": run.facts.event_type,
        "item": item,
    }


async def _apply_policy(run: Run, action: ApplyPolicyAction) -> Result:
    item_id = run.facts.item_id
    if item_id is None:
        raise Skip("the event concerns no item")
    result: Result = {"action": action.type, "policy_id": action.policy_id}
    if run.dry_run:
        return {**result, "outcome": "would_apply"}
    applied = await sla.apply_policy(
        run.uow, run.facts.workspace_id, item_id, action.policy_id, run.facts.now
    )
    if not applied:
        raise Skip("no such SLA policy")
    return {**result, "outcome": "applied"}


def render(template: str, facts: Facts, *, escape: bool = True, public: bool = False) -> str:
    """Sandboxed Jinja over the item, the actor and the comment; HTML-escaped for bodies. A
    private note's text never renders into something public."""
    item = {k: v for k, v in facts.item.items() if not k.startswith("_")}
    comment = (
        {
            "visibility": facts.comment.visibility,
            "channel": facts.comment.channel,
            "body": "" if public and facts.comment.visibility == "private" else facts.comment.body,
        }
        if facts.comment
        else None
    )
    text = _compiled(template, escape).render(
        item=item, actor_id=facts.actor_id, comment=comment, event=facts.event_type
    )
    if not text.strip():
        raise Skip("the template rendered nothing")
    return text


_PLAIN = ImmutableSandboxedEnvironment(autoescape=False)


@lru_cache(maxsize=2048)
def _compiled(template: str, escape: bool) -> Template:
    """Compiling is most of a render's cost; rules reuse few templates."""
    return (TEMPLATES if escape else _PLAIN).from_string(template)
