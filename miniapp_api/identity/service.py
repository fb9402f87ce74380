"""WeChat users, proof of identity (face, identity check, registry) and the binding of a user to the
resident they are."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from integrations.agency import RegistryRecord
from miniapp_api.core import clients, ratelimit
from miniapp_api.core.clock import clock
from miniapp_api.core.errors import ApiError
from miniapp_api.core.pii import cipher
from miniapp_api.identity import bindings, face, residents, tokens
from models import FamilyLink, LinkStatus, Resident, WeChatUser, db
from policy import id_number


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    verified: bool
    token_type: str = "Bearer"


@dataclass(frozen=True)
class Me:
    resident: Resident | None
    dependents: list[Resident] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.resident is not None


FAILURES_PER_PERSON = (5, 3600)  # failed attempts against one ID number, per hour
COUNTED_FAILURES = frozenset({"face_verification_failed", "identity_mismatch"})


def log_in(code: str) -> IssuedToken:
    """The WeChat user of a wx.login code (created on the first visit) and a fresh token for them."""
    session = clients.wechat().code_to_session(code)
    user = user_of(session.openid) or _new_user(session.openid, session.unionid)
    token, lifetime = tokens.issue(user.id, user.token_generation)
    return IssuedToken(token, lifetime, user.verified)


def user_of(openid: str) -> WeChatUser | None:
    return db.session.scalar(db.select(WeChatUser).where(WeChatUser.openid == openid))


def _new_user(openid: str, unionid: str | None) -> WeChatUser:
    """The user, created now; a simultaneous first login of the same person may have won the insert."""
    user = WeChatUser(openid=openid, unionid=unionid, created_at=clock().now())
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        winner = user_of(openid)
        if winner is None:
            raise
        return winner
    return user


def parse_id_number(value: str, field: str = "id_number") -> str:
    """The normalised ID number, or 422 `invalid_id_number` naming the field."""
    try:
        return id_number.parse(value, today=clock().today()).value
    except id_number.InvalidIdNumber as exc:
        raise ApiError(
            422, "invalid_id_number", f"The ID number is invalid: {exc}.", errors={field: [str(exc)]}
        ) from None


def confirm_identity(number: str, name: str) -> RegistryRecord:
    """The registry record of a real, enrolled person (403 `identity_mismatch`, 404 `not_enrolled`)."""
    if clients.identity().verify(number, name) != "match":
        raise ApiError(403, "identity_mismatch", "The name does not match the ID number.")
    record = clients.agency().resident(number)
    if record is None:
        raise ApiError(404, "not_enrolled", "This person has no basic pension relation in Shanxi.")
    return record


def real_name(user: WeChatUser, number: str, name: str, verify_result: str | None) -> Resident:
    """Bind the user to the resident (`number`, `name`) after the face check, the identity check and the
    registry (committed). Failed face and identity checks count against the ID number, whoever makes
    them: at most FAILURES_PER_PERSON an hour, then 429 for everyone until the hour is over."""
    if not verify_result:
        raise face.required()
    known = residents.find_by_id_number(number)
    if user.resident_id is not None and (known is None or known.id != user.resident_id):
        raise bindings.already_bound("This WeChat user is already bound to another person.")
    failures = f"real-name:failures:{cipher().blind_index(number)}"
    ratelimit.refuse_if_spent(failures, *FAILURES_PER_PERSON)
    try:
        face.confirm(user, number, name, verify_result)
        record = confirm_identity(number, name)
    except ApiError as exc:
        if exc.code in COUNTED_FAILURES:
            ratelimit.count_one(failures, *FAILURES_PER_PERSON)
        raise
    resident = residents.sync_from_registry(record)
    bindings.bind(user, resident)
    return resident


def me(user: WeChatUser) -> Me:
    if user.resident is None:
        return Me(None)
    return Me(user.resident, dependents_of(user.resident))


def dependents_of(resident: Resident) -> list[Resident]:
    """The parents this resident supports through an active link, oldest link first."""
    return list(
        db.session.scalars(
            db.select(Resident)
            .join(FamilyLink, FamilyLink.parent_id == Resident.id)
            .where(FamilyLink.supporter_id == resident.id, FamilyLink.status == LinkStatus.ACTIVE)
            .order_by(FamilyLink.id)
        )
    )
