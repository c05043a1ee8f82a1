"""Reads and writes of the directory. Every write is one INSERT … ON CONFLICT, so two
consumers handling events of the same row never race a read-then-write; a conflict update
only touches a row of the same workspace."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db.upsert import insert_for
from services.notifications.models import (
    DirectoryItem,
    DirectoryPerson,
    DirectoryProject,
    DirectoryTeam,
    DirectoryTeamMember,
    DirectoryWorkspace,
)

Row = DirectoryItem | DirectoryPerson | DirectoryProject


async def workspace(session: AsyncSession, workspace_id: str) -> DirectoryWorkspace | None:
    return await session.get(DirectoryWorkspace, workspace_id)


async def workspace_by_slug(session: AsyncSession, slug: str) -> DirectoryWorkspace | None:
    return await session.scalar(
        select(DirectoryWorkspace).where(DirectoryWorkspace.slug == slug).limit(1)
    )


async def person(session: AsyncSession, workspace_id: str, user_id: str) -> DirectoryPerson | None:
    return await session.scalar(
        select(DirectoryPerson).where(
            DirectoryPerson.workspace_id == workspace_id, DirectoryPerson.id == user_id
        )
    )


async def people(
    session: AsyncSession, workspace_id: str, user_ids: Iterable[str]
) -> dict[str, DirectoryPerson]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = await session.scalars(
        select(DirectoryPerson).where(
            DirectoryPerson.workspace_id == workspace_id, DirectoryPerson.id.in_(ids)
        )
    )
    return {row.id: row for row in rows}


async def person_by_email(
    session: AsyncSession, workspace_id: str, email: str
) -> DirectoryPerson | None:
    """Addresses are compared case-insensitively (they are stored lower-cased)."""
    return await session.scalar(
        select(DirectoryPerson)
        .where(DirectoryPerson.workspace_id == workspace_id, DirectoryPerson.email == email.lower())
        .order_by(DirectoryPerson.id)
        .limit(1)
    )


async def people_by_email(
    session: AsyncSession, workspace_id: str, emails: Collection[str]
) -> dict[str, DirectoryPerson]:
    """`person_by_email` for several addresses at once (the same person where an address
    has several rows), by lower-cased address."""
    wanted = sorted({email.lower() for email in emails})
    if not wanted:
        return {}
    rows = await session.scalars(
        select(DirectoryPerson)
        .where(DirectoryPerson.workspace_id == workspace_id, DirectoryPerson.email.in_(wanted))
        .order_by(DirectoryPerson.id.desc())
    )
    return {person.email: person for person in rows}  # the lowest id wins, as there


async def people_named(
    session: AsyncSession, workspace_id: str, keys: Collection[str]
) -> list[DirectoryPerson]:
    """Active people any of whose mention names (handle, dotted name, first name) is one of
    `keys` (folded as `service.fold` does)."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    rows = await session.scalars(
        select(DirectoryPerson)
        .where(
            DirectoryPerson.workspace_id == workspace_id,
            DirectoryPerson.active.is_(True),
            or_(
                DirectoryPerson.handle.in_(wanted),
                DirectoryPerson.name_key.in_(wanted),
                DirectoryPerson.first_name.in_(wanted),
            ),
        )
        .order_by(DirectoryPerson.id)
    )
    return list(rows)


async def team_members(
    session: AsyncSession, workspace_id: str, team_ids: Iterable[str]
) -> list[str]:
    """The members of these teams, each once, in a stable order (deleted teams have none),
    less clients: a team is how staff and collaborators share work, and a client reaches an
    item as its requester, a follower or through their organisation, never through a team
    (tickets grants them nothing for it), so a team must not carry its news to them."""
    ids = sorted(set(team_ids))
    if not ids:
        return []
    rows = await session.scalars(
        select(DirectoryTeamMember.user_id)
        .outerjoin(
            DirectoryPerson,
            (DirectoryPerson.id == DirectoryTeamMember.user_id)
            & (DirectoryPerson.workspace_id == DirectoryTeamMember.workspace_id),
        )
        .where(
            DirectoryTeamMember.workspace_id == workspace_id,
            DirectoryTeamMember.team_id.in_(ids),
            or_(DirectoryPerson.kind.is_(None), DirectoryPerson.kind != "client"),
        )
        .distinct()
        .order_by(DirectoryTeamMember.user_id)
    )
    return list(rows)


