"""What is mailed on tickets' events and automation's commands, and to whom.

Followers (the members of teams assigned the item among them, and the requester) hear of
comments and status moves, as the workspace chose; a private note goes only to staff and
collaborators (a person whose kind is not known yet gets nothing private); the author of a
change is not mailed their own change. The requester of a ticket created by mail or form
gets an acknowledgement. Each mail is queued under a key of its cause, so a redelivered
event mails nobody twice."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contracts import Envelope, registry
from contracts.identity import InvitationCreated
from contracts.notifications import SendMessage
from contracts.tickets import CommentAdded, ItemCreated, ItemSnapshot, ItemStatusChanged
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.notifications.directory import repository as directory
from services.notifications.directory.recipients import message_audience
from services.notifications.inbound import repository as inbound
from services.notifications.models import DirectoryPerson, MailSettings, MailTemplate
from services.notifications.outbound.service import queue_mail, queue_mail_to_address
from services.notifications.outbound.templates import Source, default_source, render_kind
from services.notifications.preferences import service as preferences
from services.notifications.textparts import html_to_text, sanitise_html

log = get_logger(__name__)

INSIDERS = frozenset({"staff", "collaborator"})
FOLLOWER_KINDS = frozenset({"comment", "status"})
"""Follower mail a person may take off mail (or mute) in their preferences; acknowledgements
of their own requests are always sent."""
ACKNOWLEDGED_CHANNELS = frozenset({"email", "portal", "form"})


async def on_comment_added(envelope: Envelope, uow: UnitOfWork) -> None:
    comment = registry.parse_as(envelope, CommentAdded)
    workspace_id = envelope.workspace
    if workspace_id is None:
        return
    mine = await _settings(uow, workspace_id)
    if mine is not None and not mine.mail_on_comment:
        return
    private = comment.visibility != "public"
    author = str(comment.author_id) if comment.author_id else None
    audience = await _audience(uow, workspace_id, comment.item, private=private, exclude=author)
    if not audience:
        return
    body_html = sanitise_html(comment.body)
    context = await _context(uow, workspace_id, comment.item, mine)
    context.update(
        author=await _name(uow, workspace_id, author),
        body_html=body_html,
        body_text=html_to_text(body_html),
        private=private,
    )
    await _queue_all(
        uow,
        workspace_id,
        audience,
        "comment",
        f"comment:{comment.comment_id}",
        context,
        comment.item,
    )


async def on_status_changed(envelope: Envelope, uow: UnitOfWork) -> None:
    moved = registry.parse_as(envelope, ItemStatusChanged)
    workspace_id = envelope.workspace
    if workspace_id is None:
        return
    mine = await _settings(uow, workspace_id)
    if mine is not None and not mine.mail_on_status_change:
        return
    actor = _actor_user(envelope)
    audience = await _audience(uow, workspace_id, moved.item, private=False, exclude=actor)
    if not audience:
        return
    context = await _context(uow, workspace_id, moved.item, mine)
    context.update(status=moved.item.status_name, previous=moved.from_category.replace("_", " "))
    await _queue_all(
        uow, workspace_id, audience, "status", f"status:{envelope.id}", context, moved.item
    )


async def on_item_created(envelope: Envelope, uow: UnitOfWork) -> None:
    created = registry.parse_as(envelope, ItemCreated)
    workspace_id = envelope.workspace
    requester = created.item.requester_id
    if workspace_id is None or requester is None or created.channel not in ACKNOWLEDGED_CHANNELS:
        return
    mine = await _settings(uow, workspace_id)
    if mine is not None and not mine.acknowledge_requests:
        return
    person = await directory.person(uow.session, workspace_id, str(requester))
    if person is not None and not person.active:
        return
    if created.channel == "email" and envelope.causationid is not None:
        # The acknowledgement answers the mailed request (its References and In-Reply-To
        # name it): link the request to its ticket now, in the transaction that queues the
        # acknowledgement, rather than race the consumer that links it too.
        await inbound.link_item(
            uow.session, workspace_id, envelope.causationid, str(created.item.id)
        )
    context = await _context(uow, workspace_id, created.item, mine)
    context["recipient"] = (person.display_name if person else "") or "there"
    await _queue_all(
        uow,
        workspace_id,
        [str(requester)],
        "acknowledgement",
        f"ack:{created.item.id}",
        context,
        created.item,
    )


async def on_send_message(envelope: Envelope, uow: UnitOfWork) -> None:
    """The mail channel of a rule's message (the in-app channel is the feed's)."""
    command = registry.parse_as(envelope, SendMessage)
    if command.channel == "in_app":
        return
    workspace_id = str(command.workspace_id)
    private = command.visibility == "private"
    item = (
        await directory.item(uow.session, workspace_id, str(command.item_id))
        if command.item_id
        else None
    )
    audience = await message_audience(uow.session, workspace_id, command.recipients, item)
    user_ids, insiders_only = audience.user_ids, audience.insiders_only
    # An address nobody vouches for never gets private content.
    addresses = [] if private else audience.addresses
    people = await directory.people(uow.session, workspace_id, user_ids)
    allowed = [
        user_id
        for user_id in user_ids
        if (person := people.get(user_id)) is not None
        and person.active
        and (not (private or user_id in insiders_only) or person.kind in INSIDERS)
    ]
    mine = await _settings(uow, workspace_id)
    body_html = sanitise_html(command.body_html)
    context: dict[str, Any] = {
        "workspace": {"name": await _workspace_name(uow, workspace_id)},
        "branding": dict(mine.branding) if mine else {},
        "item": (
            {"number": item.number, "title": item.title, "status": item.status_name}
            if item is not None
            else None
        ),
        "subject": command.subject,
        "body_html": body_html,
        "body_text": html_to_text(body_html),
    }
    source = await _source(uow, workspace_id, "message")
    rendered = render_kind(source, "message", context)
    key = f"message:{envelope.id}"
    item_id = item.id if item is not None else None
    # --- preferences: a rule's message follows its recipients' choice for its kind ---
    allowed = await preferences.wanting_mail(uow.session, workspace_id, allowed, command.kind)
    for user_id in allowed:
        await queue_mail(
            uow,
            workspace_id=workspace_id,
            user_id=user_id,
            dedupe_key=key,
            kind=command.kind,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            item_id=item_id,
        )
    for address in dict.fromkeys(addresses):
        await queue_mail_to_address(
            uow,
            workspace_id=workspace_id,
            address=address,
            dedupe_key=key,
            kind=command.kind,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            item_id=item_id,
        )


ACTIONS = {
    "invite": "set your password and join",
    "claim": "claim your account",
    "password_reset": "choose a new password",
}


async def on_invitation_created(envelope: Envelope, uow: UnitOfWork) -> None:
    """Identity's single-use link (an invitation, a claim, a password reset), mailed to the
    address it was made for and to nobody else."""
    invitation = registry.parse_as(envelope, InvitationCreated)
    workspace_id = str(invitation.workspace_id)
    mine = await _settings(uow, workspace_id)
    person = await directory.person(uow.session, workspace_id, str(invitation.user_id))
    context: dict[str, Any] = {
        "workspace": {"name": await _workspace_name(uow, workspace_id)},
        "branding": dict(mine.branding) if mine else {},
        "item": None,
        "recipient": (person.display_name if person else "") or invitation.email,
        "purpose": invitation.purpose,
        "action": ACTIONS.get(invitation.purpose, "continue"),
        "accept_url": invitation.accept_url,
        "expires_at": invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
    }
    source = await _source(uow, workspace_id, "invitation")
    rendered = render_kind(source, "invitation", context)
    await queue_mail_to_address(
        uow,
        workspace_id=workspace_id,
        address=invitation.email,
        dedupe_key=f"invitation:{invitation.invitation_id}",
        kind="invitation",
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )


# --- shared ---------------------------------------------------------------------------------


async def _audience(
    uow: UnitOfWork, workspace_id: str, item: ItemSnapshot, *, private: bool, exclude: str | None
) -> list[str]:
    """The item's followers, the members of the teams assigned it (followers as the people
    assigned are) and the requester, less the author, less anyone who may not read it."""
    candidates = [str(f) for f in item.follower_ids]
    candidates += await directory.team_members(
        uow.session, workspace_id, [str(team) for team in item.assignee_team_ids]
    )
    if item.requester_id is not None:
        candidates.append(str(item.requester_id))
    candidates = [c for c in dict.fromkeys(candidates) if c != exclude]
    people = await directory.people(uow.session, workspace_id, candidates)
    return [user_id for user_id in candidates if _may_hear(people.get(user_id), private=private)]


def _may_hear(person: DirectoryPerson | None, *, private: bool) -> bool:
    if person is None:
        return not private  # public news may wait for the address; private never guesses
    if not person.active:
        return False
    return not private or person.kind in INSIDERS


async def _queue_all(
    uow: UnitOfWork,
    workspace_id: str,
    user_ids: Iterable[str],
    kind: str,
    key: str,
    context: dict[str, Any],
    item: ItemSnapshot,
) -> None:
    # --- preferences: followers who took this kind off mail get none ---
    if kind in FOLLOWER_KINDS:
        user_ids = await preferences.wanting_mail(uow.session, workspace_id, user_ids, kind)
    source = await _source(uow, workspace_id, kind)
    people = await directory.people(uow.session, workspace_id, user_ids)
    for user_id in user_ids:
        person = people.get(user_id)
        values = {
            **context,
            "recipient": context.get("recipient") or (person.display_name if person else ""),
        }
        rendered = render_kind(source, kind, values)
        await queue_mail(
            uow,
            workspace_id=workspace_id,
            user_id=user_id,
            dedupe_key=key,
            kind=kind,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            item_id=str(item.id),
        )


async def _context(
    uow: UnitOfWork, workspace_id: str, item: ItemSnapshot, mine: MailSettings | None
) -> dict[str, Any]:
    return {
        "workspace": {"name": await _workspace_name(uow, workspace_id)},
        "branding": dict(mine.branding) if mine else {},
        "item": {"number": item.number, "title": item.title, "status": item.status_name},
        "recipient": "",
    }


async def _settings(uow: UnitOfWork, workspace_id: str) -> MailSettings | None:
    """Asked once per transaction: the session keeps only rows still referenced, so each of
    a batch's deliveries would otherwise read the workspace's settings again."""
    key = ("mail-settings", workspace_id)
    if key not in uow.memo:
        uow.memo[key] = await uow.session.get(MailSettings, workspace_id)
    found: MailSettings | None = uow.memo[key]
    return found


async def _source(uow: UnitOfWork, workspace_id: str, kind: str) -> Source:
    own = await uow.session.get(MailTemplate, (workspace_id, kind))
    if own is None:
        return default_source(kind)
    return Source(own.subject, own.text, own.html)


async def _workspace_name(uow: UnitOfWork, workspace_id: str) -> str:
    workspace = await directory.workspace(uow.session, workspace_id)
    return workspace.name if workspace and workspace.name else "Deskline"


async def _name(uow: UnitOfWork, workspace_id: str, user_id: str | None) -> str:
    if user_id is None:
        return "Deskline"
    person = await directory.person(uow.session, workspace_id, user_id)
    return (person.display_name or person.email) if person else "Someone"


def _actor_user(envelope: Envelope) -> str | None:
    actor = envelope.actor or ""
    return actor.removeprefix("user:") if actor.startswith("user:") else None
