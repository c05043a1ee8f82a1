"""From events to notices: who is told, of what, in which words.

One consumer takes every event the feed turns into notices; each handler names the
recipients and the text, and `service.deliver` applies preferences, leaves out the actor
and keeps it to one notice per (event, recipient).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from uuid import UUID

from contracts import Envelope, registry
from contracts.automation import SlaBreached, SlaWarning
from contracts.identity import AccessRequested, GrantGiven
from contracts.integrations import EndpointDisabled
from contracts.notifications import SendMessage
from contracts.tickets import CommentAdded, ItemAssigned, ItemSnapshot
from kit.access import ItemFacts
from kit.consumers import Consumer
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.directory import repository as directory
from services.notifications.directory.recipients import message_audience
from services.notifications.feed import audience, repository, service
from services.notifications.feed.service import Notice
from services.notifications.feed.text import (
    excerpt,
    mentioned_addresses,
    mentioned_names,
    plain,
)

log = get_logger(__name__)

Handler = Callable[[Envelope, UnitOfWork], Awaitable[None]]


def _ids(values: list[UUID]) -> list[str]:
    return [str(value) for value in values]


def _ref(item: ItemSnapshot) -> str:
    return f"#{item.number} {item.title}"


def _about(
    workspace_id: str, item: ItemSnapshot, kind: str, title: str, **more: str | None
) -> Notice:
    return Notice(
        workspace_id=workspace_id,
        kind=kind,
        title=title,
        item_id=str(item.id),
        item_number=item.number,
        project_id=str(item.project_id),
        body=more.pop("body", None) or "",
        actor_id=more.pop("actor_id", None),
    )


def _facts(workspace_id: str, item: ItemSnapshot) -> ItemFacts:
    return ItemFacts(
        workspace_id=workspace_id,
        project_id=str(item.project_id),
        requester_id=str(item.requester_id) if item.requester_id else None,
        requester_organisation_id=(
            str(item.requester_organisation_id) if item.requester_organisation_id else None
        ),
        follower_ids=_ids(item.follower_ids),
    )


async def _followers(uow: UnitOfWork, workspace_id: str, item: ItemSnapshot) -> list[str]:
    """The item's followers and the members of the teams assigned it (who follow it as the
    people assigned it do), each once."""
    members = await directory.team_members(uow.session, workspace_id, _ids(item.assignee_team_ids))
    return list(dict.fromkeys([*_ids(item.follower_ids), *members]))


# --- items --------------------------------------------------------------------------------------


async def on_assigned(envelope: Envelope, uow: UnitOfWork) -> None:
    """People assigned get an `assigned`; so does every member of a team assigned, in words
    naming the team (someone assigned both ways is told once, as a person)."""
    event = registry.parse_as(envelope, ItemAssigned)
    workspace_id = envelope.workspace
    if workspace_id is None or not (event.added_user_ids or event.added_team_ids):
        return
    session, actor = uow.session, envelope.actor
    added = _ids(event.added_user_ids)
    teams = {
        team_id: await directory.team_members(session, workspace_id, [team_id])
        for team_id in _ids(event.added_team_ids)
    }
    members = [m for team in teams.values() for m in team]
    known = await audience.people(session, workspace_id, [*added, *members, actor or ""])
    who, ref = known.name(actor), _ref(event.item)
    if added:
        notice = _about(
            workspace_id, event.item, "assigned", f"{who} assigned you {ref}", actor_id=actor
        )
        await service.deliver(uow, envelope.id, notice, known.reachable(added, private=False))
    names = await directory.teams(session, workspace_id, teams)
    for team_id, team in teams.items():
        title = f"{who} assigned {ref} to your team {names.get(team_id, '')}".rstrip()
        notice = _about(workspace_id, event.item, "assigned", title, actor_id=actor)
        chosen = [m for m in known.reachable(team, private=False) if m not in added]
        await service.deliver(uow, envelope.id, notice, chosen)


async def on_comment(envelope: Envelope, uow: UnitOfWork) -> None:
    """Mentioned people get a `mention`; the item's other followers a `comment`. A private note
    reaches insiders only, whether they follow it or are mentioned in it."""
    event = registry.parse_as(envelope, CommentAdded)
    workspace_id = envelope.workspace
    if workspace_id is None:
        return
    item, private = event.item, event.visibility == "private"
    author = str(event.author_id) if event.author_id else envelope.actor
    followers = await _followers(uow, workspace_id, item)
    addresses = mentioned_addresses(event.body)
    mentioned = await audience.by_addresses(uow.session, workspace_id, addresses)
    named = await audience.by_names(uow.session, workspace_id, mentioned_names(event.body))
    mentioned += [user_id for user_id in named if user_id not in mentioned]
    known = await audience.people(uow.session, workspace_id, [*followers, *mentioned, author or ""])
    facts = _facts(workspace_id, item)
    told: list[str] = []
    for user_id in known.reachable(mentioned, private=private):
        if user_id in followers or await audience.may_see_item(
            uow.session, known.known.get(user_id), facts
        ):
            told.append(user_id)
    who, ref = known.name(author), _ref(item)
    text = excerpt(event.body)
    if told:
        note = "a private note" if private else "a comment"
        mention = _about(
            workspace_id,
            item,
            "mention",
            f"{who} mentioned you in {note} on {ref}",
            body=text,
            actor_id=author,
        )
        # Followers are mailed the comment itself by mail-out: their mention is not forwarded.
        await service.deliver(uow, envelope.id, mention, told, mailed_anyway=followers)
    rest = [f for f in known.reachable(followers, private=private) if f not in told]
    if rest:
        what = "added a private note to" if private else "commented on"
        comment = _about(
            workspace_id, item, "comment", f"{who} {what} {ref}", body=text, actor_id=author
        )
        await service.deliver(uow, envelope.id, comment, rest)


# --- identity -----------------------------------------------------------------------------------


async def on_access_requested(envelope: Envelope, uow: UnitOfWork) -> None:
    """To whoever may decide: the managers identity names, and those of the grants projection."""
    event = registry.parse_as(envelope, AccessRequested)
    workspace_id, project_id = str(event.workspace_id), str(event.project_id)
    managers = {
        *_ids(event.manager_ids),
        *await repository.project_managers(uow.session, workspace_id, project_id),
    }
    requester = str(event.user_id)
    known = await audience.people(uow.session, workspace_id, [*managers, requester])
    project = await repository.project_name(uow.session, workspace_id, project_id)
    notice = Notice(
        workspace_id=workspace_id,
        kind="access_requested",
        title=f"{known.name(requester)} asks for access to {project or 'a project'}",
        body=plain(event.note)[: service.BODY_MAX],
        project_id=project_id,
        actor_id=requester,
    )
    await service.deliver(uow, envelope.id, notice, known.insiders(sorted(managers)))


async def on_grant_given(envelope: Envelope, uow: UnitOfWork) -> None:
    """A project shared with a person or a team (not silently): a noisy kind, muted by many.
    A team's grant is told to each of its members."""
    event = registry.parse_as(envelope, GrantGiven)
    if event.silent:
        return
    workspace_id, project_id = str(event.workspace_id), str(event.project_id)
    subject = str(event.subject_id)
    granted_by = str(event.granted_by) if event.granted_by else envelope.actor
    if event.subject_type == "team":
        grantees = await directory.team_members(uow.session, workspace_id, [subject])
        team = (await directory.teams(uow.session, workspace_id, [subject])).get(subject, "")
        whom = f"your team {team}" if team else "your team"
    else:
        grantees, whom = [subject], "you"
    known = await audience.people(uow.session, workspace_id, [*grantees, granted_by or ""])
    project = await repository.project_name(uow.session, workspace_id, project_id)
    notice = Notice(
        workspace_id=workspace_id,
        kind="access_granted",
        title=f"{known.name(granted_by)} gave {whom} {event.role} access to "
        f"{project or 'a project'}",
        project_id=project_id,
        actor_id=granted_by,
    )
    await service.deliver(uow, envelope.id, notice, known.reachable(grantees, private=False))


