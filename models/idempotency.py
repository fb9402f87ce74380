"""The first response to an `Idempotency-Key`, replayed when the same user sends the same key again.

A record is written in two steps around the tax bureau call (contributions/service.py): first the
reservation, naming the order placed for the key (no `status_code` yet), then the response. A request
cut short between the two leaves a reservation, which a repeat of the same key completes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, UtcDateTime


class IdempotencyRecord(Model):
    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("wechat_users.id"))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    status_code: Mapped[int | None]  # None while reserved
    body: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("user_id", "key"),)
