"""Login, token refresh and logout, JWKS, one-time links (accept invitation, claim, reset)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from kit.http.deps import client_ip
from kit.http.problems import Problem
from services.identity.auth import repository
from services.identity.auth.schemas import (
    LinkRequest,
    LoginRequest,
    Me,
    RedeemLink,
    RefreshRequest,
    TokenPairOut,
)
from services.identity.auth.service import Reused, TokenPair
from services.identity.dependencies import Caller, Ident, UoW
from services.identity.people import service as people

router = APIRouter(tags=["authentication"])


def _out(pair: TokenPair) -> TokenPairOut:
    return TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


@router.post("/auth/login", response_model=TokenPairOut)
async def login(body: LoginRequest, request: Request, uow: UoW, ident: Ident) -> TokenPairOut:
    """Exchange e-mail and password for an access token and a refresh token."""
    await ident.limiter.attempt(body.workspace, body.email, client_ip(request))
    user = await repository.user_by_login(uow.session, body.workspace, body.email)
    valid = await ident.passwords.verify(user.password_hash if user else None, body.password)
    if user is None or not valid or user.status != "active":
        raise Problem(401, "invalid-credentials", "The e-mail or password is not right.")
    await ident.limiter.succeeded(body.workspace, body.email, client_ip(request))
    pair = await ident.tokens.issue(uow, user)
    await uow.commit()
    return _out(pair)


@router.post("/auth/refresh", response_model=TokenPairOut)
async def refresh(body: RefreshRequest, uow: UoW, ident: Ident) -> TokenPairOut:
    """Rotate: the presented refresh token stops working and a new pair is returned."""
    outcome = await ident.tokens.rotate(uow, body.refresh_token)
    await uow.commit()
    if isinstance(outcome, Reused):
        raise Problem(
            401,
            "refresh-token-reused",
            "This refresh token was already used; the session has been revoked.",
        )
    return _out(outcome)


@router.post("/auth/logout", status_code=204)
async def logout(body: RefreshRequest, uow: UoW, ident: Ident) -> Response:
    """End this login: its refresh token family is revoked."""
    await ident.tokens.revoke(uow, body.refresh_token)
    await uow.commit()
    return Response(status_code=204)


@router.get("/.well-known/jwks.json", include_in_schema=True)
async def jwks(uow: UoW, ident: Ident) -> dict[str, Any]:
    """Public keys that verify identity's access tokens (read by every other service)."""
    return await ident.keys.jwks(uow)


@router.get("/me", response_model=Me)
async def me(principal: Caller, uow: UoW) -> Me:
    user = await repository.user_in_workspace(
        uow.session, principal.workspace_id, principal.subject
    )
    return Me(
        user_id=principal.subject,
        workspace_id=principal.workspace_id,
        kind=principal.kind,
        workspace_role=principal.workspace_role,
        teams=list(principal.teams),
        scopes=list(principal.scopes),
        api_key_id=principal.api_key_id,
        email=user.email if user else None,
        display_name=user.display_name if user else None,
        client_organisation_id=user.client_organisation_id if user else None,
    )


@router.post("/auth/password-reset", status_code=202)
async def request_reset(body: LinkRequest, request: Request, uow: UoW, ident: Ident) -> Response:
    """Mail a reset link (or, for an account created from an e-mail, a claim link).

    Always 202, whether the account exists or not, so addresses cannot be probed.
    """
    await ident.limiter.attempt(body.workspace, body.email, client_ip(request))
    await people.send_reset_link(uow, ident, body.workspace, body.email)
    await uow.commit()
    return Response(status_code=202)


@router.post("/auth/password-reset/complete", response_model=TokenPairOut)
async def complete_reset(body: RedeemLink, uow: UoW, ident: Ident) -> TokenPairOut:
    """Set a new password with a reset or claim link; all other sessions end."""
    user = await people.redeem_link(
        uow, ident, body.token, {"password_reset", "claim"}, body.password, body.display_name
    )
    pair = await ident.tokens.issue(uow, user)
    await uow.commit()
    return _out(pair)


@router.post("/invitations/accept", response_model=TokenPairOut)
async def accept_invitation(body: RedeemLink, uow: UoW, ident: Ident) -> TokenPairOut:
    """Accept an invitation: set the password and log in."""
    user = await people.redeem_link(
        uow, ident, body.token, {"invite"}, body.password, body.display_name
    )
    pair = await ident.tokens.issue(uow, user)
    await uow.commit()
    return _out(pair)
