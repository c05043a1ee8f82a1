"""The projections of tickets' and identity's events end in the same state whatever order the
events arrive in (a retried delivery lets later ones overtake it), and never cross tenants."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from contracts import EventData
from contracts.identity import (
    ClientOrganisationCreated,
    ClientOrganisationUpdated,
    UserCreated,
    UserDeactivated,
    UserUpdated,
)
from contracts.tickets import (
    ItemConverted,
    ItemCreated,
    ItemDeleted,
    ItemStatusChanged,
    ItemUpdated,
    ProjectCreated,
    ProjectUpdated,
)
from services.timetracking.models import ItemRef, OrganisationRef, PersonRef, ProjectRef
from tests.timetracking.conftest import TimetrackingApp, item_snapshot, new_id


async def settle(app: TimetrackingApp, workspace_id: str) -> None:
    """Return once every event published before has been handled: each projection consumer
    handles its queue in order, so a fresh entity through each of them marks the end."""
    marker = await app.add_organisation(workspace_id, "marker")
    project = await app.add_project(workspace_id, "marker", marker)
    await app.add_item(workspace_id, project)
    await app.add_user(workspace_id)


async def deliver(
    app: TimetrackingApp, workspace_id: str, events: Sequence[EventData], subject: str
) -> None:
    for data in events:
        await app.emit(data, workspace_id, subject)
    await settle(app, workspace_id)


def orders(events: Sequence[EventData]) -> list[tuple[EventData, ...]]:
    return list(itertools.permutations(events))


def values(row: Any, *names: str) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in names)


async def test_items_end_alike_in_every_order(timetracking: TimetrackingApp) -> None:
    ws = await timetracking.new_workspace()
    project, organisation = new_id(), new_id()
    for order in range(24):
        item_id = new_id()
        created = item_snapshot(item_id, project, title="Draft", estimate_minutes=60)
        later = item_snapshot(
            item_id,
            project,
            title="Spring banner",
            status_category="in_progress",
            estimate_minutes=120,
            requester_organisation_id=organisation,
            kind="ticket",
        )
        events: list[EventData] = [
            ItemCreated(item=created),
            ItemUpdated(item=later, changes={}),
            ItemStatusChanged(
                item=later,
                from_status_id=created.status_id,
                from_category="new",
                to_status_id=later.status_id,
                to_category="in_progress",
            ),
            ItemConverted(item=later, from_type_id=created.type_id, from_kind="task"),
        ]
        await deliver(timetracking, ws.id, orders(events)[order], f"item/{item_id}")
        row = await timetracking.row(ItemRef, item_id)
        assert values(
            row,
            "title",
            "status_category",
            "estimate_minutes",
            "requester_organisation_id",
            "kind",
            "deleted",
        ) == ("Spring banner", "in_progress", 120, organisation, "ticket", False), order


@pytest.mark.parametrize("order", range(6))
async def test_a_deletion_sticks_whatever_comes_after_it(
    timetracking: TimetrackingApp, order: int
) -> None:
    ws = await timetracking.new_workspace()
    item_id, project = new_id(), new_id()
    created = item_snapshot(item_id, project, title="Old")
    last = item_snapshot(item_id, project, title="New", status_category="open")
    events: list[EventData] = [
        ItemCreated(item=created),
        ItemUpdated(item=last, changes={}),
        ItemDeleted(item=last),
    ]
    await deliver(timetracking, ws.id, orders(events)[order], f"item/{item_id}")
    row = await timetracking.row(ItemRef, item_id)
    assert values(row, "title", "status_category", "deleted") == ("New", "open", True)


async def test_people_end_alike_in_every_order(timetracking: TimetrackingApp) -> None:
    ws = await timetracking.new_workspace()
    workspace = uuid.UUID(ws.id)
    for order in range(6):
        user_id = uuid.uuid4()
        events: list[EventData] = [
            UserCreated(
                user_id=user_id,
                workspace_id=workspace,
                email="old@example.test",
                display_name="Old Name",
                kind="collaborator",
                workspace_role="member",
            ),
            UserUpdated(
                user_id=user_id,
                workspace_id=workspace,
                changes={"display_name": "New Name", "workspace_role": "admin"},
            ),
            UserDeactivated(user_id=user_id, workspace_id=workspace),
        ]
        await deliver(timetracking, ws.id, orders(events)[order], f"user/{user_id}")
        row = await timetracking.row(PersonRef, str(user_id))
        assert values(row, "email", "display_name", "kind", "active") == (
            "old@example.test",
            "New Name",
            "collaborator",
            False,
        ), order


@pytest.mark.parametrize("order", range(2))
async def test_projects_and_organisations_end_alike_in_every_order(
    timetracking: TimetrackingApp, order: int
) -> None:
    ws = await timetracking.new_workspace()
    workspace = uuid.UUID(ws.id)
    project_id, organisation_id = uuid.uuid4(), uuid.uuid4()
    project_events: list[EventData] = [
        ProjectCreated(
            project_id=project_id,
            workspace_id=workspace,
            name="Old",
            client_organisation_id=organisation_id,
        ),
        ProjectUpdated(
            project_id=project_id,
            workspace_id=workspace,
            changes={"name": "Renamed", "archived": True, "folder_ids": []},
        ),
    ]
    organisation_events: list[EventData] = [
        ClientOrganisationCreated(
            organisation_id=organisation_id, workspace_id=workspace, name="Globex"
        ),
        ClientOrganisationUpdated(
            organisation_id=organisation_id,
            workspace_id=workspace,
            changes={"name": "Globex Corp"},
        ),
    ]
    await deliver(timetracking, ws.id, orders(project_events)[order], f"project/{project_id}")
    await deliver(timetracking, ws.id, orders(organisation_events)[order], f"org/{organisation_id}")
    project = await timetracking.row(ProjectRef, str(project_id))
    assert values(project, "name", "archived", "client_organisation_id") == (
        "Renamed",
        True,
        str(organisation_id),
    )
    organisation = await timetracking.row(OrganisationRef, str(organisation_id))
    assert organisation.name == "Globex Corp"


async def test_a_redelivered_event_changes_nothing_more(timetracking: TimetrackingApp) -> None:
    ws = await timetracking.new_workspace()
    item_id, project = new_id(), new_id()
    first = item_snapshot(item_id, project, title="First")
    envelope = await timetracking.emit(ItemCreated(item=first), ws.id, f"item/{item_id}")
    await timetracking.emit(
        ItemUpdated(item=item_snapshot(item_id, project, title="Second"), changes={}),
        ws.id,
        f"item/{item_id}",
    )
    await timetracking.publish(envelope)  # the creation again, after the update
    await settle(timetracking, ws.id)
    assert (await timetracking.row(ItemRef, item_id)).title == "Second"


async def test_one_workspace_cannot_rewrite_anothers_rows(timetracking: TimetrackingApp) -> None:
    mine, theirs = await timetracking.new_workspace(), await timetracking.new_workspace()
    project = await timetracking.add_project(mine.id, "Mine")
    item_id = await timetracking.add_item(mine.id, project, title="Mine")
    person = await timetracking.add_user(mine.id, name="Mine")
    hijack = item_snapshot(item_id, new_id(), title="Hijacked")
    await timetracking.emit(ItemUpdated(item=hijack, changes={}), theirs.id, f"item/{item_id}")
    await timetracking.emit(
        UserUpdated(
            user_id=uuid.UUID(person.id),
            workspace_id=uuid.UUID(theirs.id),
            changes={"display_name": "Hijacked"},
        ),
        theirs.id,
        f"user/{person.id}",
    )
    await timetracking.emit(
        ProjectUpdated(
            project_id=uuid.UUID(project),
            workspace_id=uuid.UUID(theirs.id),
            changes={"name": "Hijacked"},
        ),
        theirs.id,
        f"project/{project}",
    )
    await settle(timetracking, theirs.id)
    item = await timetracking.row(ItemRef, item_id)
    assert (item.workspace_id, item.title) == (mine.id, "Mine")
    assert (await timetracking.row(PersonRef, person.id)).display_name == "Mine"
    assert (await timetracking.row(ProjectRef, project)).name == "Mine"


async def test_entries_name_the_client_from_the_projections(
    timetracking: TimetrackingApp,
) -> None:
    """The project's client organisation, else the requester's (a shared support project)."""
    ws = await timetracking.new_workspace()
    globex, initech = (
        await timetracking.add_organisation(ws.id, "Globex"),
        await timetracking.add_organisation(ws.id, "Initech"),
    )
    dedicated = await timetracking.add_project(ws.id, "Globex retainer", globex)
    support = await timetracking.add_project(ws.id, "Support")
    on_dedicated = await timetracking.add_item(ws.id, dedicated, requester_organisation_id=initech)
    on_support = await timetracking.add_item(ws.id, support, requester_organisation_id=initech)
    internal = await timetracking.add_item(ws.id, support)
    organisations = []
    for item_id in (on_dedicated, on_support, internal):
        response = await timetracking.post(
            "/entries",
            ws.admin.token,
            json={"item_id": item_id, "worked_on": "2026-03-02", "minutes": 15},
        )
        assert response.status_code == 201, response.text
        organisations.append(response.json()["organisation_id"])
    assert organisations == [globex, initech, None]
