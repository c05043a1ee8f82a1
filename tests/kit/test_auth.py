"""Token verification: a token verified once is trusted until it expires, never after, and
never any other string (a changed signature or claim is a different token, verified afresh)."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kit.auth import TokenVerifier, load_public_keys
from kit.http.problems import Problem

KEY = Ed25519PrivateKey.generate()


def verifier() -> TokenVerifier:
    pem = (
        KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return TokenVerifier(
        issuer="deskline-identity", audience="deskline", static_keys=load_public_keys(pem)
    )


def mint(expires_in: int, subject: str = "u1", key: Ed25519PrivateKey = KEY) -> str:
    now = int(time.time())
    claims = {
        "sub": subject,
        "wid": "w1",
        "iss": "deskline-identity",
        "aud": "deskline",
        "iat": now,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, key, algorithm="EdDSA")


async def test_a_verified_token_is_trusted_until_it_expires() -> None:
    tokens = verifier()
    token = mint(1)
    first = await tokens.verify(token)
    assert first.subject == "u1" and first.workspace_id == "w1"
    assert await tokens.verify(token) == first
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    await asyncio.sleep(max(0.0, expires - time.time()) + 1.1)  # past `exp` by PyJWT's clock
    with pytest.raises(Problem) as expired:
        await tokens.verify(token)
    assert expired.value.status == 401


async def test_other_strings_are_verified_afresh() -> None:
    tokens = verifier()
    token = mint(60)
    await tokens.verify(token)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    forged = mint(60, subject="u1", key=Ed25519PrivateKey.generate())
    for bad in (tampered, forged, mint(-10)):
        with pytest.raises(Problem) as refused:
            await tokens.verify(bad)
        assert refused.value.status == 401
