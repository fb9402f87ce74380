"""The one authorization mechanism for resident-scoped routes (POLICY.md R14).

A resident is reachable by their own WeChat user and by supporters with an active link; anyone
else — a stranger, a pending or removed supporter, an unverified caller — gets 404 `not_found`,
so nobody learns whether the resident exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache, wraps
from typing import Any, TypeVar

from flask import g
from sqlalchemy import ColumnElement, Exists, Select, bindparam

from miniapp_api.core import readonly, stacked
from miniapp_api.core.errors import ApiError
from miniapp_api.identity.auth import caller_subject, check_generation, claimed_user_id, current_user
from models import FamilyLink, LinkStatus, Payer, Resident, WeChatUser, db

T = TypeVar("T")
NOT_FOUND = "No such resident, or you may not act for them."


def not_found(message: str = NOT_FOUND) -> ApiError:
    return ApiError(404, "not_found", message)


def relation_to(user: WeChatUser, resident: Resident) -> Payer | None:
    """How the user may act for the resident: as themself, as a supporter (active link), or not at all."""
    return _relation(
        user.resident_id, resident.id, lambda: db.session.scalar(db.select(_active_link(user.resident_id, resident.id)))
    )


def _relation(caller_resident_id: int | None, resident_id: int, linked: Callable[[], object]) -> Payer | None:
    if caller_resident_id is None:
        return None
    if caller_resident_id == resident_id:
        return Payer.SELF
    return Payer.SUPPORTER if linked() else None


def _active_link(supporter_id: object, parent_id: object) -> Exists:
    """Whether an active link runs from the supporter to the parent (values or columns)."""
    links = FamilyLink.__table__.c
    return db.exists().where(
        links.supporter_id == supporter_id, links.parent_id == parent_id, links.status == LinkStatus.ACTIVE
    )


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


def first_for_caller(query: Select[tuple[T]], **params: Any) -> T | None:
    """`first_with_caller` for a route that needs a login: 401 before any statement without a genuine
    token, and 401 for a stale token or a user gone before anything is said about what was found."""
    if claimed_user_id() is None:
        current_user()  # refuses: there is no genuine token
    found = first_with_caller(query, **params)
    current_user()
    return found


@cache
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


_RESIDENTS, _USERS = Resident.__table__, WeChatUser.__table__
# Views that only read ask for the resident, the caller and the caller's link in one statement of
# plain rows (an account is read on every visit; ORM objects cost three times as much).
_CALLER = (
    _USERS.c.token_generation.label("caller_generation"),
    _USERS.c.resident_id.label("caller_resident_id"),
    _active_link(_USERS.c.resident_id, _RESIDENTS.c.id).label("caller_linked"),
)


def _readable_resident(fields: Sequence[str] | None) -> Select:
    """The resident's row (its id and `fields`; every column when None) with the caller's columns."""
    columns = _RESIDENTS.c if fields is None else (_RESIDENTS.c.id, *(_RESIDENTS.c[name] for name in fields))
    return (
        db.select(*columns, *_CALLER)
        .select_from(_RESIDENTS.outerjoin(_USERS, _USERS.c.id == db.bindparam("user_id")))
        .where(_RESIDENTS.c.public_id == db.bindparam("public_id"))
    )


# The resident of the URL, for the reads that go with the resident's row in one statement.
_RESIDENT_OF_URL = db.select(_RESIDENTS.c.id).where(_RESIDENTS.c.public_id == db.bindparam("public_id"))


def reads_with_resident(
    parts: Callable[[ColumnElement], Mapping[str, Select]], resident_fields: Sequence[str] | None = None
) -> stacked.Stacked:
    """The view's reads (`parts` of the resident's id, as a column), built once, stacked with the
    resident's (`core.stacked`: the whole view in one round trip): their id and `resident_fields`
    (every column when None; a view that shows nothing of the resident reads nothing more of them,
    their name and ID number included). The reads run before the caller is authorized; nothing of
    them is seen unless the caller is."""
    built = parts(_RESIDENT_OF_URL.scalar_subquery())
    return stacked.stacked({"resident": _readable_resident(resident_fields), **built})


_RESIDENT_ONLY = reads_with_resident(lambda _: {})
# A view's reads: fixed, or chosen with their bind parameters from the view's parsed arguments.
ReadsFor = stacked.Stacked | Callable[..., tuple[stacked.Stacked, Mapping[str, Any]]]


def resident_read(view=None, *, reads: ReadsFor | None = None):
    """`resident_scoped` for a view that only reads: the resident as a row of its columns, and the
    view's statements outside a transaction (`read_only`). With `reads`, the view also gets `rows`:
    the rows of each of their parts, fetched in the resident's statement. `reads` may be a function
    of the view's parsed arguments choosing among statements built once (`bp.arguments` then goes
    outside `resident_read`, so a malformed query is refused before the read)."""
    if view is None:
        return lambda view: resident_read(view, reads=reads)

    @wraps(view)
    @readonly.read_only
    def wrapper(*args, resident_id: str, **kwargs):
        chosen, extra = reads(*args) if callable(reads) else (reads or _RESIDENT_ONLY, {})
        resident, rows = _readable(resident_id, chosen, extra)
        return view(*args, resident=resident, **({"rows": rows} if reads else {}), **kwargs)

    wrapper.resident_scoped = True  # type: ignore[attr-defined]
    return wrapper


def _readable(
    resident_id: str, reads: stacked.Stacked, extra: Mapping[str, Any]
) -> tuple[stacked.Record, dict[str, list[stacked.Record]]]:
    """The resident's row if the caller may act for them, and the rows of `reads`, in one statement;
    in `resident_scoped`'s order: 404 for an unknown resident, then 401 for a missing or bad token,
    then 404 unless self or an active link."""
    params = {**extra, "user_id": claimed_user_id(), "public_id": resident_id}
    rows = stacked.fetched(reads, params, readonly.connection())
    resident = rows.pop("resident")
    return _authorized(resident[0] if resident else None), rows


def _authorized(row: stacked.Record | None) -> stacked.Record:
    if row is None:
        raise not_found()
    check_generation(row.caller_generation, caller_subject())
    if _relation(row.caller_resident_id, row.id, lambda: row.caller_linked) is None:
        raise not_found()
    return row
