"""Reading the monthly benefit payments of one resident (`GET /residents/{id}/benefits`, 待遇发放记录)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from miniapp_api.core.stacked import Record
from models import BenefitPayment, Resident, db

PAGE_SIZE = 24  # two years of months a page


@dataclass(frozen=True)
class PaymentPage:
    items: list[BenefitPayment]
    next_page: int | None


def page(resident: Resident | Record, year: int | None, number: int) -> PaymentPage:
    """One page of the resident's payments, newest month first, and the next page (None on the last)."""
    query = (
        db.select(BenefitPayment)
        .where(BenefitPayment.resident_id == resident.id)
        .order_by(BenefitPayment.month.desc())
        .limit(PAGE_SIZE + 1)
        .offset((number - 1) * PAGE_SIZE)
    )
    if year is not None:
        query = query.where(BenefitPayment.month.between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
    rows = list(db.session.scalars(query))
    return PaymentPage(rows[:PAGE_SIZE], number + 1 if len(rows) > PAGE_SIZE else None)
