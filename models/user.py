"""A WeChat user of the mini-program; bound to at most one resident, and a resident to at most one user."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UtcDateTime
from .resident import Resident


class WeChatUser(Model):
    __tablename__ = "wechat_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(128), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(128))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    resident: Mapped[Resident | None] = relationship()

    @property
    def verified(self) -> bool:
        return self.resident_id is not None
