"""Callback nonces seen in the last 10 minutes, shared by every worker and host.

With `REDIS_URL`: one key per nonce, `SET NX EX 600`. Without: the `seen_nonces` table, where the
primary key decides races and rows older than the window are deleted as new nonces arrive.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError

from miniapp_api.core.clock import clock
from models import SeenNonce, db

WINDOW = dt.timedelta(minutes=10)
REDIS_PREFIX = "tax-callback-nonce:"


class NonceStore(Protocol):
    def claim(self, nonce: str) -> bool:
        """True the first time `nonce` is seen within the window, False for a replay."""


class RedisNonces:
    def __init__(self, client):
        self._redis = client

    def claim(self, nonce: str) -> bool:
        key = REDIS_PREFIX + nonce
        return bool(self._redis.set(key, b"1", nx=True, ex=int(WINDOW.total_seconds())))


class DatabaseNonces:
    """Its own short transaction, committed at once (like Redis), apart from the request's session."""

    def claim(self, nonce: str) -> bool:
        now = clock().now()
        try:
            with db.engine.begin() as connection:
                connection.execute(db.delete(SeenNonce).where(SeenNonce.seen_at < now - WINDOW))
                connection.execute(db.insert(SeenNonce).values(nonce=nonce, seen_at=now))
        except IntegrityError:
            return False
        return True


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        import redis

        app.extensions["nonces"] = RedisNonces(redis.Redis.from_url(url))
    else:
        app.extensions["nonces"] = DatabaseNonces()


def claim(nonce: str) -> bool:
    """Claim a callback nonce; False when it was already seen in the last 10 minutes."""
    return current_app.extensions["nonces"].claim(nonce)
