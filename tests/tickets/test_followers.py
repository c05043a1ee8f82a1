"""Making someone else follow an item: they must be able to see it as their own token would
let them (a team grant on the project, workspace admin powers), which the service rebuilds
from its projection of identity's users and teams."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from contracts import Envelope
from contracts.identity import UserUpdated
from tests.conftest import eventually
from tests.tickets.conftest import TicketsApp, User, Workspace
from tests.tickets.test_items import create


async def make_follow(tickets: TicketsApp, ws: Workspace, item_id: str, user: User) -> int:
    """The status of the admin adding `user` as follower; 422 must say why."""
    response = await tickets.put(f"/items/{item_id}/followers/{user.id}", ws.admin_token)
    if response.status_code == 422:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("cannot-see-item"), response.text
    else:
        assert response.status_code == 200, response.text
        assert user.id in response.json()["follower_ids"]
    return response.status_code


async def test_a_team_granted_member_may_follow_until_they_leave_the_team(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    mate, other = await tickets.add_user(ws.id), await tickets.add_user(ws.id)
    team_id = str(uuid.uuid4())
    item = await create(tickets, ws.admin_token, ws.support_project_id)
    assert await make_follow(tickets, ws, item["id"], mate) == 422, "no grant yet"

    await tickets.set_team(ws.id, team_id, [mate.id, other.id])
    await tickets.grant(ws.id, ws.support_project_id, team_id, "viewer", subject_type="team")
    assert await make_follow(tickets, ws, item["id"], mate) == 200

    await tickets.set_team(ws.id, team_id, [other.id])
    unfollowed = await tickets.delete(f"/items/{item['id']}/followers/{mate.id}", ws.admin_token)
    assert mate.id not in unfollowed.json()["follower_ids"]
    assert await make_follow(tickets, ws, item["id"], mate) == 422, "left the team"
    assert await make_follow(tickets, ws, item["id"], other) == 200

    await tickets.set_team(ws.id, team_id, [other.id], deleted=True)
    later = await create(tickets, ws.admin_token, ws.support_project_id)
    assert await make_follow(tickets, ws, later["id"], other) == 422, "the team is gone"


async def test_a_workspace_admin_may_follow_without_any_grant(tickets: TicketsApp) -> None:
    ws = await tickets.new_workspace()
    admin = await tickets.add_user(ws.id, role="admin")
    member = await tickets.add_user(ws.id)
    project = (await tickets.post("/projects", ws.admin_token, json={"name": "Spring"})).json()
    item = await create(tickets, ws.admin_token, project["id"])
    assert await make_follow(tickets, ws, item["id"], admin) == 200
    assert await make_follow(tickets, ws, item["id"], member) == 422

    # promoted by a later update: the role is projected field-wise like the rest
    await tickets.emit(
        UserUpdated(
            user_id=uuid.UUID(member.id),
            workspace_id=uuid.UUID(ws.id),
            changes={"workspace_role": "admin"},
        ),
        ws.id,
        f"user/{member.id}",
    )

    async def promoted() -> bool:
        found = await tickets.person(member.id)
        return found is not None and found.workspace_role == "admin"

    await eventually(promoted, timeout=10)
    assert await make_follow(tickets, ws, item["id"], member) == 200


async def test_an_older_team_event_arriving_late_leaves_the_newer_membership(
    tickets: TicketsApp,
) -> None:
    ws = await tickets.new_workspace()
    first, second = await tickets.add_user(ws.id), await tickets.add_user(ws.id)
    team_id = str(uuid.uuid4())
    t0 = datetime.now(UTC)

    def stamped(members: list[str], seconds: int, *, deleted: bool = False) -> Envelope:
        """A distinct event (its own id, so the inbox does not drop it) stamped t0 + seconds."""
        event = tickets.team_event(ws.id, team_id, members, deleted=deleted)
        return event.model_copy(update={"time": t0 + timedelta(seconds=seconds)})

    older, newer = stamped([first.id], 0), stamped([second.id], 1)
    await tickets.publish(newer)

    async def newer_projected() -> bool:
        return await tickets.team_members(team_id) == {second.id}

    await eventually(newer_projected, timeout=10)
    await tickets.publish(older)
    await tickets.settle()
    assert await tickets.team_members(team_id) == {second.id}
    assert await tickets.teams_of(ws.id, first.id) == ()
    assert await tickets.teams_of(ws.id, second.id) == (team_id,)

    await tickets.grant(ws.id, ws.support_project_id, team_id, "viewer", subject_type="team")
    item = await create(tickets, ws.admin_token, ws.support_project_id)
    assert await make_follow(tickets, ws, item["id"], first) == 422
    assert await make_follow(tickets, ws, item["id"], second) == 200

    # a deletion is final for older events: they cannot bring the members back
    await tickets.publish(stamped([], 2, deleted=True))

    async def emptied() -> bool:
        return await tickets.team_members(team_id) == frozenset()

    await eventually(emptied, timeout=10)
    await tickets.publish(stamped([second.id], 1))
    await tickets.publish(stamped([first.id], 0))
    await tickets.settle()
    assert await tickets.teams_of(ws.id, second.id) == ()


async def test_a_team_id_of_another_workspace_is_never_rewritten(tickets: TicketsApp) -> None:
    a, b = await tickets.new_workspace(), await tickets.new_workspace()
    member, intruder = await tickets.add_user(a.id), await tickets.add_user(b.id)
    team_id = str(uuid.uuid4())
    await tickets.set_team(a.id, team_id, [member.id])
    await tickets.publish(tickets.team_event(b.id, team_id, [intruder.id]))
    await tickets.settle()
    assert await tickets.team_members(team_id) == {member.id}
    assert await tickets.teams_of(b.id, intruder.id) == ()
