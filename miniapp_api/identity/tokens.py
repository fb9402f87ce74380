"""Access tokens: HS256 JWTs signed with SECRET_KEY, short-lived, checked against the app clock.

Each token carries its user's `token_generation` (`gen`) at issue; raising the user's generation
(their binding moved to the face-verified person, or agency staff ended it) ends every token issued
before at once.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import jwt
from flask import current_app

from miniapp_api.core.clock import clock

ALGORITHM = "HS256"
LIFETIME = dt.timedelta(hours=2)


@dataclass(frozen=True)
class Subject:
    """Whom a genuine, unexpired token names: the user, in the token generation it was issued in."""

    user_id: int
    generation: int


def issue(user_id: int, generation: int = 0) -> tuple[str, int]:
    """A token for the WeChat user in their current `token_generation`, and its lifetime in seconds."""
    now = clock().now()
    claims = {
        "sub": str(user_id),
        "gen": generation,
        "iat": int(now.timestamp()),
        "exp": int((now + LIFETIME).timestamp()),
    }
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm=ALGORITHM), int(LIFETIME.total_seconds())


def decode(token: str) -> Subject | None:
    """The subject of a genuine, unexpired token; None for anything else (forged, `alg: none`, expired)."""
    claims = _genuine_claims(token, current_app.config["SECRET_KEY"])
    if claims is None:
        return None
    now = clock().now().timestamp()
    if not (_number(claims["iat"]) and _number(claims["exp"]) and claims["iat"] - 60 <= now < claims["exp"]):
        return None
    # Tokens issued before generations existed carry none: they belong to generation 0.
    generation = claims.get("gen", 0)
    if not str(claims["sub"]).isdigit() or not (isinstance(generation, int) and not isinstance(generation, bool)):
        return None
    return Subject(int(claims["sub"]), generation)


# A token comes back with every request of its two hours: its signature is checked once per worker
# (keyed by the secret too, so that another key never reuses a verdict); the times are checked every time.
@functools.lru_cache(maxsize=8192)
def _genuine_claims(token: str, secret: str) -> Mapping[str, Any] | None:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        return None
    return MappingProxyType(claims)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
