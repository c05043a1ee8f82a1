"""The identity service's collaborators and its edge dependencies (who is calling)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from fastapi import Depends, Request

from kit import context
from kit.auth import Principal, UserKind, bearer_token, refuse_read_only_writes
from kit.http.deps import unit_of_work
from kit.http.problems import Problem
from kit.runtime import ServiceRuntime
from kit.uow import UnitOfWork
from services.identity.apikeys import repository as apikeys
from services.identity.auth import repository as auth_repository
from services.identity.auth.service import (
    KeyRing,
    LoginLimiter,
    OneTimeTokens,
    Passwords,
    Tokens,
    digest,
)
from services.identity.settings import IdentitySettings, get_settings


@dataclass
class Identity:
    runtime: ServiceRuntime
    settings: IdentitySettings
    passwords: Passwords
    keys: KeyRing
    tokens: Tokens
    links: OneTimeTokens
    limiter: LoginLimiter

    @classmethod
    def build(cls, runtime: ServiceRuntime) -> Identity:
        settings = get_settings()
        keys = KeyRing(settings)
        return cls(
            runtime=runtime,
            settings=settings,
            passwords=Passwords(settings),
            keys=keys,
            tokens=Tokens(runtime.settings, settings, keys),
            links=OneTimeTokens(settings),
            limiter=LoginLimiter(runtime.redis, runtime.settings.key_prefix, settings),
        )


def identity(request: Request) -> Identity:
    found: Identity = request.app.state.identity
    return found


UoW = Annotated[UnitOfWork, Depends(unit_of_work)]
Ident = Annotated[Identity, Depends(identity)]


async def caller(request: Request, uow: UoW, ident: Ident) -> Principal:
    """The caller (see `any_caller`); a read-only API key may not change anything."""
    principal = await any_caller(request, uow, ident)
    refuse_read_only_writes(request, principal)
    return principal


async def any_caller(request: Request, uow: UoW, ident: Ident) -> Principal:
    """A user (Bearer access token) or a user acting through an API key (`X-API-Key`, a Bearer
    API key, or an access token exchanged for one).

    Unlike other services, identity also checks on every call that the user is still active
    and the key not revoked, so a deactivation or a revocation takes effect here at once.
    """
    api_key = request.headers.get("x-api-key")
    token = None if api_key else bearer_token(request)
    if api_key or (token and token.startswith(API_KEY_PREFIX)):
        principal = await _api_key_principal(uow, api_key or token or "")
    else:
        assert token is not None
        principal = await ident.keys.verify(uow, token, ident.runtime.settings)
        if principal.api_key_id is not None:
            # An access token exchanged for an API key: valid while the key is.
            key = await apikeys.key(uow.session, principal.workspace_id, principal.api_key_id)
            if key is None or key.revoked_at is not None:
                raise Problem(401, "invalid-api-key", "The API key was revoked.")
        user = await auth_repository.user_in_workspace(
            uow.session, principal.workspace_id, principal.subject
        )
        if user is None or user.status != "active":
            raise Problem(401, "inactive-user", "This account is not active.")
    context.bind(actor=principal.subject, workspace=principal.workspace_id)
    return principal


API_KEY_PREFIX = "dlk_"


async def _api_key_principal(uow: UnitOfWork, secret: str) -> Principal:
    """The key's creator, as they are now (kind, role, teams), limited by the key's scopes:
    a key does what its person may do and no more, and stops when they leave."""
    key = await apikeys.active_by_hash(uow.session, digest(secret))
    if key is None:
        raise Problem(401, "invalid-api-key", "The API key is not valid or was revoked.")
    person = await auth_repository.user_in_workspace(uow.session, key.workspace_id, key.created_by)
    if person is None or person.status != "active":
        raise Problem(
            401, "inactive-key-owner", "The person this API key acts for is no longer active."
        )
    key.last_used_at = datetime.now(UTC)
    teams = await auth_repository.team_ids_of(uow.session, key.workspace_id, person.id)
    await uow.commit()  # last use is recorded even when the request itself fails later
    return Principal(
        subject=person.id,
        workspace_id=key.workspace_id,
        kind=cast(UserKind, person.kind),
        workspace_role=cast(Literal["admin", "member"], person.workspace_role),
        teams=tuple(teams),
        scopes=tuple(key.scopes),
        client_organisation_id=person.client_organisation_id,
        api_key_id=key.id,
    )


Caller = Annotated[Principal, Depends(caller)]
KeyHolder = Annotated[Principal, Depends(any_caller)]
"""For the API-key exchange, which any key may make (it is a POST that changes nothing)."""


def require_admin(principal: Principal) -> None:
    """The caller is an admin; through an API key, each endpoint also names the scope it
    needs (`require_scope`), so a write key of an admin may, say, create clients."""
    if not principal.holds_admin_role:
        raise Problem(403, "admin-only", "Only workspace admins may do this.")


def require_scope(principal: Principal, scope: str) -> None:
    """API keys carry scopes (read < write < admin); users are limited by their role instead."""
    if not principal.has_scope(scope):
        raise Problem(403, "insufficient-scope", f"This API key lacks the `{scope}` scope.")
