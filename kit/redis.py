"""Redis, or an in-process stand-in (fakeredis) when no server is configured."""

from __future__ import annotations

from redis.asyncio import Redis

from kit.settings import Settings


def make_redis(settings: Settings) -> Redis:
    if settings.redis_url:
        return Redis.from_url(settings.redis_url, decode_responses=False)
    import fakeredis

    fake: Redis = fakeredis.FakeAsyncRedis()
    return fake
