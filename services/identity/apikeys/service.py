"""API keys for integrations: scoped, shown once, stored as a SHA-256 hash, revocable.

A key acts as the person who created it, as they are at each call (kind, role, teams),
capped by its scopes: `read` sees what they see, `write` also changes what they may change,
`admin` adds their workspace admin powers. A key of a person no longer active stops working.

The key carries 256 bits of randomness, so a fast hash is enough (no password
stretching needed), and other services can verify keys from the hash that
`identity.apikey.created.v1` carries.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from contracts.identity import ApiKeyCreated, ApiKeyRevoked, ApiKeyScope
from kit.auth import Principal
from kit.http.problems import Problem
from kit.uow import UnitOfWork
from services.identity.apikeys import repository
from services.identity.auth.service import digest, new_id, new_secret, now
from services.identity.dependencies import API_KEY_PREFIX
from services.identity.models import ApiKey


async def create(
    uow: UnitOfWork, principal: Principal, name: str, scopes: list[str]
) -> tuple[ApiKey, str]:
    secret = API_KEY_PREFIX + new_secret()
    key = ApiKey(
        id=new_id(),
        workspace_id=principal.workspace_id,
        name=name,
        prefix=secret[:10],
        key_hash=digest(secret),
        scopes=sorted(set(scopes)),
        created_by=principal.subject,
        created_at=now(),
    )
    uow.session.add(key)
    uow.emit(
        ApiKeyCreated(
            key_id=UUID(key.id),
            workspace_id=UUID(key.workspace_id),
            name=name,
            prefix=key.prefix,
            key_hash=key.key_hash,
            scopes=[cast(ApiKeyScope, s) for s in key.scopes],
            created_by=UUID(principal.subject),
        ),
        workspace=key.workspace_id,
        subject=f"apikey/{key.id}",
    )
    return key, secret


async def revoke(uow: UnitOfWork, principal: Principal, key_id: str) -> ApiKey:
    key = await repository.key(uow.session, principal.workspace_id, key_id)
    if key is None:
        raise Problem(404, "not-found", "No such API key.")
    if key.revoked_at is None:
        key.revoked_at = now()
        uow.emit(
            ApiKeyRevoked(key_id=UUID(key.id), workspace_id=UUID(key.workspace_id)),
            workspace=key.workspace_id,
            subject=f"apikey/{key.id}",
        )
    return key
