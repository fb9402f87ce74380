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
    token = _bearer_token_or_none()
    if token is None:
        raise _unauthorized("A bearer access token is required.")
    return token


def _bearer_token_or_none() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token else None


def current_user() -> WeChatUser:
    """The token's user; 401 unless the token is genuine, unexpired and of the user's current generation
    (a binding moved away or ended by agency staff ends every token issued before)."""
    if "user" not in g:
        subject = _subject(_bearer_token())
        user = db.session.get(WeChatUser, subject.user_id) if subject is not None else None
        check_generation(user.token_generation if user else None, subject)
        g.user = user
    return g.user


def caller_subject() -> tokens.Subject | None:
    """The subject of the request's bearer token (None for a forged or expired one); 401 without one."""
    return _subject(_bearer_token())


def check_generation(generation: int | None, subject: tokens.Subject | None) -> None:
    """401 unless the token is genuine and of its user's current generation (None: no such user)."""
    if generation is None or subject is None or generation != subject.generation:
        raise _unauthorized("The access token is invalid or expired.")


def claimed_user_id() -> int | None:
    """The user id a genuine bearer token names, without checking the user (None without one): lets a
    caller load the user row along with its own first statement; `current_user` still decides."""
    if "user" in g:
        return g.user.id
    token = _bearer_token_or_none()
    subject = _subject(token) if token else None
    return subject.user_id if subject is not None else None


def _subject(token: str) -> tokens.Subject | None:
    """The token's decoded subject, once per request."""
    decoded = g.setdefault("token_subjects", {})
    if token not in decoded:
        decoded[token] = tokens.decode(token)
    return decoded[token]


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
