"""Who is calling: the bearer token's WeChat user, loaded once per request."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from miniapp_api.core.errors import ApiError
from miniapp_api.identity import tokens
from models import WeChatUser, db


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("A bearer access token is required.")
    return token.strip()


def current_user() -> WeChatUser:
    """The token's user; 401 unless the token is genuine, unexpired and of the user's current generation
    (a binding moved away or ended by agency staff ends every token issued before)."""
    if "user" not in g:
        subject = tokens.decode(_bearer_token())
        user = db.session.get(WeChatUser, subject.user_id) if subject is not None else None
        if user is None or subject is None or user.token_generation != subject.generation:
            raise _unauthorized("The access token is invalid or expired.")
        g.user = user
    return g.user


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        current_user()
        return view(*args, **kwargs)

    return wrapper


def verified_user() -> WeChatUser:
    """The caller, who must have completed real-name verification."""
    user = current_user()
    if not user.verified:
        raise ApiError(403, "not_verified", "Complete real-name verification first.")
    return user
