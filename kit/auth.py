"""Verifying identity's access tokens in any service, without calling identity.

Identity signs short-lived JWTs with an Ed25519 key (EdDSA) and publishes the
public half as JWKS; every service verifies tokens locally with it. Issuance
belongs to the identity service.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from fastapi import Request
from jwt import PyJWK, PyJWKClient

from kit import context
from kit.http.problems import Problem
from kit.settings import Settings

UserKind = Literal["staff", "collaborator", "client", "service"]
ALGORITHMS = ["EdDSA"]
VERIFIED_TOKENS_KEPT = 10_000
SCOPE_RANK = {"read": 0, "write": 1, "admin": 2}
"""API key scopes, each including the ones below it."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the token states it; authorisation checks start from here."""

    subject: str
    workspace_id: str
    kind: UserKind
    workspace_role: Literal["admin", "member"] = "member"
    teams: tuple[str, ...] = ()
    scopes: tuple[str, ...] = field(default=())
    client_organisation_id: str | None = None
    """The client organisation of a `client`: with `organisation` visibility they see its items."""
    api_key_id: str | None = None
    """Set when the person acts through an API key: the key's `scopes` then cap what they may
    do (read < write < admin). People's own tokens and the platform's principals carry none."""

    @property
    def holds_admin_role(self) -> bool:
        """The person is a workspace admin, so sees and works on every project of it, whatever
        an API key they act through may do. Staff only, whatever a token of a collaborator or
        client might claim."""
        return self.workspace_role == "admin" and self.kind in ("staff", "service")

    @property
    def is_admin(self) -> bool:
        """Admin powers: an admin's own token, or an API key of theirs with the `admin` scope."""
        return self.holds_admin_role and self.has_scope("admin")

    def has_scope(self, scope: str) -> bool:
        """Whether an API key's scopes reach `scope`; a caller without a key is not limited by
        scopes (their role decides)."""
        if self.api_key_id is None:
            return True
        held = max((SCOPE_RANK[s] for s in self.scopes if s in SCOPE_RANK), default=-1)
        return held >= SCOPE_RANK[scope]

    @property
    def is_client(self) -> bool:
        return self.kind == "client"


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        static_keys: list[Any] | None = None,
        jwks_url: str | None = None,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._static_keys = static_keys or []
        self._jwks = PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        keys: list[Any] = []
        if settings.jwt_public_key:
            keys = load_public_keys(settings.jwt_public_key)
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            static_keys=keys,
            jwks_url=None if keys else settings.jwks_url,
        )

    async def verify(self, token: str) -> Principal:
        """The token's caller. A token verified before is not verified again until it expires:
        the same string carries the same signed claims (every request of a client sends the
        same token, and checking its signature costs more than the rest of a small request)."""
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires = await self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()  # simplest bound; the next requests verify again
        self._verified[token] = (principal, expires)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            key = await self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError) as error:
            raise Problem(
                401,
                "invalid-token",
                f"The access token is not valid: {error}",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from error
        return principal_from_claims(claims), float(claims["exp"])

    async def _key_for(self, token: str) -> Any:
        if self._jwks is not None:
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            return signing_key.key
        if not self._static_keys:
            raise ValueError("no verification key configured (DESKLINE_JWT_PUBLIC_KEY[_URL])")
        kid = jwt.get_unverified_header(token).get("kid")
        for key_id, key in self._static_keys:
            if kid is None or key_id in (None, kid):
                return key
        raise ValueError(f"unknown key id {kid!r}")


def load_public_keys(material: str) -> list[Any]:
    """PEM, a single JWK or a JWKS document → [(kid, key), ...]."""
    text = material.strip()
    if text.startswith("{"):
        document = json.loads(text)
        entries = document.get("keys", [document])
        return [(entry.get("kid"), PyJWK(entry).key) for entry in entries]
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return [(None, load_pem_public_key(text.encode()))]


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        return Principal(
            subject=str(claims["sub"]),
            workspace_id=str(claims["wid"]),
            kind=claims.get("kind", "staff"),
            workspace_role=claims.get("role", "member"),
            teams=tuple(claims.get("teams", ())),
            scopes=tuple(claims.get("scopes", ())),
            client_organisation_id=_optional_str(claims.get("org")),
            api_key_id=_optional_str(claims.get("api_key")),
        )
    except KeyError as error:
        raise Problem(401, "invalid-token", f"The access token lacks the {error} claim.") from error


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(
            401,
            "unauthenticated",
            "Send an access token as `Authorization: Bearer`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_read_only_writes(request: Request, principal: Principal) -> None:
    """A read-scoped API key changes nothing, whatever the endpoint checks after this: many
    writes are the caller's own (their comment, their timer, their preferences) and are
    allowed to anyone who may view, so the scope is enforced once, here, by method."""
    if (
        principal.api_key_id is not None
        and request.method not in SAFE_METHODS
        and not principal.has_scope("write")
    ):
        raise Problem(403, "insufficient-scope", "This API key may only read (scope `read`).")


async def authenticated(request: Request) -> Principal:
    """FastAPI dependency: the verified caller of this request."""
    verifier: TokenVerifier = request.app.state.runtime.token_verifier
    principal = await verifier.verify(bearer_token(request))
    refuse_read_only_writes(request, principal)
    # From here on, logs and the events this request publishes name the caller.
    context.bind(actor=principal.subject, workspace=principal.workspace_id)
    return principal
