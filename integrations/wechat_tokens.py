"""Where the WeChat server access token waits between calls (INTEGRATIONS.md §1a).

One token serves every worker: `RedisTokenCache` shares it through Redis (when `REDIS_URL` is set),
`MemoryTokenCache` keeps it in this process. Entries expire on real time (the token's lifetime is
WeChat's, not the app clock's). The token is a secret: it is never logged, and the caches' reprs do
not show it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import redis

log = logging.getLogger(__name__)

# Deletes the key only while it still holds the token being dropped (another worker may have stored a
# fresher one meanwhile).
_DROP_IF_SAME = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class TokenCache(Protocol):
    """The one access token of an appid, shared by whoever holds the same cache."""

    def get(self) -> str | None:
        """The cached token, or None when there is none or it expired."""
        ...

    def put(self, token: str, ttl: int) -> None:
        """Keep `token` for `ttl` seconds (nothing when `ttl` <= 0)."""
        ...

    def drop(self, token: str) -> None:
        """Forget `token` (WeChat called it invalid) unless a newer token replaced it already."""
        ...


class MemoryTokenCache:
    """In this process only (the embedded mode, one worker)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return "MemoryTokenCache()"

    def get(self) -> str | None:
        with self._lock:
            return self._token if self._token and time.monotonic() < self._expires_at else None

    def put(self, token: str, ttl: int) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._token, self._expires_at = token, time.monotonic() + ttl

    def drop(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token, self._expires_at = None, 0.0


class RedisTokenCache:
    """Shared by every worker and host on the same Redis. If Redis fails, the client still works:
    a read is a miss (a token is fetched) and a write is skipped, each with a warning."""

    def __init__(self, client: redis.Redis, key: str):
        self.redis = client
        self.key = key

    @classmethod
    def from_url(cls, url: str, appid: str) -> RedisTokenCache:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return cls(client, f"wechat:access_token:{appid}")

    def __repr__(self) -> str:
        return f"RedisTokenCache(key={self.key!r})"

    def get(self) -> str | None:
        try:
            value = self.redis.get(self.key)
        except redis.RedisError as exc:
            log.warning("WeChat token cache unavailable (%s): fetching a token", type(exc).__name__)
            return None
        if isinstance(value, bytes):
            return value.decode() or None
        return value or None

    def put(self, token: str, ttl: int) -> None:
        if ttl <= 0:
            return
        try:
            self.redis.set(self.key, token, ex=ttl)
        except redis.RedisError as exc:
            log.warning("WeChat token cache unavailable (%s): token not shared", type(exc).__name__)

    def drop(self, token: str) -> None:
        try:
            self.redis.eval(_DROP_IF_SAME, 1, self.key, token)
        except redis.RedisError as exc:
            log.warning("WeChat token cache unavailable (%s): stale token not dropped", type(exc).__name__)
