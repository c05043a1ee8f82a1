"""API keys (admins): create (secret shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request

from kit.http.problems import Problem
from services.identity.apikeys import repository, service
from services.identity.apikeys.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyToken
from services.identity.dependencies import (
    API_KEY_PREFIX,
    Caller,
    Ident,
    KeyHolder,
    UoW,
    require_admin,
    require_scope,
)
from services.identity.models import ApiKey as ApiKeyRow

router = APIRouter(tags=["api keys"])


def _out(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=row.scopes,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _admin_user(principal: Caller) -> None:
    require_admin(principal)
    if principal.api_key_id is not None:
        raise Problem(403, "users-only", "API keys are managed by admins, not by other keys.")


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_key(body: ApiKeyCreate, principal: Caller, uow: UoW) -> ApiKeyCreated:
    _admin_user(principal)
    row, secret = await service.create(uow, principal, body.name, list(body.scopes))
    await uow.commit()
    return ApiKeyCreated(key=secret, **_out(row).model_dump())


@router.get("/api-keys", response_model=list[ApiKey])
async def list_keys(principal: Caller, uow: UoW) -> list[ApiKey]:
    _admin_user(principal)
    return [_out(r) for r in await repository.keys(uow.session, principal.workspace_id)]


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKey)
async def revoke_key(key_id: str, principal: Caller, uow: UoW) -> ApiKey:
    _admin_user(principal)
    require_scope(principal, "admin")
    row = await service.revoke(uow, principal, key_id)
    await uow.commit()
    return _out(row)


@router.post("/api-keys/token", response_model=ApiKeyToken)
async def exchange_key(
    request: Request, principal: KeyHolder, uow: UoW, ident: Ident
) -> ApiKeyToken:
    """Exchange an API key (sent as `X-API-Key`) for a short-lived access token of the person
    the key acts for, capped by the key's scopes, which every service verifies itself (the
    integrations gateway forwards tools' calls with it)."""
    # Only the secret itself: a token already exchanged would carry its person's role and
    # teams as they were, and could be renewed that way for ever.
    _, _, bearer = request.headers.get("authorization", "").partition(" ")
    sent_secret = "x-api-key" in request.headers or bearer.strip().startswith(API_KEY_PREFIX)
    if principal.api_key_id is None or not sent_secret:
        raise Problem(400, "api-key-only", "Send the API key itself as `X-API-Key`.")
    token, ttl = await ident.tokens.issue_for_api_key(uow, principal)
    await uow.commit()
    return ApiKeyToken(access_token=token, expires_in=ttl)
