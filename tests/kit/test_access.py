"""The access projection and authoriser, fed real identity events through the inbox."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from pydantic import ValidationError
from sqlalchemy import Column, MetaData, String, Table, func, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from contracts import Envelope, registry
from contracts.identity import (
    ClientVisibility,
    GrantChanged,
    GrantGiven,
    GrantRevoked,
    ProjectRole,
    WorkspaceCreated,
    WorkspaceUpdated,
)
from kit.access import (
    ACTIONS,
    Action,
    ItemFacts,
    ProjectScope,
    access_consumer,
    can,
    can_on_item,
    client_items_clause,
    client_may_see_item,
    client_visibility,
    project_role,
    require,
    require_on_item,
    visible_projects,
)
from kit.access import roles as roles_module
from kit.auth import Principal, UserKind, principal_from_claims
from kit.consumers import transactional
from kit.db import INBOX, KIT_METADATA, create_engine
from kit.db.migrations import alembic_config, upgrade
from kit.db.tables import ACCESS_GRANTS, ACCESS_WORKSPACES
from kit.http import Problem
from kit.uow import UnitOfWork
from tests.support.schema import drift

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ITEMS_METADATA = MetaData()
ITEMS = Table(
    "probe_items",
    ITEMS_METADATA,
    Column("item_id", String(64), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("project_id", String(64), nullable=False),
    Column("requester_id", String(64), nullable=True),
    Column("requester_organisation_id", String(64), nullable=True),
)
FOLLOWERS = Table(
    "probe_followers",
    ITEMS_METADATA,
    Column("item_id", String(64), primary_key=True),
    Column("user_id", String(64), primary_key=True),
)


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def engine(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(empty_database_url)
    async with built.begin() as connection:
        await connection.run_sync(KIT_METADATA.create_all)
        await connection.run_sync(ITEMS_METADATA.create_all)
    yield built
    await built.dispose()


class World:
    """One service's database with the access projection, and a way to ask it questions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._deliver = transactional("probe", access_consumer(), self._unit_of_work)

    def _unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)

    async def deliver(self, *envelopes: Envelope) -> None:
        for envelope in envelopes:
            await self._deliver(envelope)

    async def ask(self, question: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:
        async with self._unit_of_work() as uow:
            return await question(uow)

    async def role(self, principal: Principal, project_id: str) -> ProjectRole | None:
        async with self._unit_of_work() as uow:
            return await project_role(uow.session, principal, project_id)

    async def can(self, principal: Principal, action: Action, project_id: str) -> bool:
        async with self._unit_of_work() as uow:
            return await can(uow.session, principal, action, project_id)

    async def require(self, principal: Principal, action: Action, project_id: str) -> None:
        async with self._unit_of_work() as uow:
            await require(uow.session, principal, action, project_id)

    async def scope(self, principal: Principal) -> ProjectScope:
        async with self._unit_of_work() as uow:
            return await visible_projects(uow.session, principal)

    async def visibility(self, workspace_id: str) -> ClientVisibility:
        async with self._unit_of_work() as uow:
            return await client_visibility(uow.session, workspace_id)

    async def count(self, table: Table) -> int:
        async with self.engine.connect() as connection:
            return int(
                (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            )


@pytest.fixture
def world(engine: AsyncEngine) -> World:
    return World(engine)


def person(
    workspace_id: str,
    subject: str | None = None,
    *,
    kind: UserKind = "staff",
    admin: bool = False,
    teams: tuple[str, ...] = (),
    organisation: str | None = None,
) -> Principal:
    return Principal(
        subject=subject or new_id(),
        workspace_id=workspace_id,
        kind=kind,
        workspace_role="admin" if admin else "member",
        teams=teams,
        client_organisation_id=organisation,
    )


class Grant:
    """Builds the three grant events of one grant, at chosen times."""

    def __init__(
        self, workspace_id: str, project_id: str, subject_id: str, *, team: bool = False
    ) -> None:
        self.fields: dict[str, Any] = {
            "grant_id": uuid.uuid4(),
            "workspace_id": uuid.UUID(workspace_id),
            "project_id": uuid.UUID(project_id),
            "subject_type": "team" if team else "user",
            "subject_id": uuid.UUID(subject_id),
        }

    def given(self, role: ProjectRole, at: datetime = T0) -> Envelope:
        return self._wrap(GrantGiven(**self.fields, role=role), at)

    def changed(self, role: ProjectRole, previous: ProjectRole, at: datetime) -> Envelope:
        return self._wrap(GrantChanged(**self.fields, role=role, previous_role=previous), at)

    def revoked(self, at: datetime) -> Envelope:
        return self._wrap(GrantRevoked(**self.fields), at)

    def _wrap(self, data: GrantGiven | GrantChanged | GrantRevoked, at: datetime) -> Envelope:
        return registry.envelope(data, time=at, workspace=str(self.fields["workspace_id"]))


def workspace_created(
    workspace_id: str, visibility: ClientVisibility | None, at: datetime
) -> Envelope:
    extra = {} if visibility is None else {"client_visibility": visibility}
    data = WorkspaceCreated(
        workspace_id=uuid.UUID(workspace_id),
        name="Acme",
        slug="acme",
        time_zone="Europe/Paris",
        created_by=uuid.uuid4(),
        **extra,
    )
    return registry.envelope(data, time=at, workspace=workspace_id)


def workspace_updated(workspace_id: str, changes: dict[str, Any], at: datetime) -> Envelope:
    data = WorkspaceUpdated(workspace_id=uuid.UUID(workspace_id), changes=changes)
    return registry.envelope(data, time=at, workspace=workspace_id)


# --- roles from grants -------------------------------------------------------------------


async def test_the_highest_of_own_and_team_grants_applies(world: World) -> None:
    ws, project, user, team, other_team = new_id(), new_id(), new_id(), new_id(), new_id()
    await world.deliver(
        Grant(ws, project, user).given("viewer"),
        Grant(ws, project, team, team=True).given("editor"),
        Grant(ws, project, other_team, team=True).given("contributor"),
    )
    assert await world.role(person(ws, user), project) == "viewer"
    assert await world.role(person(ws, user, teams=(team, other_team)), project) == "editor"
    assert await world.role(person(ws, user, teams=(other_team,)), project) == "contributor"
    assert await world.role(person(ws, teams=(team,)), project) == "editor"
    assert await world.role(person(ws, user), new_id()) is None
    assert await world.can(person(ws, user, teams=(team,)), "assign", project)
    assert not await world.can(person(ws, user, teams=(team,)), "delete_item", project)


async def test_staff_admins_may_do_everything_in_their_workspace_only(world: World) -> None:
    ws = new_id()
    admin = person(ws, admin=True)
    anywhere = new_id()
    assert await world.role(admin, anywhere) == "manager"
    assert all([await world.can(admin, action, anywhere) for action in ACTIONS])
    assert (await world.scope(admin)).whole_workspace
    # The admin claim gives collaborators and clients nothing: they get their grants.
    assert await world.role(person(ws, kind="collaborator", admin=True), anywhere) is None
    assert await world.role(person(ws, kind="client", admin=True), anywhere) is None


async def test_an_api_key_acts_as_its_person_within_its_scopes(world: World) -> None:
    ws, project, user = new_id(), new_id(), new_id()
    await world.deliver(Grant(ws, project, user).given("editor"))

    def through_key(principal: Principal, *scopes: str) -> Principal:
        return dataclasses.replace(principal, scopes=scopes, api_key_id=new_id())

    read_only = through_key(person(ws, user), "read")
    assert await world.role(read_only, project) == "editor"
    assert await world.can(read_only, "view", project)
    assert await world.can(read_only, "view_private", project)
    assert not await world.can(read_only, "comment", project)
    with pytest.raises(Problem) as caught:
        await world.require(read_only, "log_time", project)
    assert caught.value.status == 403
    writing = through_key(person(ws, user), "read", "write")
    assert await world.can(writing, "assign", project)
    assert not await world.can(writing, "delete_item", project), "no more than the person"

    # An admin's write key works on every project, but admin powers need the admin scope.
    admin_write = through_key(person(ws, admin=True), "write")
    assert all([await world.can(admin_write, action, new_id()) for action in ACTIONS])
    assert (await world.scope(admin_write)).whole_workspace
    assert not admin_write.is_admin
    assert through_key(person(ws, admin=True), "admin").is_admin
    assert not await world.can(through_key(person(ws, admin=True), "read"), "comment", project)


def test_the_token_names_the_api_key_a_person_acts_through() -> None:
    claims = {"sub": "u", "wid": "w", "scopes": ["read"], "api_key": "k"}
    principal = principal_from_claims(claims)
    assert (principal.api_key_id, principal.has_scope("read")) == ("k", True)
    assert not principal.has_scope("write")
    own = principal_from_claims({"sub": "u", "wid": "w"})
    assert own.api_key_id is None and own.has_scope("admin"), "a person's own token is not scoped"


async def test_a_grant_counts_only_in_its_own_workspace(world: World) -> None:
    ws_a, ws_b, project, user, team = new_id(), new_id(), new_id(), new_id(), new_id()
    await world.deliver(
        Grant(ws_a, project, user).given("manager"),
        Grant(ws_a, project, team, team=True).given("manager"),
    )
    elsewhere = person(ws_b, user, teams=(team,))
    assert await world.role(elsewhere, project) is None
    assert (await world.scope(elsewhere)).project_ids == frozenset()
    with pytest.raises(Problem) as caught:
        await world.require(elsewhere, "view", project)
    assert caught.value.status == 404
    assert await world.role(person(ws_a, user), project) == "manager"


async def test_a_revoked_grant_gives_nothing_and_a_late_given_does_not_revive_it(
    world: World,
) -> None:
    ws, project, user = new_id(), new_id(), new_id()
    grant = Grant(ws, project, user)
    await world.deliver(grant.given("editor", T0), grant.revoked(T0 + timedelta(minutes=1)))
    assert await world.role(person(ws, user), project) is None
    assert project not in await world.scope(person(ws, user))

    # A copy of the given that was stuck in a retry queue arrives after the revocation.
    late = grant.given("editor", T0)
    await world.deliver(late.model_copy(update={"id": new_id()}))
    assert await world.role(person(ws, user), project) is None

    # The same grant given again later does apply.
    await world.deliver(grant.given("viewer", T0 + timedelta(minutes=2)))
    assert await world.role(person(ws, user), project) == "viewer"


async def test_a_revocation_that_overtakes_its_grant_wins(world: World) -> None:
    ws, project, user = new_id(), new_id(), new_id()
    grant = Grant(ws, project, user)
    await world.deliver(grant.revoked(T0 + timedelta(seconds=1)), grant.given("manager", T0))
    assert await world.role(person(ws, user), project) is None

    # Stamped at the same instant the order is unknowable; either way round, revoked wins.
    for revoked_first in (True, False):
        same_time = Grant(ws, project, user)
        events = [same_time.revoked(T0), same_time.given("manager", T0)]
        await world.deliver(*(events if revoked_first else reversed(events)))
        assert await world.role(person(ws, user), project) is None, revoked_first


async def test_a_change_that_overtakes_its_grant_is_kept(world: World) -> None:
    ws, project, user = new_id(), new_id(), new_id()
    grant = Grant(ws, project, user)
    await world.deliver(
        grant.changed("manager", "viewer", T0 + timedelta(seconds=2)),
        grant.given("viewer", T0),
        grant.changed("editor", "viewer", T0 + timedelta(seconds=1)),  # older than the first
    )
    assert await world.role(person(ws, user), project) == "manager"
    await world.deliver(grant.changed("contributor", "manager", T0 + timedelta(seconds=3)))
    assert await world.role(person(ws, user), project) == "contributor"


async def test_duplicate_deliveries_are_harmless(world: World) -> None:
    ws, project, user = new_id(), new_id(), new_id()
    grant = Grant(ws, project, user)
    given = grant.given("editor")
    changed = grant.changed("manager", "editor", T0 + timedelta(seconds=1))
    await world.deliver(given, changed, given, changed, given)
    assert await world.count(INBOX) == 2  # the redeliveries were recognised by the inbox
    # A duplicate publish (same content, a new event id) is absorbed by the upsert itself.
    await world.deliver(given.model_copy(update={"id": new_id()}))
    assert await world.role(person(ws, user), project) == "manager"
    assert await world.count(ACCESS_GRANTS) == 1


async def test_changes_that_carry_a_visibility_the_contract_lacks_are_refused(
    world: World,
) -> None:
    ws = new_id()
    with pytest.raises(ValidationError):
        await world.deliver(workspace_updated(ws, {"client_visibility": "everyone"}, T0))
    assert await world.visibility(ws) == "own"
    assert await world.count(INBOX) == 0, "the failed delivery left no inbox row behind"


# --- require: 404 versus 403 -------------------------------------------------------------


async def test_require_hides_unreachable_projects_and_names_the_missing_role(
    world: World,
) -> None:
    ws, project, viewer, editor = new_id(), new_id(), new_id(), new_id()
    await world.deliver(
        Grant(ws, project, viewer).given("viewer"), Grant(ws, project, editor).given("editor")
    )

    with pytest.raises(Problem) as hidden:
        await world.require(person(ws), "view", project)
    assert (hidden.value.status, hidden.value.kind) == (404, "not-found")
    assert project not in (hidden.value.detail or "")

    with pytest.raises(Problem) as refused:
        await world.require(person(ws, viewer), "edit_item", project)
    assert (refused.value.status, refused.value.kind) == (403, "forbidden")
    assert "edit_item" in (refused.value.detail or "")
    assert refused.value.extensions == {"action": "edit_item", "required_role": "editor"}

    await world.require(person(ws, viewer), "view", project)
    await world.require(person(ws, editor), "edit_item", project)
    with pytest.raises(Problem) as not_manager:
        await world.require(person(ws, editor), "manage_grants", project)
    assert not_manager.value.status == 403


async def test_clients_keep_to_the_client_actions_whatever_their_grant(world: World) -> None:
    ws, project, client_id, viewer_client = new_id(), new_id(), new_id(), new_id()
    await world.deliver(
        Grant(ws, project, client_id).given("manager"),
        Grant(ws, project, viewer_client).given("viewer"),
    )
    client = person(ws, client_id, kind="client")
    assert await world.role(client, project) == "contributor"
    allowed = {action for action in ACTIONS if await world.can(client, action, project)}
    assert allowed == {"view", "comment", "create_item"}
    with pytest.raises(Problem) as private:
        await world.require(client, "comment_private", project)
    assert private.value.status == 403
    with pytest.raises(Problem) as too_low:
        await world.require(person(ws, viewer_client, kind="client"), "create_item", project)
    assert too_low.value.status == 403
    assert "contributor" in (too_low.value.detail or "")


async def test_collaborators_get_exactly_their_grants(world: World) -> None:
    ws, project, team, vendor = new_id(), new_id(), new_id(), new_id()
    await world.deliver(Grant(ws, project, team, team=True).given("contributor"))
    collaborator = person(ws, vendor, kind="collaborator", teams=(team,))
    assert await world.role(collaborator, project) == "contributor"
    assert await world.can(collaborator, "log_time", project)
    assert await world.can(collaborator, "comment_private", project)
    assert not await world.can(collaborator, "change_status", project)


# --- list filtering ------------------------------------------------------------------------


async def test_visible_projects_filter_a_real_list_query(world: World) -> None:
    ws, other_ws, user, team = new_id(), new_id(), new_id(), new_id()
    mine, teams, hidden = new_id(), new_id(), new_id()
    await world.deliver(
        Grant(ws, mine, user).given("viewer"),
        Grant(ws, teams, team, team=True).given("editor"),
        Grant(other_ws, hidden, user).given("manager"),
    )
    rows = [
        ("a", ws, mine),
        ("b", ws, teams),
        ("c", ws, hidden),
        ("d", ws, new_id()),
        ("e", other_ws, hidden),
        ("f", other_ws, mine),
    ]
    async with world.engine.begin() as connection:
        await connection.execute(
            insert(ITEMS),
            [{"item_id": i, "workspace_id": w, "project_id": p} for i, w, p in rows],
        )

    async def listed(principal: Principal) -> list[str]:
        scope = await world.scope(principal)
        query = (
            select(ITEMS.c.item_id)
            .where(ITEMS.c.workspace_id == principal.workspace_id)
            .where(scope.clause(ITEMS.c.project_id))
            .order_by(ITEMS.c.item_id)
        )
        async with world.engine.connect() as connection:
            return list((await connection.execute(query)).scalars())

    assert await listed(person(ws, user, teams=(team,))) == ["a", "b"]
    assert await listed(person(ws, user)) == ["a"]
    assert await listed(person(ws)) == []
    assert await listed(person(ws, admin=True)) == ["a", "b", "c", "d"]
    assert await listed(person(other_ws, user)) == ["e"]


# --- clients and items ---------------------------------------------------------------------

ME, ORG, OTHER_ORG, SOMEONE = "me", "org-1", "org-2", "someone"

CLIENT_CASES: list[tuple[str, str | None, str | None, tuple[str, ...], ClientVisibility, bool]] = [
    # name, requester, requester's organisation, followers, visibility, sees
    ("own request", ME, ORG, (), "own", True),
    ("own request, org mode", ME, ORG, (), "organisation", True),
    ("follows it", SOMEONE, OTHER_ORG, (ME,), "own", True),
    ("colleague's request, own mode", SOMEONE, ORG, (), "own", False),
    ("colleague's request, org mode", SOMEONE, ORG, (), "organisation", True),
    ("another org's request, org mode", SOMEONE, OTHER_ORG, (), "organisation", False),
    ("staff-created item, org mode", None, None, (), "organisation", False),
    ("someone else follows it", SOMEONE, OTHER_ORG, (SOMEONE,), "organisation", False),
]


@pytest.mark.parametrize(
    ("requester", "organisation", "followers", "visibility", "sees"),
    [case[1:] for case in CLIENT_CASES],
    ids=[case[0] for case in CLIENT_CASES],
)
def test_client_visibility_rules(
    requester: str | None,
    organisation: str | None,
    followers: tuple[str, ...],
    visibility: ClientVisibility,
    sees: bool,
) -> None:
    client = person("ws", ME, kind="client", organisation=ORG)
    assert (
        client_may_see_item(
            client,
            requester_id=requester,
            requester_organisation_id=organisation,
            follower_ids=followers,
            visibility=visibility,
        )
        is sees
    )


def test_a_client_without_an_organisation_sees_only_their_own_and_followed_items() -> None:
    loner = person("ws", ME, kind="client")
    for followers, sees in (((), False), ((ME,), True)):
        verdict = client_may_see_item(
            loner,
            requester_id=SOMEONE,
            requester_organisation_id=None,
            follower_ids=followers,
            visibility="organisation",
        )
        assert verdict is sees


async def test_the_client_clause_agrees_with_the_rules_on_a_real_table(world: World) -> None:
    async with world.engine.begin() as connection:
        await connection.execute(
            insert(ITEMS),
            [
                {
                    "item_id": name,
                    "workspace_id": "ws",
                    "project_id": "p",
                    "requester_id": requester,
                    "requester_organisation_id": organisation,
                }
                for name, requester, organisation, _, _, _ in CLIENT_CASES
            ],
        )
        follows = [(name, user) for name, *_, followers, _, _ in CLIENT_CASES for user in followers]
        await connection.execute(
            insert(FOLLOWERS), [{"item_id": item, "user_id": user} for item, user in follows]
        )
    client = person("ws", ME, kind="client", organisation=ORG)
    followed = ITEMS.c.item_id.in_(select(FOLLOWERS.c.item_id).where(FOLLOWERS.c.user_id == ME))
    for visibility in ("own", "organisation"):
        clause = client_items_clause(
            client,
            visibility,
            requester_column=ITEMS.c.requester_id,
            requester_organisation_column=ITEMS.c.requester_organisation_id,
            followed=followed,
        )
        async with world.engine.connect() as connection:
            seen = set((await connection.execute(select(ITEMS.c.item_id).where(clause))).scalars())
        expected = {
            name
            for name, requester, organisation, followers, _, _ in CLIENT_CASES
            if client_may_see_item(
                client,
                requester_id=requester,
                requester_organisation_id=organisation,
                follower_ids=followers,
                visibility=visibility,
            )
        }
        assert seen == expected, visibility


async def test_workspace_events_set_client_visibility_newest_first(world: World) -> None:
    quiet, created_org, ws = new_id(), new_id(), new_id()
    assert await world.visibility(quiet) == "own", "unknown workspace: the least is shown"
    await world.deliver(workspace_created(created_org, "organisation", T0))
    assert await world.visibility(created_org) == "organisation"

    await world.deliver(
        workspace_updated(ws, {"client_visibility": "organisation"}, T0 + timedelta(seconds=2)),
        workspace_created(ws, None, T0),  # overtaken by the update: keeps the newer value
        workspace_updated(ws, {"name": "Renamed"}, T0 + timedelta(seconds=3)),
    )
    assert await world.visibility(ws) == "organisation"
    await world.deliver(
        workspace_updated(ws, {"client_visibility": "own"}, T0 + timedelta(seconds=4))
    )
    assert await world.visibility(ws) == "own"
    assert await world.count(ACCESS_WORKSPACES) == 2


async def test_items_are_judged_by_project_for_staff_and_by_visibility_for_clients(
    world: World,
) -> None:
    ws, project, staff_id, client_id, colleague = new_id(), new_id(), new_id(), new_id(), new_id()
    await world.deliver(
        Grant(ws, project, staff_id).given("contributor"),
        workspace_created(ws, "organisation", T0),
    )
    staff = person(ws, staff_id)
    client = person(ws, client_id, kind="client", organisation="acme")
    theirs = ItemFacts(ws, project, requester_id=colleague, requester_organisation_id="acme")
    foreign = ItemFacts(ws, project, requester_id=colleague, requester_organisation_id="other")
    elsewhere = ItemFacts(new_id(), project, requester_id=client_id)

    async def may(principal: Principal, action: Action, item: ItemFacts) -> bool:
        return bool(await world.ask(lambda uow: can_on_item(uow.session, principal, action, item)))

    async def refusal(principal: Principal, action: Action, item: ItemFacts) -> int | None:
        try:
            await world.ask(lambda uow: require_on_item(uow.session, principal, action, item))
        except Problem as problem:
            return problem.status
        return None

    assert await may(staff, "comment_private", foreign)
    assert not await may(staff, "assign", foreign)
    assert await refusal(staff, "assign", foreign) == 403
    assert await refusal(person(ws), "view", foreign) == 404

    # The client has no grant on the project, yet sees their organisation's item.
    assert await may(client, "comment", theirs)
    assert not await may(client, "comment_private", theirs)
    assert not await may(client, "view_private", theirs)
    assert await refusal(client, "comment", theirs) is None
    assert await refusal(client, "change_status", theirs) == 403
    assert await refusal(client, "view", foreign) == 404
    assert await refusal(client, "view", elsewhere) == 404, "another workspace's item"
    assert not await may(staff, "view", elsewhere)


# --- roles documentation, token claim, migration ---------------------------------------------


def test_the_documented_table_is_the_table_in_force() -> None:
    doc = roles_module.__doc__ or ""
    documented = dict(re.findall(r"^\| `(\w+)`\s*\| (\w+)\s*\|", doc, flags=re.MULTILINE))
    assert documented == dict(ACTIONS)


def test_the_token_names_the_client_organisation() -> None:
    claims = {"sub": "u", "wid": "w", "kind": "client", "org": "o"}
    assert principal_from_claims(claims).client_organisation_id == "o"
    assert principal_from_claims({"sub": "u", "wid": "w"}).client_organisation_id is None


async def test_revision_kit_0002_creates_and_drops_the_projection(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    migrations = Path("services/tickets/migrations")
    await asyncio.to_thread(upgrade, migrations, url)

    migrated = create_engine(url)
    try:
        async with migrated.connect() as connection:

            def describe(sync: Connection) -> dict[str, Any]:
                inspector = inspect(sync)
                return {
                    "tables": set(inspector.get_table_names()),
                    "grant_indexes": {
                        index["name"]: index["column_names"]
                        for index in inspector.get_indexes("access_grants")
                    },
                    "grant_key": inspector.get_pk_constraint("access_grants")[
                        "constrained_columns"
                    ],
                    "drift": drift(
                        sync, KIT_METADATA, (ACCESS_GRANTS.name, ACCESS_WORKSPACES.name)
                    ),
                }

            found = await connection.run_sync(describe)
        assert {"access_grants", "access_workspaces", "outbox", "inbox"} <= found["tables"]
        assert found["grant_indexes"] == {
            "ix_access_grants_subject": ["workspace_id", "subject_type", "subject_id"],
            "ix_access_grants_project": ["workspace_id", "project_id"],
        }
        assert found["grant_key"] == ["grant_id"]
        assert found["drift"] == [], "the revision and KIT_METADATA disagree"

        await asyncio.to_thread(command.downgrade, alembic_config(migrations, url), "kit_0001")
        async with migrated.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert not {"access_grants", "access_workspaces"} & tables
        assert {"outbox", "inbox"} <= tables
    finally:
        await migrated.dispose()
