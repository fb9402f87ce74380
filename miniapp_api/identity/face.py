"""Face verification (INTEGRATIONS.md §1b): the person binding a real name is that person, on this phone.

WeChat's `verify_result` passes only when WeChat recognised the face, for this caller's openid, for
exactly the ID number and name being bound, and recently by the app clock; each verify_result is
accepted once (its SHA-256 in `used_face_results`, where the primary key decides races).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from sqlalchemy.exc import IntegrityError

from integrations.wechat import FaceVerification
from miniapp_api.core import clients
from miniapp_api.core.clock import clock
from miniapp_api.core.errors import ApiError
from models import UsedFaceResult, WeChatUser, db

log = logging.getLogger(__name__)

MAX_AGE = dt.timedelta(minutes=10)  # identify_time at most this long before the app clock
MAX_AHEAD = dt.timedelta(minutes=1)  # and at most this far after it (clocks differ a little)


def required() -> ApiError:
    return ApiError(
        422,
        "face_verification_required",
        "no verify_result",
        errors={"verify_result": ["Missing data for required field."]},
    )


def failed() -> ApiError:
    return ApiError(403, "face_verification_failed", "the face check did not pass")


def digest(verify_result: str) -> str:
    return hashlib.sha256(verify_result.encode("utf-8")).hexdigest()


def confirm(user: WeChatUser, number: str, name: str, verify_result: str) -> None:
    """Accept the face check for binding `user` to (`number`, `name`) and spend its verify_result
    (committed); 403 `face_verification_failed` otherwise, 503 `wechat_unavailable` if WeChat fails."""
    key = digest(verify_result)
    if db.session.get(UsedFaceResult, key) is not None:
        raise _refused(user, "verify_result already used")
    outcome = clients.wechat().face_verification(verify_result)
    if outcome is None:
        raise _refused(user, "verify_result unknown or expired")
    problem = mismatch(outcome, user.openid, number, name, clock().now())
    if problem:
        raise _refused(user, problem)
    _spend(user, key)


def mismatch(outcome: FaceVerification, openid: str, number: str, name: str, now: dt.datetime) -> str | None:
    """Why the face check does not prove that `openid`'s user is (`number`, `name`) now, or None."""
    if not outcome.recognised:
        return f"face not recognised (identify_ret {outcome.identify_ret})"
    if outcome.openid != openid:
        return "face checked on another WeChat user"
    if outcome.id_card_number_md5 != _md5(number.upper()) or outcome.name_utf8_md5 != _md5(name):
        return "face checked for another ID number or name"
    identified = dt.datetime.fromtimestamp(outcome.identify_time, dt.timezone.utc)
    if identified < now - MAX_AGE:
        return "face checked too long ago"
    if identified > now + MAX_AHEAD:
        return "face checked in the future"
    return None


def _spend(user: WeChatUser, key: str) -> None:
    db.session.add(UsedFaceResult(digest=key, user_id=user.id, used_at=clock().now()))
    try:
        db.session.commit()
    except IntegrityError:  # the same verify_result, accepted a moment ago by a simultaneous request
        db.session.rollback()
        raise _refused(user, "verify_result already used") from None


def _refused(user: WeChatUser, why: str) -> ApiError:
    log.info("face verification refused for WeChat user %s: %s", user.id, why)
    return failed()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