# --- automation and integrations ----------------------------------------------------------------

_TARGETS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


async def on_sla(envelope: Envelope, uow: UnitOfWork) -> None:
    """Warnings and breaches go to the item's assignees, the members of assigned teams too
    (insiders only: an SLA is internal)."""
    event = registry.parse(envelope)
    if not isinstance(event, SlaWarning | SlaBreached):
        return
    workspace_id, item = str(event.workspace_id), event.item
    target = _TARGETS.get(event.target, event.target)
    if isinstance(event, SlaWarning):
        kind = "sla_warning"
        title = f"SLA: {target} on {_ref(item)} is due soon"
        body = f"{event.policy_name}: due {event.due_at:%Y-%m-%d %H:%M} UTC, "
        body += f"{event.business_minutes_left} business minutes left."
    else:
        kind = "sla_breached"
        title = f"SLA missed: {target} on {_ref(item)}"
        body = f"{event.policy_name}: was due {event.due_at:%Y-%m-%d %H:%M} UTC."
    teams = await directory.team_members(uow.session, workspace_id, _ids(item.assignee_team_ids))
    assignees = list(dict.fromkeys([*_ids(item.assignee_user_ids), *teams]))
    known = await audience.people(uow.session, workspace_id, assignees)
    notice = _about(workspace_id, item, kind, title, body=body)
    await service.deliver(uow, envelope.id, notice, known.insiders(assignees))


