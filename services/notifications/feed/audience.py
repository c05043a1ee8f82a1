"""Who may be told what: the people behind the ids an event names, as the directory knows them.

Private content (private notes, private messages) reaches staff and collaborators only: a
person the directory does not know yet, or knows as a client, is left out — when unsure,
the private note stays private. Deactivated people are told nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kit.access import ItemFacts, can_on_item
from kit.auth import Principal, UserKind
from services.notifications.directory import repository as directory
from services.notifications.models import DirectoryPerson

INSIDERS = ("staff", "collaborator")


@dataclass(frozen=True)
class People:
    known: dict[str, DirectoryPerson]

    def name(self, user_id: str | None, fallback: str = "Someone") -> str:
        person = self.known.get(user_id or "")
        return (person.display_name or person.email) if person else fallback

    def reachable(self, user_ids: Iterable[str], *, private: bool) -> list[str]:
        """The ids that may be told: active, and insiders when the content is private."""
        chosen: list[str] = []
        for user_id in user_ids:
            person = self.known.get(user_id)
            if person is not None and not person.active:
                continue
            if private and (person is None or person.kind not in INSIDERS):
                continue
            chosen.append(user_id)
        return chosen

    def insiders(self, user_ids: Iterable[str]) -> list[str]:
        return self.reachable(user_ids, private=True)


async def people(session: AsyncSession, workspace_id: str, user_ids: Iterable[str]) -> People:
    return People(await directory.people(session, workspace_id, [u for u in user_ids if u]))


async def by_addresses(
    session: AsyncSession, workspace_id: str, addresses: Collection[str]
) -> list[str]:
    found: list[str] = []
    for address in addresses:
        person = await directory.person_by_email(session, workspace_id, address)
        if person is not None and person.id not in found:
            found.append(person.id)
    return found


MENTION_TIERS = ("handle", "name_key", "first_name")
"""What a mention's name is compared with, in order: the address's local part, the dotted
display name, its first word. The first that anyone has decides; it must be one person."""


async def by_names(session: AsyncSession, workspace_id: str, names: Collection[str]) -> list[str]:
    """The people the mentioned names mean, each once, in mention order. A name that is
    several people's (in the tier that decides) or nobody's mentions nobody: a wrong guess
    would tell someone of an item that is not for them."""
    candidates = await directory.people_named(session, workspace_id, names)
    found: list[str] = []
    for name in names:
        for tier in MENTION_TIERS:
            matching = {p.id for p in candidates if getattr(p, tier) == name}
            if matching:
                if len(matching) == 1 and (only := matching.pop()) not in found:
                    found.append(only)
                break
    return found


async def may_see_item(
    session: AsyncSession, person: DirectoryPerson | None, item: ItemFacts
) -> bool:
    """Could this person open the item? Checked with the same rules as every API (grants
    projection, client visibility, the person's teams' grants), for people an event names
    without the item naming them (a mention). The directory does not know workspace roles,
    so an admin without a grant of their own (or a team's) is not reached this way."""
    if person is None or not person.active or person.kind not in (*INSIDERS, "client"):
        return False
    kind: UserKind = (
        "client"
        if person.kind == "client"
        else ("staff" if person.kind == "staff" else "collaborator")
    )
    principal = Principal(
        subject=person.id,
        workspace_id=person.workspace_id,
        kind=kind,
        client_organisation_id=person.client_organisation_id,
        teams=await directory.teams_of(session, person.workspace_id, person.id),
    )
    return await can_on_item(session, principal, "view", item)
