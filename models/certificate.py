"""A payment certificate (缴费证明, R13): one valid certificate per resident and year."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UtcDateTime
from .order import Order
from .resident import Resident


class Certificate(Model):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_no: Mapped[str] = mapped_column(String(32), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    year: Mapped[int]
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    # The signed token is kept so the QR link stays the same after the signing key is rotated.
    token: Mapped[str] = mapped_column(String(255))
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    # Rendered on the first download and served from here afterwards (deferred: verification never reads them).
    qr_png: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    resident: Mapped[Resident] = relationship()
    order: Mapped[Order] = relationship()

    __table_args__ = (
        # One valid certificate per resident and year, also under concurrent requests; a revoked
        # one no longer counts, so a fresh certificate can replace it.
        Index(
            "uq_certificates_valid_year",
            "resident_id",
            "year",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
