"""Keeping a service's copy of identity's grants and workspace settings, from identity's events.

Every service runs this consumer against its own database, so authorisation
is a local query and never a call to identity.

Events of different types can arrive out of order (a grant.given that failed
once sits in a retry queue while its grant.changed or grant.revoked goes
through), and the inbox only removes exact redeliveries. So each row records
the time of the identity event that last wrote it (`as_of`), and every write
is an upsert that only an event at least as new may make:

- grant.given and grant.changed both upsert the grant, so a change that
  overtook its grant still creates it, and a late given does not undo it;
- grant.revoked keeps the row with no role (a tombstone) instead of deleting
  it; a retried grant.given older than the revocation then finds the tombstone
  and leaves it, where after a delete it would have brought the grant back.
  A grant given again later (an event newer than the revocation) does apply;
- workspace.created and workspace.updated upsert `client_visibility` the same way.

An equally old grant event never overwrites a tombstone: when the order is
unknowable, revoked wins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, Table, and_, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import Envelope, registry
from contracts.identity import (
    ClientVisibility,
    GrantChanged,
    GrantGiven,
    GrantRevoked,
    WorkspaceCreated,
    WorkspaceUpdated,
)
from kit.consumers import Consumer
from kit.db.tables import ACCESS_GRANTS, ACCESS_WORKSPACES
from kit.logging import get_logger
from kit.uow import UnitOfWork

CONSUMER_NAME = "access-projection"
PATTERNS = ("identity.grant.*.v1", "identity.workspace.*.v1")

log = get_logger(__name__)
_VISIBILITY: TypeAdapter[ClientVisibility] = TypeAdapter(ClientVisibility)


def access_consumer() -> Consumer:
    """Add this to a service module's consumers to give it a local access projection."""
    return Consumer(name=CONSUMER_NAME, patterns=PATTERNS, handler=apply_identity_event)


async def apply_identity_event(envelope: Envelope, uow: UnitOfWork) -> None:
    apply = _APPLY.get(envelope.type)
    if apply is None:
        # Other events under the patterns (a future identity.grant.x.v1) are not ours to project.
        log.debug("access_projection.ignored", event_type=envelope.type)
        return
    await apply(envelope, uow.session)


def _event_time(envelope: Envelope) -> datetime:
    """UTC always: SQLite compares stored times as text, which is only right in one zone."""
    moment = envelope.time
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


async def _grant_given(envelope: Envelope, session: AsyncSession) -> None:
    given = registry.parse_as(envelope, GrantGiven)
    await _upsert_grant(session, given, _event_time(envelope))


async def _grant_changed(envelope: Envelope, session: AsyncSession) -> None:
    changed = registry.parse_as(envelope, GrantChanged)
    await _upsert_grant(session, changed, _event_time(envelope))


async def _grant_revoked(envelope: Envelope, session: AsyncSession) -> None:
    revoked = registry.parse_as(envelope, GrantRevoked)
    at = _event_time(envelope)
    await _upsert(
        session,
        ACCESS_GRANTS,
        {**_grant_key(revoked), "role": None, "as_of": at},
        key="grant_id",
        update=("role", "as_of"),
        when=ACCESS_GRANTS.c.as_of <= at,
    )


async def _upsert_grant(
    session: AsyncSession, grant: GrantGiven | GrantChanged, at: datetime
) -> None:
    columns = ACCESS_GRANTS.c
    await _upsert(
        session,
        ACCESS_GRANTS,
        {**_grant_key(grant), "role": grant.role, "as_of": at},
        key="grant_id",
        update=("workspace_id", "project_id", "subject_type", "subject_id", "role", "as_of"),
        when=or_(columns.as_of < at, and_(columns.as_of == at, columns.role.is_not(None))),
    )


def _grant_key(grant: GrantGiven | GrantChanged | GrantRevoked) -> dict[str, Any]:
    return {
        "grant_id": str(grant.grant_id),
        "workspace_id": str(grant.workspace_id),
        "project_id": str(grant.project_id),
        "subject_type": grant.subject_type,
        "subject_id": str(grant.subject_id),
    }


async def _workspace_created(envelope: Envelope, session: AsyncSession) -> None:
    created = registry.parse_as(envelope, WorkspaceCreated)
    await _set_client_visibility(
        session, str(created.workspace_id), created.client_visibility, _event_time(envelope)
    )


async def _workspace_updated(envelope: Envelope, session: AsyncSession) -> None:
    updated = registry.parse_as(envelope, WorkspaceUpdated)
    if "client_visibility" not in updated.changes:
        return  # a change to something this projection does not keep
    # A value outside the contract fails loudly (retries, then the dead-letter queue)
    # rather than being guessed at: visibility decides what clients may see.
    visibility = _VISIBILITY.validate_python(updated.changes["client_visibility"])
    await _set_client_visibility(
        session, str(updated.workspace_id), visibility, _event_time(envelope)
    )


async def _set_client_visibility(
    session: AsyncSession, workspace_id: str, visibility: ClientVisibility, at: datetime
) -> None:
    await _upsert(
        session,
        ACCESS_WORKSPACES,
        {"workspace_id": workspace_id, "client_visibility": visibility, "as_of": at},
        key="workspace_id",
        update=("client_visibility", "as_of"),
        when=ACCESS_WORKSPACES.c.as_of <= at,
    )


async def _upsert(
    session: AsyncSession,
    table: Table,
    row: Mapping[str, Any],
    *,
    key: str,
    update: tuple[str, ...],
    when: ColumnElement[bool],
) -> None:
    """INSERT … ON CONFLICT DO UPDATE … WHERE `when`: one statement, no read-then-write race."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(dict(row))
        statement: postgresql.Insert | sqlite.Insert = pg.on_conflict_do_update(
            index_elements=[key], set_={name: pg.excluded[name] for name in update}, where=when
        )
    else:
        lite = sqlite.insert(table).values(dict(row))
        statement = lite.on_conflict_do_update(
            index_elements=[key], set_={name: lite.excluded[name] for name in update}, where=when
        )
    await session.execute(statement)


_APPLY: Mapping[str, Callable[[Envelope, AsyncSession], Awaitable[None]]] = {
    "identity.grant.given.v1": _grant_given,
    "identity.grant.changed.v1": _grant_changed,
    "identity.grant.revoked.v1": _grant_revoked,
    "identity.workspace.created.v1": _workspace_created,
    "identity.workspace.updated.v1": _workspace_updated,
}
