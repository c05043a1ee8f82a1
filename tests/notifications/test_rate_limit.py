"""The per-sender limit on real Redis: a sender's mails count per workspace; past the limit a
mail is refused with when to come back, and the refused attempt is not counted (nor, for a
mail to several workspaces, counted in any); mail that is never answered anyway, or whose
headers cannot be read, is not counted; with Redis away, mail is taken."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.notifications.inbound.ratelimit import RateLimit
from services.notifications.settings import NotificationsSettings
from tests.notifications.conftest import DOMAIN
from tests.notifications.test_mail_in import mail
from tests.support.harness import free_port

LIMIT = 2


def raw(sender: str, **headers: str) -> bytes:
    return mail(sender, f"acme@{DOMAIN}", "Hello", "A request.", **headers).as_bytes()


@pytest.fixture
async def limiter(redis_url: str, session_tag: str) -> AsyncIterator[RateLimit]:
    redis = Redis.from_url(redis_url)
    prefix = f"dltest:{session_tag}:rate:{uuid.uuid4().hex[:8]}:"
    settings = NotificationsSettings(
        inbound_domain=DOMAIN, rate_limit_mails=LIMIT, rate_limit_window_seconds=600
    )
    try:
        yield RateLimit(redis, prefix, settings)
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_past_the_limit_a_mail_is_refused_and_the_refusal_not_counted(
    limiter: RateLimit,
) -> None:
    acme, globex = str(uuid.uuid4()), str(uuid.uuid4())
    mail_of_ann = raw("Ann <ann@client.test>")
    for _ in range(LIMIT):
        assert (
            await limiter.admit(mail_of_ann, mail_from="ann@client.test", workspace_ids={acme})
            is None
        )
    refused = await limiter.admit(mail_of_ann, mail_from="ann@client.test", workspace_ids={acme})
    assert refused is not None
    assert 1 <= refused.retry_after <= 600
    assert refused.reason.startswith(f"rate limit: more than {LIMIT} mails in 600 s from sender")
    assert refused.head.sender_email == "ann@client.test"
    # Another sender, and the same sender to another workspace, have counts of their own.
    bob = raw("bob@client.test")
    assert await limiter.admit(bob, mail_from="bob@client.test", workspace_ids={acme}) is None
    assert await limiter.admit(mail_of_ann, mail_from="a@x", workspace_ids={globex}) is None
    # One mail to both: refused (Acme is past the limit), and not counted at Globex either.
    both = await limiter.admit(mail_of_ann, mail_from="a@x", workspace_ids={acme, globex})
    assert both is not None
    assert await limiter.admit(mail_of_ann, mail_from="a@x", workspace_ids={globex}) is None
    assert await limiter.admit(mail_of_ann, mail_from="a@x", workspace_ids={globex}) is not None


async def test_noise_and_unreadable_headers_are_left_to_the_processor(limiter: RateLimit) -> None:
    acme = str(uuid.uuid4())
    loop = raw("robot@client.test", Auto_Submitted="auto-replied")
    bounce = raw("robot@client.test")
    for _ in range(LIMIT + 2):
        assert (
            await limiter.admit(loop, mail_from="robot@client.test", workspace_ids={acme}) is None
        )
        assert await limiter.admit(bounce, mail_from="<>", workspace_ids={acme}) is None
        assert await limiter.admit(b"\x00\xff", mail_from="x@y", workspace_ids={acme}) is None
    # None of it counted: the robot's first ordinary mails are taken.
    ordinary = raw("robot@client.test")
    for _ in range(LIMIT):
        assert (
            await limiter.admit(ordinary, mail_from="robot@client.test", workspace_ids={acme})
            is None
        )


async def test_with_redis_away_mail_is_taken() -> None:
    settings = NotificationsSettings(inbound_domain=DOMAIN, rate_limit_mails=1)
    # Nothing listens there; no retries, so the test does not wait out the client's back-off.
    away = Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))
    limiter = RateLimit(away, "dltest:away:", settings)
    try:
        for _ in range(2):  # the second would be refused, were anything counted
            taken = await limiter.admit(
                raw("ann@client.test"), mail_from="a@x", workspace_ids={"w"}
            )
            assert taken is None
    finally:
        await away.aclose()
