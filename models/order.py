"""A payment order sent to the tax bureau. States only move forward: pending → paid | closed | expired,
and an expired or closed order may still become paid when the money was in fact taken."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UtcDateTime
from .enums import YEARLY_KINDS, ContributionKind, OrderStatus, Payer, sql_list
from .resident import Resident

LIVE_YEARLY = f"status IN ({sql_list(OrderStatus.live())}) AND kind IN ({sql_list(YEARLY_KINDS)})"


class Order(Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(40), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    # Which of the year's allowed payments this is (1..payments_per_year for normal orders, else 1).
    slot: Mapped[int] = mapped_column(default=1, server_default="1")
    tier_fen: Mapped[int] = mapped_column(BigInteger)
    years: Mapped[int] = mapped_column(default=1)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    subsidy_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    collective_subsidy_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    payer: Mapped[str] = mapped_column(String(16))
    payer_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_users.id"))
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    channel: Mapped[str | None] = mapped_column(String(32))
    transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    tax_order_no: Mapped[str | None] = mapped_column(String(64))
    pay_params: Mapped[dict | None] = mapped_column(JSON)
    review_reason: Mapped[str | None] = mapped_column(String(64))

    resident: Mapped[Resident] = relationship()

    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_list(ContributionKind)})", name="kind"),
        CheckConstraint(f"status IN ({sql_list(OrderStatus)})", name="status"),
        CheckConstraint(f"payer IN ({sql_list(Payer)})", name="payer"),
        CheckConstraint("amount_fen > 0 AND tier_fen > 0 AND subsidy_fen >= 0", name="amounts"),
        CheckConstraint("slot >= 1", name="slot"),
        # At most one live (pending or paid) order per resident, year, kind and slot: two phones pressing
        # "pay" at once cannot both succeed, and a standard with n payments a year has n slots for normal
        # orders (R5). Lump sums and sponsorships are not yearly, so excluded.
        Index(
            "uq_orders_live_year",
            "resident_id",
            "year",
            "kind",
            "slot",
            unique=True,
            sqlite_where=text(LIVE_YEARLY),
            postgresql_where=text(LIVE_YEARLY),
        ),
        Index("ix_orders_status_created", "status", "created_at"),
    )
