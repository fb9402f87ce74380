"""Which WeChat user a resident is bound to, and every change of it (`binding_changes`).

A resident has at most one WeChat user (unique `wechat_users.resident_id`). The face-verified person
always gets their own account back: a binding held by another WeChat user moves to them, and that
user's access tokens end at once (`token_generation` + 1). Agency staff may end a binding
(`flask residents unbind`). Every binding made, moved or ended is recorded with its cause.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from miniapp_api.core.clock import clock
from miniapp_api.core.errors import ApiError
from miniapp_api.identity import residents
from models import BindingCause, BindingChange, Resident, WeChatUser, db
from policy import id_number

log = logging.getLogger(__name__)

ATTEMPTS = 2  # a simultaneous binding of the same resident wins the first; the second then moves it


class UnbindRefused(Exception):
    """Nothing to unbind; the message says why (the ID number masked)."""


@dataclass(frozen=True)
class Unbinding:
    """What `unbind` ended."""

    masked_id_number: str
    resident_id: str  # the public id
    user_id: int
    changed_at: dt.datetime


def already_bound(message: str) -> ApiError:
    return ApiError(409, "already_bound", message)


def bind(user: WeChatUser, resident: Resident) -> None:
    """Bind the face-verified user to the resident they proved to be, moving the binding away from
    whoever held it (committed, with the session's pending changes); 409 `already_bound` when the user
    is bound to another person."""
    resident_pk = resident.id
    for _ in range(ATTEMPTS):
        if user.resident_id == resident_pk:  # repeating it is harmless
            db.session.commit()
            return
        if user.resident_id is not None:
            raise already_bound("This WeChat user is already bound to another person.")
        try:
            _bind_once(user, resident_pk)
            db.session.commit()
            return
        except IntegrityError:  # another user took the resident meanwhile: move it from them
            db.session.rollback()
            log.info("resident %s was bound by another WeChat user meanwhile; moving it", resident_pk)
            if db.session.get(Resident, resident_pk) is None:
                break
    raise already_bound("This person is already bound to another WeChat user.")


def _bind_once(user: WeChatUser, resident_pk: int) -> None:
    now = clock().now()
    holder = _holder_of(resident_pk)
    if holder is not None:
        _release(holder)
        db.session.flush()  # the resident is free before the caller takes it (unique resident_id)
    user.resident_id, user.verified_at = resident_pk, now
    cause = BindingCause.FACE_VERIFIED_MOVE if holder is not None else BindingCause.REAL_NAME
    db.session.add(
        BindingChange(
            resident_id=resident_pk,
            from_user_id=holder.id if holder is not None else None,
            to_user_id=user.id,
            cause=cause,
            changed_at=now,
        )
    )
    db.session.flush()
    if holder is not None:
        log.info("binding of resident %s moved from WeChat user %s to %s", resident_pk, holder.id, user.id)


def unbind(number_text: str, reason: str) -> Unbinding:
    """End the WeChat binding of the resident with that ID number (committed): the user's tokens stop
    working and the change is recorded with `reason`. UnbindRefused when there is nothing to end."""
    try:
        number = id_number.parse(number_text).value
    except id_number.InvalidIdNumber as exc:
        raise UnbindRefused(f"{id_number.mask(id_number.normalize(number_text))} is not a valid ID number: {exc}")
    masked = id_number.mask(number)
    reason = reason.strip()
    if not reason:
        raise UnbindRefused("a reason is required")
    resident = residents.find_by_id_number(number)
    if resident is None:
        raise UnbindRefused(f"no resident {masked} here (the person never bound a real name or was linked)")
    holder = _holder_of(resident.id)
    if holder is None:
        raise UnbindRefused(f"resident {masked} ({resident.public_id}) has no WeChat binding")
    now = clock().now()
    _release(holder)
    db.session.add(
        BindingChange(
            resident_id=resident.id,
            from_user_id=holder.id,
            to_user_id=None,
            cause=BindingCause.AGENCY_UNBIND,
            reason=reason,
            changed_at=now,
        )
    )
    db.session.commit()
    log.info("binding of resident %s to WeChat user %s ended by agency staff", resident.id, holder.id)
    return Unbinding(masked, resident.public_id, holder.id, now)


def _holder_of(resident_pk: int) -> WeChatUser | None:
    """The WeChat user bound to the resident, locked until commit (PostgreSQL)."""
    return db.session.scalar(db.select(WeChatUser).where(WeChatUser.resident_id == resident_pk).with_for_update())


def _release(holder: WeChatUser) -> None:
    """Unbind the user and end every token they hold."""
    holder.resident_id, holder.verified_at = None, None
    holder.token_generation = WeChatUser.token_generation + 1  # in SQL: no increment lost to a race
