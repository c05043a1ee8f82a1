"""Passwords, signing keys, access and refresh tokens, one-time links, login rate limits.

- Passwords: Argon2id (argon2-cffi), hashed off the event loop.
- Access tokens: JWT signed with Ed25519 (EdDSA); the public keys are served as
  JWKS so every service verifies tokens itself. Lifetime ≤ 10 minutes, which is
  also how long a deactivated user's token can still work at other services.
- Refresh tokens: opaque, stored hashed, rotated on every use; presenting a
  rotated one again means it was stolen, so the whole family (the login) is
  revoked.
- One-time tokens (invitation, claim, reset): opaque, hashed, single use, expiring.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from redis.asyncio import Redis
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from uuid6 import uuid7

from kit.auth import ALGORITHMS, Principal, principal_from_claims
from kit.http.problems import Problem
from kit.settings import Settings
from kit.uow import UnitOfWork
from services.identity.auth import repository
from services.identity.models import OneTimeToken, RefreshToken, SigningKey, User
from services.identity.settings import IdentitySettings


def new_id() -> str:
    return str(uuid7())


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Passwords:
    def __init__(self, settings: IdentitySettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
        )
        # Verified against when the account does not exist, so timing does not tell.
        self._decoy = self._hasher.hash(new_secret())

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            await asyncio.to_thread(self._hasher.verify, password_hash or self._decoy, password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private: Ed25519PrivateKey
    public_jwk: dict[str, Any]


class KeyRing:
    """The Ed25519 keys identity signs with; generated on first use unless configured."""

    def __init__(self, settings: IdentitySettings) -> None:
        self._configured = settings.signing_key_pem
        self._cached: LoadedKey | None = None
        self._published: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def signing_key(self, uow: UnitOfWork) -> LoadedKey:
        if self._cached is not None:
            return self._cached
        async with self._lock:
            if self._cached is None:
                self._cached = await self._load_or_create(uow)
        return self._cached

    async def _load_or_create(self, uow: UnitOfWork) -> LoadedKey:
        stored = await repository.active_signing_key(uow.session)
        if stored is None:
            pem = self._configured or _new_private_pem()
            candidate = _key_from_pem(pem)
            # Its own short transaction: the key must exist before any token signed with it.
            async with uow.session.bind.connect() as connection:  # type: ignore[union-attr]
                try:
                    await connection.execute(
                        insert(SigningKey).values(
                            kid=candidate.kid,
                            private_pem=pem,
                            public_jwk=candidate.public_jwk,
                            active=True,
                            created_at=now(),
                        )
                    )
                    await connection.commit()
                except IntegrityError:
                    await connection.rollback()  # another process created the same key
            stored = await repository.active_signing_key(uow.session)
            assert stored is not None
        return _key_from_pem(stored.private_pem)

    async def jwks(self, uow: UnitOfWork) -> dict[str, Any]:
        await self.signing_key(uow)
        keys = await repository.published_keys(uow.session)
        return {"keys": [key.public_jwk for key in keys]}

    async def _public_key(self, uow: UnitOfWork, token: str) -> Any:
        """The published key the token names: replicas may each have generated one."""
        own = await self.signing_key(uow)
        kid = jwt.get_unverified_header(token).get("kid")
        if kid in (None, own.kid):
            return own.private.public_key()
        if kid not in self._published:
            for stored in await repository.published_keys(uow.session):
                self._published[stored.public_jwk["kid"]] = jwt.PyJWK(stored.public_jwk).key
        if kid not in self._published:
            raise jwt.InvalidKeyError(f"unknown key id {kid!r}")
        return self._published[kid]

    async def verify(self, uow: UnitOfWork, token: str, settings: Settings) -> Principal:
        try:
            claims = jwt.decode(
                token,
                await self._public_key(uow, token),
                algorithms=ALGORITHMS,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise Problem(
                401,
                "invalid-token",
                f"The access token is not valid: {error}",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from error
        return principal_from_claims(claims)


def _new_private_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _key_from_pem(pem: str) -> LoadedKey:
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError("the identity signing key must be Ed25519")
    public: Ed25519PublicKey = private.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = hashlib.sha256(raw).hexdigest()[:16]
    jwk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": kid,
        "x": jwt.utils.base64url_encode(raw).decode(),
    }
    return LoadedKey(kid, private, jwk)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


class Reused:
    """Outcome of presenting an already-rotated refresh token."""


class Tokens:
    def __init__(self, settings: Settings, identity: IdentitySettings, keys: KeyRing) -> None:
        self._settings = settings
        self._identity = identity
        self._keys = keys

    async def issue(
        self, uow: UnitOfWork, user: User, *, family_id: str | None = None
    ) -> TokenPair:
        key = await self._keys.signing_key(uow)
        issued = now()
        ttl = self._identity.access_token_ttl_seconds
        claims: dict[str, Any] = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "sub": user.id,
            "wid": user.workspace_id,
            "kind": user.kind,
            "role": user.workspace_role,
            "teams": await repository.team_ids_of(uow.session, user.workspace_id, user.id),
            "org": user.client_organisation_id,
            "iat": int(issued.timestamp()),
            "exp": int((issued + timedelta(seconds=ttl)).timestamp()),
            "jti": new_id(),
        }
        access = jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})
        refresh = new_secret()
        uow.session.add(
            RefreshToken(
                id=new_id(),
                workspace_id=user.workspace_id,
                user_id=user.id,
                family_id=family_id or new_id(),
                token_hash=digest(refresh),
                expires_at=issued + timedelta(days=self._identity.refresh_token_ttl_days),
                created_at=issued,
            )
        )
        return TokenPair(access, refresh, ttl)

    async def issue_for_api_key(self, uow: UnitOfWork, key: Principal) -> tuple[str, int]:
        """A short-lived access token of the person an API key acts for (their kind, role and
        teams), naming the key and its scopes, so services that verify only access tokens
        serve calls made with the key as that person, capped by the scopes."""
        assert key.api_key_id is not None
        signing = await self._keys.signing_key(uow)
        issued = now()
        ttl = self._identity.access_token_ttl_seconds
        claims: dict[str, Any] = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "sub": key.subject,
            "wid": key.workspace_id,
            "kind": key.kind,
            "role": key.workspace_role,
            "teams": list(key.teams),
            "org": key.client_organisation_id,
            "scopes": list(key.scopes),
            "api_key": key.api_key_id,
            "iat": int(issued.timestamp()),
            "exp": int((issued + timedelta(seconds=ttl)).timestamp()),
            "jti": new_id(),
        }
        token = jwt.encode(claims, signing.private, algorithm="EdDSA", headers={"kid": signing.kid})
        return token, ttl

    async def rotate(self, uow: UnitOfWork, refresh_token: str) -> TokenPair | Reused:
        """A new pair for a valid token; `Reused` (family revoked, to be committed) for a
        token that was already rotated."""
        moment = now()
        stored = await repository.refresh_token_by_hash(uow.session, digest(refresh_token))
        refused = Problem(401, "invalid-refresh-token", "The refresh token is not valid.")
        if stored is None or stored.revoked_at is not None or aware(stored.expires_at) <= moment:
            raise refused
        if stored.rotated_at is not None:
            # A rotated token came back: someone kept a copy. End that login everywhere.
            await repository.revoke_family(uow.session, stored.family_id, moment)
            return Reused()
        user = await repository.user_in_workspace(uow.session, stored.workspace_id, stored.user_id)
        if user is None or user.status != "active":
            raise refused
        stored.rotated_at = moment
        return await self.issue(uow, user, family_id=stored.family_id)

    async def revoke(self, uow: UnitOfWork, refresh_token: str) -> None:
        stored = await repository.refresh_token_by_hash(uow.session, digest(refresh_token))
        if stored is not None:
            await repository.revoke_family(uow.session, stored.family_id, now())


class OneTimeTokens:
    """Single-use, expiring links (invitation, claim, password reset)."""

    def __init__(self, identity: IdentitySettings) -> None:
        self._identity = identity

    def lifetime(self, purpose: str) -> timedelta:
        if purpose == "password_reset":
            return timedelta(minutes=self._identity.reset_ttl_minutes)
        return timedelta(hours=self._identity.invitation_ttl_hours)

    def create(self, uow: UnitOfWork, user: User, purpose: str) -> tuple[OneTimeToken, str]:
        secret = new_secret()
        issued = now()
        token = OneTimeToken(
            id=new_id(),
            workspace_id=user.workspace_id,
            user_id=user.id,
            purpose=purpose,
            token_hash=digest(secret),
            expires_at=issued + self.lifetime(purpose),
            created_at=issued,
        )
        uow.session.add(token)
        return token, secret

    def link(self, purpose: str, secret: str) -> str:
        path = {
            "invite": "accept-invitation",
            "claim": "claim-account",
            "password_reset": "reset-password",
        }[purpose]
        return f"{self._identity.public_url.rstrip('/')}/{path}?token={secret}"

    async def redeem(self, uow: UnitOfWork, secret: str, purposes: set[str]) -> OneTimeToken:
        stored = await repository.one_time_token_by_hash(uow.session, digest(secret))
        if stored is None or stored.purpose not in purposes:
            raise Problem(400, "invalid-link", "This link is not valid.")
        if stored.used_at is not None:
            raise Problem(410, "link-used", "This link was already used.")
        if aware(stored.expires_at) <= now():
            raise Problem(410, "link-expired", "This link has expired; ask for a new one.")
        stored.used_at = now()
        return stored


class LoginLimiter:
    """Failed-or-not login attempts counted in Redis per account and per client address.

    The counter is incremented before the password is checked, atomically, so
    parallel guesses cannot slip past the limit.
    """

    def __init__(self, redis: Redis, prefix: str, identity: IdentitySettings) -> None:
        self._redis = redis
        self._prefix = prefix
        self._identity = identity

    def _account_key(self, workspace: str, email: str) -> str:
        return f"{self._prefix}login:account:{workspace}:{email.lower()}"

    async def attempt(self, workspace: str, email: str, ip: str) -> None:
        window = self._identity.login_window_seconds
        limits = (
            (self._account_key(workspace, email), self._identity.login_attempts_per_account),
            (f"{self._prefix}login:ip:{ip}", self._identity.login_attempts_per_ip),
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            for key, _limit in limits:
                pipe.incr(key)
                pipe.expire(key, window, nx=True)
            counts = await pipe.execute()
        for index, (key, limit) in enumerate(limits):
            if int(counts[index * 2]) > limit:
                retry_after = max(int(await self._redis.ttl(key)), 1)
                raise Problem(
                    429,
                    "too-many-attempts",
                    "Too many login attempts; try again later.",
                    headers={"Retry-After": str(retry_after)},
                    retry_after=retry_after,
                )

    async def succeeded(self, workspace: str, email: str, ip: str) -> None:
        """Only failures should count: a good login clears the account's counter and takes
        its own attempt back from the address's (an office behind one address must not lock
        itself out by logging in)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._account_key(workspace, email))
            pipe.decr(f"{self._prefix}login:ip:{ip}")
            await pipe.execute()