async def on_endpoint_disabled(envelope: Envelope, uow: UnitOfWork) -> None:
    event = registry.parse_as(envelope, EndpointDisabled)
    if event.owner_user_id is None:
        return
    workspace_id, owner = str(event.workspace_id), str(event.owner_user_id)
    known = await audience.people(uow.session, workspace_id, [owner])
    notice = Notice(
        workspace_id=workspace_id,
        kind="endpoint_disabled",
        title=f"Webhook endpoint switched off: {event.url}",
        body=event.reason,
    )
    await service.deliver(uow, envelope.id, notice, known.reachable([owner], private=False))


# --- messages -----------------------------------------------------------------------------------


async def on_send_message(envelope: Envelope, uow: UnitOfWork) -> None:
    """The in-app half of a rule's message (mail-out sends the mail half). A private message
    never reaches a client, whatever the recipient list says."""
    command = registry.parse_as(envelope, SendMessage)
    if command.channel == "mail":
        return
    workspace_id = str(command.workspace_id)
    item = (
        await directory.item(uow.session, workspace_id, str(command.item_id))
        if command.item_id
        else None
    )
    wanted = await message_audience(uow.session, workspace_id, command.recipients, item)
    named, staff_only = wanted.user_ids, wanted.insiders_only
    known = await audience.people(uow.session, workspace_id, named)
    private = command.visibility == "private"
    chosen = [
        user_id
        for user_id in dict.fromkeys(known.reachable(named, private=private))
        if user_id not in staff_only or user_id in known.insiders([user_id])
    ]
    notice = Notice(
        workspace_id=workspace_id,
        kind=command.kind,
        title=plain(command.subject),
        body=excerpt(command.body_html, service.BODY_MAX),
        item_id=item.id if item else (str(command.item_id) if command.item_id else None),
        item_number=item.number if item else None,
        project_id=item.project_id if item else None,
        actor_id=envelope.actor,
    )
    # `both`: mail-out mails it now, so the notice in the app is never forwarded as well.
    allowed = service.EVERY_CHANNEL if command.channel == "in_app" else service.IN_APP_ONLY
    await service.deliver(uow, envelope.id, notice, chosen, allowed=allowed)


HANDLERS: Mapping[str, Handler] = {
    "tickets.item.assigned.v1": on_assigned,
    "tickets.comment.added.v1": on_comment,
    "identity.access.requested.v1": on_access_requested,
    "identity.grant.given.v1": on_grant_given,
    "automation.sla.warning.v1": on_sla,
    "automation.sla.breached.v1": on_sla,
    "integrations.endpoint.disabled.v1": on_endpoint_disabled,
    "notifications.command.send_message.v1": on_send_message,
}


async def handle(envelope: Envelope, uow: UnitOfWork) -> None:
    handler = HANDLERS.get(envelope.type)
    if handler is None:
        log.debug("feed.ignored", event_type=envelope.type)
        return
    await handler(envelope, uow)


CONSUMERS = [Consumer(name="feed", patterns=tuple(HANDLERS), handler=handle)]