async def teams(
    session: AsyncSession, workspace_id: str, team_ids: Iterable[str]
) -> dict[str, str]:
    """Names of these teams (live ones), by id."""
    ids = sorted(set(team_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(DirectoryTeam.id, DirectoryTeam.name).where(
            DirectoryTeam.workspace_id == workspace_id,
            DirectoryTeam.id.in_(ids),
            DirectoryTeam.deleted.is_(False),
        )
    )
    return {row.id: row.name for row in rows}


async def teams_of(session: AsyncSession, workspace_id: str, user_id: str) -> tuple[str, ...]:
    rows = await session.scalars(
        select(DirectoryTeamMember.team_id)
        .where(
            DirectoryTeamMember.workspace_id == workspace_id, DirectoryTeamMember.user_id == user_id
        )
        .order_by(DirectoryTeamMember.team_id)
    )
    return tuple(rows)


async def project_by_key(
    session: AsyncSession, workspace_id: str, mail_key: str
) -> DirectoryProject | None:
    return await session.scalar(
        select(DirectoryProject)
        .where(
            DirectoryProject.workspace_id == workspace_id,
            DirectoryProject.mail_key == mail_key,
            DirectoryProject.archived.is_(False),
        )
        .order_by(DirectoryProject.id)
        .limit(1)
    )


async def item(session: AsyncSession, workspace_id: str, item_id: str) -> DirectoryItem | None:
    return await session.scalar(
        select(DirectoryItem).where(
            DirectoryItem.workspace_id == workspace_id, DirectoryItem.id == item_id
        )
    )


async def item_by_number(
    session: AsyncSession, workspace_id: str, number: int
) -> DirectoryItem | None:
    return await session.scalar(
        select(DirectoryItem).where(
            DirectoryItem.workspace_id == workspace_id,
            DirectoryItem.number == number,
            DirectoryItem.deleted.is_(False),
        )
    )


# --- writes ---------------------------------------------------------------------------------


async def save_workspace(
    session: AsyncSession, row: Mapping[str, Any], update: Sequence[str]
) -> None:
    await _upsert(session, DirectoryWorkspace, row, update, fenced=False)


async def save(
    session: AsyncSession, model: type[Row], row: Mapping[str, Any], update: Sequence[str]
) -> None:
    """Insert `row`, or overwrite the `update` columns of the existing row of its workspace
    (nothing, for an empty `update`: a creation that arrives after a change)."""
    await _upsert(session, model, row, update, fenced=True)


async def forget_person(session: AsyncSession, workspace_id: str, user_id: str) -> None:
    await session.execute(
        delete(DirectoryPerson).where(
            DirectoryPerson.workspace_id == workspace_id, DirectoryPerson.id == user_id
        )
    )


async def insert_new(
    session: AsyncSession, model: type[Row], rows: Sequence[Mapping[str, Any]]
) -> None:
    """`save` with no columns to overwrite, for several rows in one statement (rows of the
    same shape): each is inserted unless its id exists."""
    if rows:
        stmt = insert_for(session, model).values([dict(row) for row in rows])
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))


async def fill_blanks(
    session: AsyncSession, model: type[Row], row: Mapping[str, Any], columns: Sequence[str]
) -> None:
    """Insert `row`, or fill only the text columns the existing row still holds blank."""
    table = model.__table__
    stmt = insert_for(session, model).values(dict(row))
    values = {
        name: func.coalesce(func.nullif(table.c[name], ""), stmt.excluded[name]) for name in columns
    }
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"],
            set_=values,
            where=table.c.workspace_id == stmt.excluded.workspace_id,
        )
    )


async def save_team(session: AsyncSession, row: Mapping[str, Any]) -> bool:
    """Write a team's state unless the copy holds a later one; returns whether it was written
    (its members are then to be replaced too)."""
    table = DirectoryTeam.__table__
    stmt = insert_for(session, DirectoryTeam).values(dict(row))
    result = await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={name: stmt.excluded[name] for name in ("name", "deleted", "changed_at")},
            where=(table.c.workspace_id == stmt.excluded.workspace_id)
            & (table.c.changed_at <= stmt.excluded.changed_at),
        ).returning(table.c.id)
    )
    return result.first() is not None


async def team_state(
    session: AsyncSession, workspace_id: str, team_id: str
) -> tuple[DirectoryTeam, frozenset[str]] | None:
    """The team's copy and every member of it (clients too), for a state stamped alike."""
    team = await session.get(DirectoryTeam, team_id)
    if team is None or team.workspace_id != workspace_id:
        return None
    members = await session.scalars(
        select(DirectoryTeamMember.user_id).where(
            DirectoryTeamMember.workspace_id == workspace_id, DirectoryTeamMember.team_id == team_id
        )
    )
    return team, frozenset(members)


async def replace_team_members(
    session: AsyncSession, workspace_id: str, team_id: str, user_ids: Sequence[str]
) -> None:
    await session.execute(
        delete(DirectoryTeamMember).where(
            DirectoryTeamMember.workspace_id == workspace_id, DirectoryTeamMember.team_id == team_id
        )
    )
    if user_ids:
        await session.execute(
            insert_for(session, DirectoryTeamMember).values(
                [{"team_id": team_id, "user_id": u, "workspace_id": workspace_id} for u in user_ids]
            )
        )


async def _upsert(
    session: AsyncSession,
    model: type[Any],
    row: Mapping[str, Any],
    update: Sequence[str],
    *,
    fenced: bool,
) -> None:
    stmt = insert_for(session, model).values(dict(row))
    if not update:
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))
        return
    where = model.__table__.c.workspace_id == stmt.excluded.workspace_id if fenced else None
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={name: stmt.excluded[name] for name in update},
            where=where,
        )
    )
