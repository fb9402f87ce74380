"""A WeChat user of the mini-program; bound to at most one resident, and a resident to at most one user."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UtcDateTime
from .enums import BindingCause, sql_list
from .resident import Resident


class WeChatUser(Model):
    __tablename__ = "wechat_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(128), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(128))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Every access token carries the generation it was issued in; raising it ends them all at once
    # (the binding moved to the face-verified person, or agency staff unbound the user).
    token_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    resident: Mapped[Resident | None] = relationship()

    @property
    def verified(self) -> bool:
        return self.resident_id is not None


class BindingChange(Model):
    """The record of every binding made, moved or ended: who held the resident before and after, and why."""

    __tablename__ = "binding_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_users.id"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_users.id"))
    cause: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint(f"cause IN ({sql_list(BindingCause)})", name="cause"),)


class UsedFaceResult(Model):
    """A WeChat face-verification `verify_result` already spent: each is accepted once (INTEGRATIONS.md §1b)."""

    __tablename__ = "used_face_results"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the verify_result
    user_id: Mapped[int] = mapped_column(ForeignKey("wechat_users.id"))
    used_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
