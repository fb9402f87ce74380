"""Rate limits on the `limits` library: shared through Redis across workers and hosts when `REDIS_URL`
is set, else in this process (the embedded mode), where its memory storage expires spent windows.

Windows run on real time, not the app clock: a frozen demo clock must not freeze the limits.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from miniapp_api.core.errors import ApiError

PREFIX = "ratelimit"


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    storage = storage_from_string(url, key_prefix=PREFIX) if url else storage_from_string("memory://")
    app.extensions["ratelimit"] = FixedWindowRateLimiter(storage)


def limit(key: str, count: int, window: int) -> None:
    """Count one hit for `key`; beyond `count` hits in `window` seconds, 429 with Retry-After."""
    item = _item(count, window)
    if not _limiter().hit(item, key):
        raise _refusal(item, key)


def refuse_if_spent(key: str, count: int, window: int) -> None:
    """429 when `count` hits were already counted for `key` in this window; counts nothing itself
    (with `count_one`: limits on failures only, such as wrong attempts against one ID number)."""
    item = _item(count, window)
    if not _limiter().test(item, key):
        raise _refusal(item, key)


def count_one(key: str, count: int, window: int) -> None:
    """Count one hit for `key` without refusing (the next `refuse_if_spent` will)."""
    _limiter().hit(_item(count, window), key)


def _item(count: int, window: int) -> RateLimitItem:
    return RateLimitItemPerSecond(count, window)


def _limiter() -> FixedWindowRateLimiter:
    return current_app.extensions["ratelimit"]


def _refusal(item: RateLimitItem, key: str) -> ApiError:
    reset_at = _limiter().get_window_stats(item, key).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return ApiError(
        429, "rate_limited", "Too many attempts; try again later.", headers={"Retry-After": str(retry_after)}
    )
