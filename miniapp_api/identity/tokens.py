"""Access tokens: HS256 JWTs signed with SECRET_KEY, short-lived, checked against the app clock."""

from __future__ import annotations

import datetime as dt

import jwt
from flask import current_app

from miniapp_api.core.clock import clock

ALGORITHM = "HS256"
LIFETIME = dt.timedelta(hours=2)


def issue(user_id: int) -> tuple[str, int]:
    """A token for the WeChat user, and its lifetime in seconds."""
    now = clock().now()
    claims = {"sub": str(user_id), "iat": int(now.timestamp()), "exp": int((now + LIFETIME).timestamp())}
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm=ALGORITHM), int(LIFETIME.total_seconds())


def user_id_of(token: str) -> int | None:
    """The user id of a genuine, unexpired token; None for anything else (forged, `alg: none`, expired)."""
    try:
        claims = jwt.decode(
            token,
            current_app.config["SECRET_KEY"],
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        return None
    now = clock().now().timestamp()
    if not (claims["iat"] - 60 <= now < claims["exp"]) or not str(claims["sub"]).isdigit():
        return None
    return int(claims["sub"])
