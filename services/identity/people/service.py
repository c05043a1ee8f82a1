"""People: invitations, profile and kind changes, deactivation, account claim and reset,
clients adopted from inbound mail, and client organisations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from contracts.identity import (
    ClientOrganisationCreated,
    ClientOrganisationUpdated,
    InvitationCreated,
    RequesterMerged,
    UserCreated,
    UserDeactivated,
    UserReactivated,
    UserUpdated,
)
from contracts.notifications import RequesterDiscovered
from kit.auth import Principal
from kit.http.problems import Problem
from kit.logging import get_logger
from kit.uow import UnitOfWork
from services.identity.auth import repository as auth_repository
from services.identity.auth.service import new_id, now
from services.identity.grants import service as grants
from services.identity.models import ClientOrganisation, User
from services.identity.people import repository
from services.identity.people.schemas import Invitation, OrganisationCreate, UserUpdate

if TYPE_CHECKING:
    from services.identity.dependencies import Identity

log = get_logger(__name__)


def not_found(what: str = "user") -> Problem:
    return Problem(404, "not-found", f"No such {what}.")


async def _check_organisation(
    uow: UnitOfWork, workspace_id: str, kind: str, organisation_id: str | None
) -> None:
    if organisation_id is None:
        return
    if kind != "client":
        raise Problem(
            422,
            "organisation-for-clients-only",
            "Only client users belong to a client organisation.",
        )
    if await repository.organisation(uow.session, workspace_id, organisation_id) is None:
        raise Problem(422, "unknown-organisation", "No such client organisation.")


def _created_event(user: User) -> UserCreated:
    return UserCreated(
        user_id=UUID(user.id),
        workspace_id=UUID(user.workspace_id),
        email=user.email,
        display_name=user.display_name,
        kind=user.kind,
        workspace_role=user.workspace_role,
        client_organisation_id=UUID(user.client_organisation_id)
        if user.client_organisation_id
        else None,
    )


def _mail_link(uow: UnitOfWork, ident: Identity, user: User, purpose: str) -> None:
    token, secret = ident.links.create(uow, user, purpose)
    uow.emit(
        InvitationCreated(
            invitation_id=UUID(token.id),
            workspace_id=UUID(user.workspace_id),
            user_id=UUID(user.id),
            email=user.email,
            purpose=purpose,
            accept_url=ident.links.link(purpose, secret),
            expires_at=token.expires_at,
        ),
        workspace=user.workspace_id,
        subject=f"user/{user.id}",
    )


async def invite(uow: UnitOfWork, ident: Identity, principal: Principal, body: Invitation) -> User:
    workspace_id = principal.workspace_id
    email = str(body.email).lower()
    if await repository.user_by_email(uow.session, workspace_id, email) is not None:
        raise Problem(409, "user-exists", f"{email} already has an account in this workspace.")
    await _check_organisation(uow, workspace_id, body.kind, body.client_organisation_id)
    if body.kind != "staff" and body.workspace_role == "admin":
        raise Problem(422, "admin-must-be-staff", "Only staff can be workspace admins.")
    moment = now()
    user = User(
        id=new_id(),
        workspace_id=workspace_id,
        email=email,
        display_name=body.display_name,
        kind=body.kind,
        workspace_role=body.workspace_role,
        client_organisation_id=body.client_organisation_id,
        status="invited",
        password_hash=None,
        created_at=moment,
        updated_at=moment,
    )
    uow.session.add(user)
    await uow.session.flush()
    uow.emit(_created_event(user), workspace=workspace_id, subject=f"user/{user.id}")
    for grant in body.grants:
        await grants.give(
            uow,
            principal,
            project_id=grant.project_id,
            subject_type="user",
            subject_id=user.id,
            role=grant.role,
            silent=grant.silent,
        )
    _mail_link(uow, ident, user, "invite")
    return user


async def update_user(
    uow: UnitOfWork, principal: Principal, user_id: str, body: UserUpdate
) -> User:
    user = await repository.user(uow.session, principal.workspace_id, user_id)
    if user is None:
        raise not_found()
    requested = body.model_dump(exclude_unset=True)
    if not principal.is_admin and (
        user_id != principal.subject or set(requested) - {"display_name"}
    ):
        raise Problem(403, "admin-only", "Only admins change other people or kinds and roles.")
    kind = requested.get("kind") or user.kind
    organisation = requested.get("client_organisation_id", user.client_organisation_id)
    if kind != "client":
        organisation = None
    await _check_organisation(uow, user.workspace_id, kind, organisation)
    requested["client_organisation_id"] = organisation
    if (requested.get("workspace_role") or user.workspace_role) == "admin" and kind != "staff":
        raise Problem(422, "admin-must-be-staff", "Only staff can be workspace admins.")
    if user.id == principal.subject and requested.get("workspace_role") == "member":
        raise Problem(422, "cannot-demote-self", "Ask another admin to change your own role.")
    changes: dict[str, Any] = {}
    for field, value in requested.items():
        if (field != "client_organisation_id" and value is None) or getattr(user, field) == value:
            continue
        setattr(user, field, value)
        changes[field] = value
    if changes:
        user.updated_at = now()
        uow.emit(
            UserUpdated(
                user_id=UUID(user.id), workspace_id=UUID(user.workspace_id), changes=changes
            ),
            workspace=user.workspace_id,
            subject=f"user/{user.id}",
        )
    return user


async def set_active(uow: UnitOfWork, principal: Principal, user_id: str, active: bool) -> User:
    user = await repository.user(uow.session, principal.workspace_id, user_id)
    if user is None:
        raise not_found()
    if user.id == principal.subject:
        raise Problem(422, "cannot-deactivate-self", "You cannot deactivate your own account.")
    if active and user.status == "deactivated":
        user.status = "active" if user.password_hash else "invited"
        uow.emit(
            UserReactivated(user_id=UUID(user.id), workspace_id=UUID(user.workspace_id)),
            workspace=user.workspace_id,
            subject=f"user/{user.id}",
        )
    elif not active and user.status != "deactivated":
        user.status = "deactivated"
        await auth_repository.revoke_all_for_user(uow.session, user.workspace_id, user.id, now())
        uow.emit(
            UserDeactivated(user_id=UUID(user.id), workspace_id=UUID(user.workspace_id)),
            workspace=user.workspace_id,
            subject=f"user/{user.id}",
        )
    user.updated_at = now()
    return user


async def send_reset_link(
    uow: UnitOfWork, ident: Identity, workspace_slug: str, email: str
) -> None:
    """Active users get a reset link, accounts made from e-mail a claim link, invitees a new
    invitation; for anyone else nothing happens (and the caller cannot tell)."""
    workspace = await repository.workspace_by_slug(uow.session, workspace_slug)
    if workspace is None:
        return
    user = await repository.user_by_email(uow.session, workspace.id, email)
    if user is None or user.status == "deactivated":
        return
    purpose = {"active": "password_reset", "unclaimed": "claim", "invited": "invite"}[user.status]
    _mail_link(uow, ident, user, purpose)


async def redeem_link(
    uow: UnitOfWork,
    ident: Identity,
    secret: str,
    purposes: set[str],
    password: str,
    display_name: str | None,
) -> User:
    token = await ident.links.redeem(uow, secret, purposes)
    user = await repository.user(uow.session, token.workspace_id, token.user_id)
    if user is None or user.status == "deactivated":
        raise Problem(410, "link-expired", "This account can no longer be used.")
    user.password_hash = await ident.passwords.hash(password)
    user.status = "active"
    user.updated_at = now()
    if display_name and display_name != user.display_name:
        user.display_name = display_name
        uow.emit(
            UserUpdated(
                user_id=UUID(user.id),
                workspace_id=UUID(user.workspace_id),
                changes={"display_name": display_name},
            ),
            workspace=user.workspace_id,
            subject=f"user/{user.id}",
        )
    # A new password ends every other session.
    await auth_repository.revoke_all_for_user(uow.session, user.workspace_id, user.id, now())
    return user


async def adopt_requester(uow: UnitOfWork, event: RequesterDiscovered) -> None:
    """A mail from an unknown sender: create the client with the id notifications minted.

    The account is `unclaimed` (no password); its owner can claim it later with
    a link sent by "forgot password".
    """
    workspace_id, user_id = str(event.workspace_id), str(event.user_id)
    if await repository.user_by_id_anywhere(uow.session, user_id) is not None:
        return
    known = await repository.user_by_email(uow.session, workspace_id, event.email)
    if known is not None:
        # Not adopted: whatever already holds the minted id (the request's item, its
        # followers, the mail directory) moves over to the user the address belongs to.
        log.info("requester already known by address", minted=user_id, user_id=known.id)
        uow.emit(
            RequesterMerged(
                workspace_id=event.workspace_id,
                minted_user_id=event.user_id,
                user_id=UUID(known.id),
            ),
            workspace=workspace_id,
            subject=f"user/{known.id}",
        )
        return
    organisation = str(event.client_organisation_id) if event.client_organisation_id else None
    if (
        organisation
        and await repository.organisation(uow.session, workspace_id, organisation) is None
    ):
        organisation = None
    moment = now()
    user = User(
        id=user_id,
        workspace_id=workspace_id,
        email=event.email.lower(),
        display_name=event.display_name or event.email.split("@")[0],
        kind="client",
        workspace_role="member",
        client_organisation_id=organisation,
        status="unclaimed",
        password_hash=None,
        created_at=moment,
        updated_at=moment,
    )
    uow.session.add(user)
    uow.emit(_created_event(user), workspace=workspace_id, subject=f"user/{user.id}")


async def create_organisation(
    uow: UnitOfWork, principal: Principal, body: OrganisationCreate
) -> ClientOrganisation:
    if await repository.organisation_by_name(uow.session, principal.workspace_id, body.name):
        raise Problem(409, "organisation-exists", f"{body.name!r} already exists.")
    organisation = ClientOrganisation(
        id=new_id(), workspace_id=principal.workspace_id, name=body.name, created_at=now()
    )
    uow.session.add(organisation)
    uow.emit(
        ClientOrganisationCreated(
            organisation_id=UUID(organisation.id),
            workspace_id=UUID(principal.workspace_id),
            name=organisation.name,
        ),
        workspace=principal.workspace_id,
        subject=f"organisation/{organisation.id}",
    )
    return organisation


async def rename_organisation(
    uow: UnitOfWork, principal: Principal, organisation_id: str, name: str
) -> ClientOrganisation:
    organisation = await repository.organisation(
        uow.session, principal.workspace_id, organisation_id
    )
    if organisation is None:
        raise not_found("client organisation")
    if organisation.name != name:
        if await repository.organisation_by_name(uow.session, principal.workspace_id, name):
            raise Problem(409, "organisation-exists", f"{name!r} already exists.")
        organisation.name = name
        uow.emit(
            ClientOrganisationUpdated(
                organisation_id=UUID(organisation.id),
                workspace_id=UUID(principal.workspace_id),
                changes={"name": name},
            ),
            workspace=principal.workspace_id,
            subject=f"organisation/{organisation.id}",
        )
    return organisation
