"""A supporter (adult child, spouse, other) allowed to act for a resident (POLICY.md R9, R14)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UtcDateTime
from .enums import LinkSide, LinkStatus, Relation, sql_list
from .resident import Resident


def new_link_id() -> str:
    return "l_" + secrets.token_urlsafe(12)


class FamilyLink(Model):
    __tablename__ = "family_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_link_id)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    parent_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    relation: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    via_registry: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Who ended the link: a supporter the parent removed stays out until the parent approves anew.
    removed_by: Mapped[str | None] = mapped_column(String(16))

    supporter: Mapped[Resident] = relationship(foreign_keys=[supporter_id])
    parent: Mapped[Resident] = relationship(foreign_keys=[parent_id])

    __table_args__ = (
        CheckConstraint(f"status IN ({sql_list(LinkStatus)})", name="status"),
        CheckConstraint(f"relation IN ({sql_list(Relation)})", name="relation"),
        CheckConstraint("supporter_id <> parent_id", name="not_self"),
        CheckConstraint(f"removed_by IN ({sql_list(LinkSide)})", name="removed_by"),
        # One live link per pair; removed links stay for the record.
        Index(
            "uq_family_links_live_pair",
            "supporter_id",
            "parent_id",
            unique=True,
            sqlite_where=text("status <> 'removed'"),
            postgresql_where=text("status <> 'removed'"),
        ),
    )
