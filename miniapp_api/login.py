"""WeChat login, real-name binding and the caller's own profile."""
from __future__ import annotations

from flask import request
from sqlalchemy.exc import IntegrityError

from models import FamilyLink, Resident, WeChatUser, db
from policy import id_number

from . import clients, ratelimit, residents, tokens
from .api import Blueprint
from .auth import current_user, login_required
from .clock import clock
from .errors import ApiError
from .schemas import LoginSchema, MeSchema, RealNameResultSchema, RealNameSchema, TokenSchema

bp = Blueprint("login", __name__, url_prefix="/api/v1", description="Login and real-name verification")


@bp.post("/auth/login")
@bp.doc(security=[])
@bp.arguments(LoginSchema)
@bp.response(200, TokenSchema)
def login(body):
    """Exchange a wx.login code for an access token."""
    session = clients.wechat().code_to_session(body["code"])
    user = _user_of(session.openid) or _new_user(session.openid, session.unionid)
    token, lifetime = tokens.issue(user.id)
    return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "verified": user.verified}


def _user_of(openid: str) -> WeChatUser | None:
    return db.session.scalar(db.select(WeChatUser).where(WeChatUser.openid == openid))


def _new_user(openid: str, unionid: str | None) -> WeChatUser:
    """The user, created now; a simultaneous first login of the same person may have won the insert."""
    user = WeChatUser(openid=openid, unionid=unionid, created_at=clock().now())
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _user_of(openid)
    return user


def parse_id_number(value: str, field: str = "id_number") -> str:
    """The normalised ID number, or 422 `invalid_id_number` naming the field."""
    try:
        return id_number.parse(value, today=clock().today()).value
    except id_number.InvalidIdNumber as exc:
        raise ApiError(422, "invalid_id_number", f"The ID number is invalid: {exc}.",
                       errors={field: [str(exc)]}) from None


def confirm_identity(number: str, name: str):
    """The registry record of a real, enrolled person (403 `identity_mismatch`, 404 `not_enrolled`)."""
    if clients.identity().verify(number, name) != "match":
        raise ApiError(403, "identity_mismatch", "The name does not match the ID number.")
    record = clients.agency().resident(number)
    if record is None:
        raise ApiError(404, "not_enrolled", "This person has no basic pension relation in Shanxi.")
    return record


@bp.post("/auth/real-name")
@login_required
@bp.arguments(RealNameSchema)
@bp.response(200, RealNameResultSchema)
def real_name(body):
    """Prove who you are and bind this WeChat user to that resident."""
    user = current_user()
    ratelimit.limit(f"real-name:user:{user.id}", 5, 600)
    ratelimit.limit(f"real-name:addr:{request.remote_addr}", 30, 600)
    number = parse_id_number(body["id_number"])
    resident = residents.sync_from_registry(confirm_identity(number, body["name"].strip()))
    _bind(user, resident)
    return {"resident": residents.view(resident)}


def _bind(user: WeChatUser, resident: Resident) -> None:
    if user.resident_id not in (None, resident.id):
        raise ApiError(409, "already_bound", "This WeChat user is already bound to another person.")
    user.resident_id, user.verified_at = resident.id, user.verified_at or clock().now()
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ApiError(409, "already_bound", "This person is already bound to another WeChat user.") from None


@bp.get("/me")
@login_required
@bp.response(200, MeSchema)
def me():
    """The caller, their verification state and the people they may act for."""
    user = current_user()
    if user.resident is None:
        return {"verified": False, "resident": None, "dependents": []}
    return {"verified": True, "resident": residents.view(user.resident),
            "dependents": [residents.view(parent) for parent in dependents_of(user.resident)]}


def dependents_of(resident: Resident) -> list[Resident]:
    return list(db.session.scalars(
        db.select(Resident).join(FamilyLink, FamilyLink.parent_id == Resident.id)
        .where(FamilyLink.supporter_id == resident.id, FamilyLink.status == "active")
        .order_by(FamilyLink.id)))
