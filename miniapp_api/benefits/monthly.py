"""The monthly benefits of R11 and the inheritance of R12 (`benefits run --month YYYY-MM`).

One run, in one transaction: start the residents eligible on the first day of the month (fixing
their account pension), pay every started resident alive in that month, and pay the remaining
balance of residents who died before it to their heirs. The unique constraints on
(resident, month) and on the inheritance entry make a second run for the same month book nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_

from miniapp_api.core import rulebook
from miniapp_api.core.clock import SHANGHAI, clock
from models import BenefitPayment, EntryKind, Funder, LedgerEntry, Resident, db, insert_skipping_conflicts
from policy import benefits
from policy.standard import Standard


class NotYet(ValueError):
    """The month cannot be run (not begun yet, or before the scheme)."""


@dataclass(frozen=True)
class MonthSummary:
    month: dt.date
    started: int
    paid: int
    inherited: int

    def line(self) -> str:
        return (
            f"benefits for {self.month:%Y-%m}: started {self.started}, paid {self.paid}, inheritance {self.inherited}"
        )


def run_month(month: dt.date) -> MonthSummary:
    """Start, pay and close accounts for `month` (its first day), once; committed."""
    if month > clock().today():
        raise NotYet(f"benefits for {month:%Y-%m} can run from {month.isoformat()}")
    standard, balance = _standard_for(month), balances()
    summary = MonthSummary(
        month,
        start_benefits(standard, month, balance),
        pay_month(standard, month, balance),
        pay_inheritances(month, balance),
    )
    db.session.commit()
    return summary


def month_start(month: dt.date) -> dt.datetime:
    """Midnight Beijing time on the first day: when the month's entries are booked."""
    return dt.datetime(month.year, month.month, 1, tzinfo=SHANGHAI)


def balances() -> dict[int, int]:
    """Every account's current balance, in one grouped query (payouts are negative entries)."""
    rows = db.session.execute(
        db.select(LedgerEntry.resident_id, func.sum(LedgerEntry.amount_fen)).group_by(LedgerEntry.resident_id)
    ).all()
    return {resident_id: int(balance) for resident_id, balance in rows}


def _insert(model, rows: list[dict], index_elements: list[str], index_where=None) -> list[int]:
    """INSERT … ON CONFLICT DO NOTHING; the resident ids of the rows actually inserted."""
    if not rows:
        return []
    statement = insert_skipping_conflicts(model, index_elements, index_where)
    return list(db.session.scalars(statement.returning(model.resident_id), rows))


def alive_in(month: dt.date):
    """Benefits are paid through the month of death (R12)."""
    return or_(Resident.deceased_on.is_(None), Resident.deceased_on >= month)


def _start_candidates(standard: Standard, month: dt.date) -> list[Resident]:
    """Not started, receiving basic pension, alive, 65th birthday before `month` (a superset)."""
    born_before = dt.date(month.year - standard.benefit_age, month.month, 1)
    return list(
        db.session.scalars(
            db.select(Resident).where(
                Resident.benefit_started_on.is_(None),
                Resident.receiving_basic_pension.is_(True),
                alive_in(month),
                Resident.birth_date < born_before,
            )
        )
    )


def _start(resident: Resident, month: dt.date, pension_fen: int) -> int:
    """Record the start once (a concurrent run that got there first wins); 1 if this run did."""
    result = db.session.execute(
        db.update(Resident)
        .where(Resident.id == resident.id, Resident.benefit_started_on.is_(None))
        .values(benefit_started_on=month, benefit_account_pension_fen=pension_fen)
    )
    return result.rowcount


def start_benefits(standard: Standard, month: dt.date, balance: dict[int, int]) -> int:
    """Fix the account pension (balance ÷ 120) of everyone eligible on the first day of `month`."""
    started = 0
    for resident in _start_candidates(standard, month):
        facts = rulebook.facts_from_snapshot(resident)
        if benefits.eligibility(standard, facts, rulebook.history(resident), month).eligible:
            start_balance = max(balance.get(resident.id, 0), 0)
            benefit = benefits.monthly_benefit(standard, facts, start_balance, month)
            started += _start(resident, month, benefit.account_pension_fen)
    return started


def _payment(standard: Standard, resident: Resident, month: dt.date) -> dict:
    pension = resident.benefit_account_pension_fen
    exit_subsidy = benefits.monthly_benefit(standard, rulebook.facts_from_snapshot(resident), 0, month).exit_subsidy_fen
    return dict(
        resident_id=resident.id,
        month=month,
        account_pension_fen=pension,
        exit_subsidy_fen=exit_subsidy,
        monthly_fen=pension + exit_subsidy,
        booked_at=month_start(month),
    )


def _payout(resident: Resident, month: dt.date, balance_fen: int) -> dict:
    # Never below zero: beyond the balance the pension is paid from the pooled fund, not the account.
    taken = min(resident.benefit_account_pension_fen, max(balance_fen, 0))
    return dict(
        resident_id=resident.id,
        year=month.year,
        kind=EntryKind.BENEFIT_PAYOUT,
        amount_fen=-taken,
        funder=Funder.BENEFIT,
        booked_at=month_start(month),
    )


def pay_month(standard: Standard, month: dt.date, balance: dict[int, int]) -> int:
    """One payment per started resident alive in `month`; the account part goes to the ledger."""
    residents = {
        r.id: r
        for r in db.session.scalars(db.select(Resident).where(Resident.benefit_started_on <= month, alive_in(month)))
    }
    rows = [_payment(standard, r, month) for r in residents.values()]
    paid = _insert(BenefitPayment, rows, ["resident_id", "month"])
    payouts = [_payout(residents[i], month, balance.get(i, 0)) for i in paid]
    payouts = [row for row in payouts if row["amount_fen"]]
    if payouts:
        db.session.execute(db.insert(LedgerEntry), payouts)
    return len(paid)


def pay_inheritances(month: dt.date, balance: dict[int, int]) -> int:
    """The whole remaining balance of residents who died before `month`, once, to the heirs (R12)."""
    deceased = db.session.scalars(db.select(Resident.id).where(Resident.deceased_on < month)).all()
    rows = [
        dict(
            resident_id=i,
            year=month.year,
            kind=EntryKind.INHERITANCE_PAYOUT,
            amount_fen=-balance[i],
            funder=Funder.INHERITANCE,
            booked_at=month_start(month),
        )
        for i in deceased
        if balance.get(i, 0) > 0
    ]
    return len(
        _insert(LedgerEntry, rows, ["resident_id"], index_where=LedgerEntry.kind == EntryKind.INHERITANCE_PAYOUT)
    )


def _standard_for(month: dt.date) -> Standard:
    try:
        return rulebook.book().standard_for(month)
    except LookupError as error:  # a month before the scheme
        raise NotYet(str(error)) from None
