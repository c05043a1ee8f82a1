"""Teams through the real identity, tickets and bus: an item assigned to a team tells each
member (not the one who assigned it) in the feed, and the members are mailed the item's
conversation as followers are."""

from __future__ import annotations

from sqlalchemy import select

from services.notifications.models import DirectoryTeamMember, FeedNotification
from tests.conftest import eventually
from tests.notifications.conftest import MailSystem, Tenant
from tests.notifications.test_mail_out import bodies, comment, new_item


async def make_team(system: MailSystem, tenant: Tenant, name: str, members: list[str]) -> str:
    created = await system.client.post(
        f"{system.base}/identity/teams",
        headers=tenant.auth,
        json={"name": name, "member_ids": members},
    )
    assert created.status_code == 201, created.text
    team_id = str(created.json()["id"])

    async def projected() -> bool:
        async with system.runtime("notifications").session_factory() as session:
            rows = await session.scalars(
                select(DirectoryTeamMember.user_id).where(DirectoryTeamMember.team_id == team_id)
            )
            return sorted(rows) == sorted(members)

    await eventually(projected, timeout=30)
    return team_id


async def notices(system: MailSystem, tenant: Tenant, item_id: str) -> list[FeedNotification]:
    async with system.runtime("notifications").session_factory() as session:
        rows = await session.scalars(
            select(FeedNotification).where(
                FeedNotification.workspace_id == tenant.workspace_id,
                FeedNotification.item_id == item_id,
            )
        )
        return list(rows)


async def test_a_team_assigned_an_item_hears_of_it_and_follows_its_conversation(
    mail_system: MailSystem,
) -> None:
    system = mail_system
    tenant = await system.sign_up()
    sam, tom = f"sam@{tenant.slug}.test", f"tom@{tenant.slug}.test"
    sam_id = await system.invite(tenant, sam, "staff")
    tom_id = await system.invite(tenant, tom, "staff")
    team_id = await make_team(system, tenant, "Design", [sam_id, tom_id, tenant.admin_id])
    item = await new_item(system, tenant, "Autumn poster")

    assigned = await system.client.put(
        f"{system.base}/tickets/items/{item['id']}/assignees",
        headers=tenant.auth,
        json={"assignees": [{"type": "team", "id": team_id}]},
    )
    assert assigned.status_code == 200, assigned.text

    async def told() -> bool:
        return len(await notices(system, tenant, item["id"])) == 2

    await eventually(told, timeout=30)
    rows = await notices(system, tenant, item["id"])
    assert sorted(r.recipient_id for r in rows) == sorted([sam_id, tom_id])  # not the admin
    assert {r.title for r in rows} == {
        f"Ada Admin assigned #{item['number']} Autumn poster to your team Design"
    }

    # Nobody follows the item in person, yet the team's members get its conversation.
    await comment(system, tenant, item["id"], "<p>Use the new palette.</p>")

    async def mailed() -> bool:
        return all(any("Use the new palette." in b for b in bodies(system, a)) for a in (sam, tom))

    await eventually(mailed, timeout=60)
    admin_mail = [
        m for m in await system.outgoing(tenant.workspace_id) if m.user_id == tenant.admin_id
    ]
    assert admin_mail == []  # the author is not mailed their own comment
