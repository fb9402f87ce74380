"""WeChat login, real-name binding and the caller's own profile."""

from __future__ import annotations

from flask import request

from miniapp_api.core import ratelimit
from miniapp_api.core.api import Blueprint
from miniapp_api.identity import service
from miniapp_api.identity.auth import current_user, login_required
from miniapp_api.identity.schemas import LoginSchema, MeSchema, RealNameResultSchema, RealNameSchema, TokenSchema

bp = Blueprint("login", __name__, url_prefix="/api/v1", description="Login and real-name verification")


@bp.post("/auth/login")
@bp.doc(security=[])
@bp.arguments(LoginSchema)
@bp.response(200, TokenSchema)
@bp.problems(400, "invalid_wechat_code")
@bp.problems(403, "wechat_user_blocked")
@bp.problems(503, "wechat_unavailable")
def login(body):
    """Exchange a wx.login code for an access token."""
    return service.log_in(body["code"])


@bp.post("/auth/real-name")
@login_required
@bp.arguments(RealNameSchema)
@bp.response(200, RealNameResultSchema)
@bp.problems(403, "face_verification_failed", "identity_mismatch", "wechat_user_blocked")
@bp.problems(404, "not_enrolled")
@bp.problems(409, "already_bound")
@bp.problems(422, "invalid_id_number", "face_verification_required")
@bp.problems(429, "rate_limited")
@bp.problems(503, "wechat_unavailable", "identity_unavailable", "agency_unavailable")
def real_name(body):
    """Prove who you are (face verification, then the identity check) and bind this WeChat user to that resident."""
    user = current_user()
    ratelimit.limit(f"real-name:user:{user.id}", 5, 600)
    ratelimit.limit(f"real-name:addr:{request.remote_addr}", 30, 600)
    number = service.parse_id_number(body["id_number"])
    resident = service.real_name(user, number, body["name"].strip(), body.get("verify_result"))
    return {"resident": resident}


@bp.get("/me")
@login_required
@bp.response(200, MeSchema)
def me():
    """The caller, their verification state and the people they may act for."""
    return service.me(current_user())
