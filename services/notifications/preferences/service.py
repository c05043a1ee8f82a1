"""What each person wants, and the one question every sender asks: through which channels
does this person get this kind of notice?

Only choices that differ from a kind's default are stored, so a new kind (or a changed
default) applies to everyone who has not decided otherwise.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal
from kit.uow import UnitOfWork
from services.notifications.models import NotificationPreference
from services.notifications.preferences import repository
from services.notifications.preferences.schemas import (
    Channel,
    KindPreference,
    Preferences,
    PreferencesUpdate,
)
from services.notifications.settings import get_settings

Delivery = Literal["mail", "in_app"]


@dataclass(frozen=True)
class KindInfo:
    description: str
    default: Channel = "both"
    noisy: bool = False
    mailed_at_once: bool = False
    """Mail-out mails these itself as they happen (follower mail), so the feed never forwards
    them: `both` means a notice in the app and that mail."""


KINDS: Mapping[str, KindInfo] = {
    "mention": KindInfo("Someone mentioned you in a comment."),
    "assigned": KindInfo("You were assigned an item."),
    "comment": KindInfo("A comment on an item you follow.", mailed_at_once=True),
    "status": KindInfo("An item you follow changed status.", mailed_at_once=True),
    "access_requested": KindInfo("Someone asks for access to a project you manage."),
    "access_granted": KindInfo("A project was shared with you.", default="in_app", noisy=True),
    "sla_warning": KindInfo("An item assigned to you is close to missing its SLA."),
    "sla_breached": KindInfo("An item assigned to you missed its SLA."),
    "endpoint_disabled": KindInfo("A webhook endpoint you own was switched off."),
    "rule": KindInfo("A message from an automation rule."),
}

_DELIVERIES: Mapping[Channel, frozenset[Delivery]] = {
    "both": frozenset({"mail", "in_app"}),
    "in_app": frozenset({"in_app"}),
    "mail": frozenset({"mail"}),
    "off": frozenset(),
}


def default_channel(kind: str) -> Channel:
    info = KINDS.get(kind)
    return info.default if info else "both"


def mailed_at_once(kind: str) -> bool:
    info = KINDS.get(kind)
    return info is not None and info.mailed_at_once


@dataclass(frozen=True)
class Choice:
    """One person's settings for one kind."""

    channels: frozenset[Delivery]
    forward_after_minutes: int


def _choice(row: NotificationPreference | None, kind: str) -> Choice:
    stored = dict(row.channels) if row else {}
    channel: Channel = _as_channel(stored.get(kind), default_channel(kind))
    minutes = (row.forward_after_minutes if row else None) or _default_forward_minutes()
    return Choice(_DELIVERIES[channel], minutes)


async def channels_for(
    session: AsyncSession, workspace_id: str, user_id: str, kind: str
) -> frozenset[Delivery]:
    """How `user_id` gets notices of `kind`: a subset of {"mail", "in_app"}; empty when muted.

    Mail-out asks this before mailing a follower; the feed before adding a notice."""
    return _choice(await repository.of(session, workspace_id, user_id), kind).channels


async def choices_for(
    session: AsyncSession, workspace_id: str, user_ids: Collection[str], kind: str
) -> dict[str, Choice]:
    """`channels_for` and the forwarding delay of many people at once (one query)."""
    rows = await repository.of_many(session, workspace_id, user_ids)
    return {user_id: _choice(rows.get(user_id), kind) for user_id in user_ids}


async def read(uow: UnitOfWork, principal: Principal) -> Preferences:
    row = await repository.of(uow.session, principal.workspace_id, principal.subject)
    return _view(row)


async def update(uow: UnitOfWork, principal: Principal, body: PreferencesUpdate) -> Preferences:
    row = await repository.locked(
        uow.session, principal.workspace_id, principal.subject, datetime.now(UTC)
    )
    channels = dict(row.channels)
    for kind, channel in body.channels.items():
        if channel == default_channel(kind):
            channels.pop(kind, None)
        else:
            channels[kind] = channel
    row.channels = channels  # a new dict, so the JSON column is seen as changed
    if "forward_after_minutes" in body.model_fields_set:
        row.forward_after_minutes = body.forward_after_minutes
    row.updated_at = datetime.now(UTC)
    await uow.session.flush()
    return _view(row)


def _view(row: NotificationPreference | None) -> Preferences:
    stored = dict(row.channels) if row else {}
    kinds = [*KINDS, *sorted(kind for kind in stored if kind not in KINDS)]
    minutes = row.forward_after_minutes if row else None
    return Preferences(
        channels=[
            KindPreference(
                kind=kind,
                channel=_as_channel(stored.get(kind), default_channel(kind)),
                default=default_channel(kind),
                noisy=KINDS[kind].noisy if kind in KINDS else False,
                description=KINDS[kind].description if kind in KINDS else "",
            )
            for kind in kinds
        ],
        forward_after_minutes=minutes or _default_forward_minutes(),
        forward_after_minutes_is_default=minutes is None,
    )


def _as_channel(value: object, default: Channel) -> Channel:
    for channel in _DELIVERIES:
        if value == channel:
            return channel
    return default


def _default_forward_minutes() -> int:
    return get_settings().feed_forward_after_minutes


async def wanting_mail(
    session: AsyncSession, workspace_id: str, user_ids: Iterable[str], kind: str
) -> list[str]:
    """Of these people, those who take `kind` by mail (in the given order): what mail-out asks
    before mailing followers or a rule's recipients."""
    wanted = list(dict.fromkeys(user_ids))
    choices = await choices_for(session, workspace_id, wanted, kind)
    return [user_id for user_id in wanted if "mail" in choices[user_id].channels]
