"""Queries on the people and teams projections; every read is scoped to a workspace."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db.upsert import insert_for
from services.tickets.models import (
    Attachment,
    Comment,
    Follower,
    Item,
    Person,
    PersonAlias,
    Team,
    TeamMember,
)


async def person(session: AsyncSession, workspace_id: str, user_id: str) -> Person | None:
    result = await session.execute(
        select(Person).where(Person.workspace_id == workspace_id, Person.id == user_id)
    )
    return result.scalar_one_or_none()


async def people(
    session: AsyncSession, workspace_id: str, user_ids: Collection[str]
) -> list[Person]:
    if not user_ids:
        return []
    result = await session.execute(
        select(Person).where(Person.workspace_id == workspace_id, Person.id.in_(sorted(user_ids)))
    )
    return list(result.scalars())


async def locked_or_placeholder(session: AsyncSession, workspace_id: str, user_id: str) -> Person:
    """The person's row, locked for this transaction; a placeholder is inserted first when the
    projection has never heard of them (an update that overtook the creation).

    INSERT … ON CONFLICT DO NOTHING then SELECT … FOR UPDATE: two consumers handling events of
    the same person concurrently serialise on the row instead of racing a read-then-write.
    The placeholder is a client and a member until told otherwise: the least trusted kind
    and the lesser role.
    """
    row: dict[str, object] = {
        "id": user_id,
        "workspace_id": workspace_id,
        "email": "",
        "display_name": "",
        "kind": "client",
        "client_organisation_id": None,
        "workspace_role": "member",
        "active": True,
        "field_times": {},
    }
    await _insert_if_absent(session, Person, row)
    result = await session.execute(
        select(Person)
        .where(Person.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def teams_of(session: AsyncSession, workspace_id: str, user_id: str) -> tuple[str, ...]:
    """The teams the person belongs to, sorted (deleted teams have no members left)."""
    rows = await session.scalars(
        select(TeamMember.team_id)
        .where(TeamMember.workspace_id == workspace_id, TeamMember.member_id == user_id)
        .order_by(TeamMember.team_id)
    )
    return tuple(rows)


async def locked_team(session: AsyncSession, workspace_id: str, team_id: str) -> Team:
    """The team's row, locked for this transaction, inserted first (never written: no time)
    when unknown; as `locked_or_placeholder`, so events of one team handled concurrently
    serialise on it."""
    row: dict[str, object] = {
        "id": team_id,
        "workspace_id": workspace_id,
        "deleted": False,
        "changed_at": None,
    }
    await _insert_if_absent(session, Team, row)
    result = await session.execute(
        select(Team)
        .where(Team.id == team_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def team_member_ids(session: AsyncSession, team_id: str) -> frozenset[str]:
    rows = await session.scalars(select(TeamMember.member_id).where(TeamMember.team_id == team_id))
    return frozenset(rows)


async def replace_team_members(
    session: AsyncSession, workspace_id: str, team_id: str, member_ids: Collection[str]
) -> None:
    await session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
    if member_ids:
        await session.execute(
            insert(TeamMember),
            [
                {"team_id": team_id, "member_id": member, "workspace_id": workspace_id}
                for member in sorted(member_ids)
            ],
        )


async def _insert_if_absent(
    session: AsyncSession, model: type[Person] | type[Team], row: dict[str, object]
) -> None:
    await session.execute(insert_for(session, model).values(row).on_conflict_do_nothing())


async def remember_alias(
    session: AsyncSession, workspace_id: str, alias_id: str, user_id: str
) -> None:
    await session.execute(
        insert_for(session, PersonAlias)
        .values(alias_id=alias_id, workspace_id=workspace_id, user_id=user_id)
        .on_conflict_do_nothing()
    )


async def real_id(session: AsyncSession, workspace_id: str, user_id: str) -> str:
    """`user_id`, or the person it turned out to be (see `PersonAlias`)."""
    found = await session.scalar(
        select(PersonAlias.user_id).where(
            PersonAlias.workspace_id == workspace_id, PersonAlias.alias_id == user_id
        )
    )
    return found or user_id


async def move_references(
    session: AsyncSession, workspace_id: str, from_id: str, to_id: str
) -> list[str]:
    """Everything that names `from_id` as a person names `to_id` instead (requester,
    follower, comment author, uploader); a follower already following keeps one row. The
    ids of the items whose requester moved."""
    moved = await session.execute(
        update(Item)
        .where(Item.workspace_id == workspace_id, Item.requester_id == from_id)
        .values(requester_id=to_id)
        .returning(Item.id)
    )
    item_ids = list(moved.scalars())
    followed = select(Follower.item_id, literal(to_id), Follower.workspace_id).where(
        Follower.workspace_id == workspace_id, Follower.user_id == from_id
    )
    await session.execute(
        insert_for(session, Follower)
        .from_select(["item_id", "user_id", "workspace_id"], followed)
        .on_conflict_do_nothing()
    )
    await session.execute(
        delete(Follower).where(Follower.workspace_id == workspace_id, Follower.user_id == from_id)
    )
    for column in (Comment.author_id, Attachment.uploaded_by):
        table = column.class_
        await session.execute(
            update(table)
            .where(table.workspace_id == workspace_id, column == from_id)
            .values({column.key: to_id})
        )
    await session.execute(
        delete(Person).where(Person.workspace_id == workspace_id, Person.id == from_id)
    )
    return item_ids
