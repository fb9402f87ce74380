"""The individual account (POLICY.md R10): an append-only ledger of entries in integer fen.

Nothing updates or deletes an entry: the ORM refuses it here and the database refuses it with
triggers (see the migration); corrections are new entries.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UtcDateTime
from .enums import EntryKind, sql_list
from .order import Order

CLOSING = "kind = 'inheritance_payout' AND order_id IS NULL"  # the inheritance that closes the account


class LedgerEntry(Model):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(24))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    funder: Mapped[str] = mapped_column(String(32))
    payer: Mapped[str | None] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    booked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    order: Mapped[Order | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_list(EntryKind)})", name="kind"),
        # One entry of each kind per order: crediting the same payment twice fails in the database.
        Index("uq_ledger_entries_order_kind", "order_id", "kind", unique=True),
        Index("ix_ledger_entries_resident_year", "resident_id", "year"),
        # Interest is credited once a year per account, however often the yearly job runs.
        Index(
            "uq_ledger_entries_interest_year",
            "resident_id",
            "year",
            unique=True,
            sqlite_where=text("kind = 'interest'"),
            postgresql_where=text("kind = 'interest'"),
        ),
        # The remaining balance goes to the heirs once (R12); the account is closed after it. Money that
        # reaches the closed account later is passed on with its order (unique by order and kind above).
        Index(
            "uq_ledger_entries_inheritance",
            "resident_id",
            unique=True,
            sqlite_where=text(CLOSING),
            postgresql_where=text(CLOSING),
        ),
        # Benefits paid after the death are taken back once, before the inheritance (R12).
        Index(
            "uq_ledger_entries_recovery",
            "resident_id",
            unique=True,
            sqlite_where=text("kind = 'recovery'"),
            postgresql_where=text("kind = 'recovery'"),
        ),
    )


@event.listens_for(LedgerEntry, "before_update")
@event.listens_for(LedgerEntry, "before_delete")
def _refuse_change(mapper, connection, entry):
    raise RuntimeError("ledger entries are append-only")
