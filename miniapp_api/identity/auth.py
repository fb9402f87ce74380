"""Who is calling: the bearer token's WeChat user, loaded once per request."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from miniapp_api.core.errors import ApiError
from miniapp_api.identity import tokens
from models import WeChatUser, db


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("A bearer access token is required.")
    return token.strip()


def current_user() -> WeChatUser:
    if "user" not in g:
        user_id = tokens.user_id_of(_bearer_token())
        user = db.session.get(WeChatUser, user_id) if user_id is not None else None
        if user is None:
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
