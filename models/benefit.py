"""Monthly benefits (POLICY.md R11–R12): one payment row per resident and month.

The account pension is taken from the individual account as a `benefit_payout` ledger entry while the
account holds money (`account_pension_fen`); once it is empty the fund pays it (`fund_pension_fen`).
The exit subsidy and the supplements are government or collective money, recorded here only.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, UtcDateTime

AMOUNTS = (
    "account_pension_fen >= 0 AND fund_pension_fen >= 0 AND exit_subsidy_fen >= 0 AND supplements_fen >= 0 "
    "AND monthly_fen = account_pension_fen + fund_pension_fen + exit_subsidy_fen + supplements_fen"
)


class InterestYear(Model):
    """A year whose interest every account has been credited (R10: year Y only once Y−1 is)."""

    __tablename__ = "interest_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    credited_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class BenefitPayment(Model):
    __tablename__ = "benefit_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    month: Mapped[dt.date]  # the first day of the month paid
    account_pension_fen: Mapped[int] = mapped_column(BigInteger)  # the part taken from the account
    fund_pension_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # the part the fund paid (R11)
    exit_subsidy_fen: Mapped[int] = mapped_column(BigInteger)  # 20 yuan, +10 from the month after 80
    supplements_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # low income, collective exit subsidy
    monthly_fen: Mapped[int] = mapped_column(BigInteger)  # the total paid for the month
    arrears: Mapped[bool] = mapped_column(default=False)  # paid by the run of a later month
    booked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # A month is paid once per resident, however often the monthly job runs.
        UniqueConstraint("resident_id", "month"),
        CheckConstraint(AMOUNTS, name="amounts"),
    )
