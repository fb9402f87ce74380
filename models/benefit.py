"""Monthly benefits (POLICY.md R11–R12): one payment row per resident and month.

The account pension is taken from the individual account as a `benefit_payout` ledger entry; the
exit subsidy is government money and is recorded here only, never in the account.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, UtcDateTime


class BenefitPayment(Model):
    __tablename__ = "benefit_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    month: Mapped[dt.date]  # the first day of the month paid
    account_pension_fen: Mapped[int] = mapped_column(BigInteger)  # fixed at the start (R11)
    exit_subsidy_fen: Mapped[int] = mapped_column(BigInteger)  # government money, not the account's
    monthly_fen: Mapped[int] = mapped_column(BigInteger)
    booked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # A month is paid once per resident, however often the monthly job runs.
        UniqueConstraint("resident_id", "month"),
        CheckConstraint(
            "account_pension_fen >= 0 AND exit_subsidy_fen >= 0 "
            "AND monthly_fen = account_pension_fen + exit_subsidy_fen",
            name="amounts",
        ),
    )
