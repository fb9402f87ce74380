"""The one authorization mechanism for resident-scoped routes (POLICY.md R14).

A resident is reachable by their own WeChat user and by supporters with an active link; anyone
else — a stranger, a pending or removed supporter, an unverified caller — gets 404 `not_found`,
so nobody learns whether the resident exists.
"""

from __future__ import annotations

import functools
from functools import wraps
from typing import Any, TypeVar

from flask import g
from sqlalchemy import Select, bindparam

from miniapp_api.core.errors import ApiError
from miniapp_api.identity.auth import claimed_user_id, current_user
from models import FamilyLink, LinkStatus, Payer, Resident, WeChatUser, db

T = TypeVar("T")
NOT_FOUND = "No such resident, or you may not act for them."


def not_found(message: str = NOT_FOUND) -> ApiError:
    return ApiError(404, "not_found", message)


def relation_to(user: WeChatUser, resident: Resident) -> Payer | None:
    """How the user may act for the resident: as themself, as a supporter (active link), or not at all."""
    if user.resident_id is None:
        return None
    if user.resident_id == resident.id:
        return Payer.SELF
    link = db.session.scalar(
        db.select(FamilyLink.id).where(
            FamilyLink.supporter_id == user.resident_id,
            FamilyLink.parent_id == resident.id,
            FamilyLink.status == LinkStatus.ACTIVE,
        )
    )
    return Payer.SUPPORTER if link is not None else None


def authorize(resident: Resident | None) -> tuple[Resident, Payer]:
    """The resident and the caller's relation to them, if the caller may act for them; else 404."""
    relation = relation_to(current_user(), resident) if resident is not None else None
    if resident is None or relation is None:
        raise not_found()
    return resident, relation


# Built once, so that SQLAlchemy computes its cache key once, not on every request.
RESIDENT_BY_PUBLIC_ID = db.select(Resident).where(Resident.public_id == bindparam("public_id"))


def first_with_caller(query: Select[tuple[T]], **params: Any) -> T | None:
    """The first entity of `query` (a statement built once, with `params` bound); the caller's user row
    comes in the same statement (one round trip), so that `current_user` finds it in the session
    instead of asking the database again."""
    user_id = claimed_user_id()
    if user_id is None:
        return db.session.scalar(query, params)
    row = db.session.execute(_with_caller(query), {**params, "caller_id": user_id}).first()
    if row is None:
        return None
    g.loaded_user = row[1]  # the session's identity map holds rows weakly: keep it for `current_user`
    return row[0]


@functools.cache
def _with_caller(query: Select) -> Select:
    return query.add_columns(WeChatUser).outerjoin(WeChatUser, WeChatUser.id == bindparam("caller_id"))


def resident_scoped(view):
    """Replace the `resident_id` URL argument with the authorized `resident`."""

    @wraps(view)
    def wrapper(*args, resident_id: str, **kwargs):
        resident = first_with_caller(RESIDENT_BY_PUBLIC_ID, public_id=resident_id)
        return view(*args, resident=authorize(resident)[0], **kwargs)

    wrapper.resident_scoped = True  # type: ignore[attr-defined]
    return wrapper
