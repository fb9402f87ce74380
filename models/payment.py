"""What the tax bureau tells us: every callback delivery as received, seen nonces, and items for review."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, UtcDateTime


class CallbackDelivery(Model):
    """The inbox: each delivery stored raw with its outcome, accepted or not, for audit."""

    __tablename__ = "callback_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    headers: Mapped[dict] = mapped_column(JSON)
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    out_order_no: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(Text)


class RejectedDelivery(Model):
    """A callback whose signature did not verify: a small fixed-size record, never its body or headers,
    so that nobody without the tax bureau's key can grow the database (INTEGRATIONS.md §4)."""

    __tablename__ = "rejected_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    client_address: Mapped[str] = mapped_column(String(45))
    body_size: Mapped[int]
    body_sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(24))


class SeenNonce(Model):
    """Callback nonces of the last minutes (the database store; Redis replaces it when configured)."""

    __tablename__ = "seen_nonces"

    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class ReviewItem(Model):
    """Money that needs a person: amount mismatch, unknown order, paid after expiry, missing in a statement."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    # kind + order + transaction (+ statement date): recording the same finding twice is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    out_order_no: Mapped[str | None] = mapped_column(String(64), index=True)
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
