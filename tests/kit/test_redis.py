"""The in-process Redis stand-in of the embedded mode must answer as the real server does
for what the services use: counters with expiry (rate limits) and SET NX locks (schedulers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from kit.redis import make_redis
from kit.settings import Settings


@pytest.fixture(params=["stand-in", "real"])
async def client(
    request: pytest.FixtureRequest, redis: Redis, tmp_path: Path
) -> AsyncIterator[Redis]:
    if request.param == "real":
        yield redis
        return
    stand_in = make_redis(Settings(var_dir=tmp_path))
    yield stand_in
    await stand_in.aclose()


async def test_counters_with_expiry(client: Redis, redis_prefix: str) -> None:
    key = f"{redis_prefix}login:alice"
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, 60, nx=True)
        first = await pipe.execute()
    second = await client.incr(key)
    assert first[0] == 1
    assert second == 2
    assert 0 < await client.ttl(key) <= 60


async def test_set_nx_locks_admit_one_holder(client: Redis, redis_prefix: str) -> None:
    key = f"{redis_prefix}lock:breach:item-1"
    assert await client.set(key, "process-a", nx=True, px=5000)
    assert not await client.set(key, "process-b", nx=True, px=5000)
    assert await client.get(key) == b"process-a"
    assert 0 < await client.pttl(key) <= 5000


def test_real_redis_is_used_when_configured(redis_url: str) -> None:
    assert type(make_redis(Settings(redis_url=redis_url))) is Redis
