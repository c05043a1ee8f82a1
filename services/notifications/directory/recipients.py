"""Who a rule's message is for: one reading of `SendMessage.recipients`, shared by the mail
and the in-app halves so both reach the same people."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.notifications import MessageRecipient
from services.notifications.directory import repository
from services.notifications.models import DirectoryItem


@dataclass(frozen=True)
class MessageAudience:
    user_ids: list[str]
    """Everyone with an account to reach, each once, in the order they were named."""
    insiders_only: frozenset[str]
    """On the list only as the item's staff followers: reached only if staff or collaborator."""
    addresses: list[str]
    """Addresses that are nobody's account (never sent private content)."""


async def _role_members(session: AsyncSession, role: str, item: DirectoryItem) -> list[str]:
    if role == "requester":
        return [item.requester_id] if item.requester_id else []
    if role == "assignees":  # the people assigned and the members of the teams assigned
        members = await repository.team_members(session, item.workspace_id, item.assignee_team_ids)
        return list(dict.fromkeys([*item.assignee_ids, *members]))
    return list(item.follower_ids)  # followers, staff_followers (filtered by kind by callers)


async def message_audience(
    session: AsyncSession,
    workspace_id: str,
    recipients: Iterable[MessageRecipient],
    item: DirectoryItem | None,
) -> MessageAudience:
    named: dict[str, None] = {}
    insiders: dict[str, None] = {}
    addresses: list[str] = []
    for recipient in recipients:
        if recipient.user_id is not None:
            named[str(recipient.user_id)] = None
        elif recipient.email:
            known = await repository.person_by_email(session, workspace_id, recipient.email)
            if known is not None:
                named[known.id] = None
            elif recipient.email.lower() not in addresses:
                addresses.append(recipient.email.lower())
        elif recipient.role is not None and item is not None:
            target = insiders if recipient.role == "staff_followers" else named
            target.update(dict.fromkeys(await _role_members(session, recipient.role, item)))
    # Someone also named on their own is reached as named, not only as a staff follower.
    insiders_only = [user_id for user_id in insiders if user_id not in named]
    return MessageAudience(
        user_ids=[*named, *insiders_only],
        insiders_only=frozenset(insiders_only),
        addresses=addresses,
    )
