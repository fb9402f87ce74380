"""Fixed-window rate limits, shared through Redis across workers when REDIS_URL is set, else in-process."""

from __future__ import annotations

import math
import threading
import time

from flask import current_app

from miniapp_api.core.errors import ApiError


class MemoryCounter:
    """Counts hits per key and window in this process (the embedded mode)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hits: dict[str, int] = {}

    def hit(self, key: str, window: int, now: float) -> int:
        bucket = f"{key}:{int(now // window)}"
        with self._lock:
            self._hits[bucket] = self._hits.get(bucket, 0) + 1
            return self._hits[bucket]


class RedisCounter:
    def __init__(self, redis_client):
        self._redis = redis_client

    def hit(self, key: str, window: int, now: float) -> int:
        bucket = f"ratelimit:{key}:{int(now // window)}"
        pipe = self._redis.pipeline()
        pipe.incr(bucket)
        pipe.expire(bucket, window + 1)
        return pipe.execute()[0]


def init_app(app) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        import redis

        app.extensions["ratelimit"] = RedisCounter(redis.Redis.from_url(url))
    else:
        app.extensions["ratelimit"] = MemoryCounter()


def limit(key: str, count: int, window: int) -> None:
    """Allow `count` hits per `window` seconds for `key`; beyond that, 429 with Retry-After.

    Windows run on real time, not the app clock: a frozen demo clock must not freeze the limits.
    """
    now = time.time()
    if current_app.extensions["ratelimit"].hit(key, window, now) > count:
        retry_after = max(1, math.ceil(window - now % window))
        raise ApiError(
            429, "rate_limited", "Too many attempts; try again later.", headers={"Retry-After": str(retry_after)}
        )
