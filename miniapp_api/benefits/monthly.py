"""The monthly benefits of R11 and the death rules of R12 (`benefits run --month YYYY-MM`).

For everyone the registry knows (the residents table, whether or not they ever used the mini-program),
batch by batch with a commit each (core/batches.py):

- start: a resident eligible by the month gets the first month due (the month after the 65th birthday,
  or after the contribution that completed the required years) and the account pension fixed on the
  balance at midnight of that month (÷ 120, rounded down);
- pay: every month due and not yet paid, up to the run's month and through the month of death, as its
  own `benefit_payments` row (unique per resident and month: a month is paid once; one paid in the run
  of a later month is marked `arrears`). The pension is the fixed one plus, from the month after it
  was credited, ÷ 120 of each contribution credited after the start; it is taken from the account
  while the account holds money and paid by the fund beyond it (the balance never goes below zero);
- close: for a resident who died before the month, benefits paid for months after the death are taken
  back from the balance (`recovery`), what the balance cannot cover is kept for review, and the rest
  goes to the heirs (`inheritance_payout`), which closes the account. Money reaching a closed account
  later is passed on by the crediting itself (payments/crediting.py).

Every write is idempotent per row (unique indexes, ON CONFLICT DO NOTHING, "not started" guards), so a
rerun after a crash continues, and no row lock outlives its batch.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import BigInteger, and_, cast, func, or_, select, text

from miniapp_api.core import batches, rulebook
from miniapp_api.core.clock import SHANGHAI, clock
from models import (
    BenefitPayment,
    ContributionKind,
    EntryKind,
    Funder,
    LedgerEntry,
    Order,
    OrderStatus,
    Resident,
    ReviewItem,
    db,
    insert_rows_skipping_conflicts,
    insert_skipping_conflicts,
)
from policy import benefits
from policy.facts import ResidentFacts
from policy.standard import Standard
from policy.years import first_of_next_month

SNAPSHOT = (  # the residents columns a run reads (rulebook.facts_from_snapshot and the benefit start)
    "id",
    "birth_date",
    "region_code",
    "receiving_basic_pension",
    "categories",
    "supporter_capable",
    "deceased_on",
    "basic_pension_paid_years",
    "registration_updated_on",
    "enrolled",
    "benefit_started_on",
    "benefit_account_pension_fen",
)
OVERPAID = "benefit_overpaid"  # review item: benefits paid after a death that the balance could not cover
COUNTS = (
    "started",
    "months_paid",
    "arrears_months",
    "accounts_closed",
    "benefits_fen",
    "account_pension_fen",
    "fund_pension_fen",
    "exit_subsidy_fen",
    "supplements_fen",
    "recovered_fen",
    "to_recover_fen",
    "inherited_fen",
)


class NotYet(ValueError):
    """The month cannot be run (not begun yet, or before the scheme)."""


def month_start(month: dt.date) -> dt.datetime:
    """Midnight Beijing time on the first day of the month."""
    return dt.datetime(month.year, month.month, 1, tzinfo=SHANGHAI)


def months(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    while first <= last:
        yield first
        first = first_of_next_month(first)


@dataclass
class Person:
    """One resident of a batch, as the run needs them (a plain row, not an ORM object)."""

    id: int
    facts: ResidentFacts
    started_on: dt.date | None
    pension_fen: int | None
    last_paid: dt.date | None
    closed: bool = False
    balance_fen: int = 0
    raises: list[tuple[dt.date, int]] = field(default_factory=list)  # (first month, fen a month)

    def last_due(self, month: dt.date) -> dt.date:
        """Paid through the month of death (R12)."""
        died = self.facts.deceased_on
        return min(month, died.replace(day=1)) if died else month

    def pension_for(self, month: dt.date) -> int:
        return (self.pension_fen or 0) + sum(fen for first, fen in self.raises if first <= month)


@dataclass
class Run:
    """The run's month, its instant and the standards in force per paid month (looked up once)."""

    month: dt.date
    now: dt.datetime
    standards: dict[dt.date, Standard] = field(default_factory=dict)

    def standard(self, month: dt.date) -> Standard:
        if month not in self.standards:
            self.standards[month] = rulebook.book().standard_for(month)
        return self.standards[month]


def population(month: dt.date):
    """Who a run looks at (`looked_at`)."""
    return select(Resident.id).where(looked_at(month))


def looked_at(month: dt.date):
    """Possibly due a start (receiving basic pension, 65 before the month), in payment, or dead with the
    account still open."""
    return or_(
        due_a_start(month),
        and_(Resident.benefit_started_on.is_not(None), Resident.deceased_on.is_(None)),
        and_(Resident.deceased_on.is_not(None), ~closed()),
    )


def due_a_start(month: dt.date):
    standard = rulebook.book().standard_for(month)
    born_before = dt.date(month.year - standard.benefit_age, month.month, 1)
    return and_(
        Resident.benefit_started_on.is_(None),
        Resident.receiving_basic_pension.is_(True),
        Resident.birth_date < born_before,
    )


def closed():
    """The account was closed by its inheritance (R12)."""
    closing = select(LedgerEntry.id).where(
        LedgerEntry.resident_id == Resident.id,
        LedgerEntry.kind == EntryKind.INHERITANCE_PAYOUT,
        LedgerEntry.order_id.is_(None),
    )
    return closing.exists()


def run_month(
    month: dt.date, *, dry_run: bool = False, batch_size: int = batches.DEFAULT_BATCH_SIZE, out: IO[str] | None = None
) -> batches.Summary:
    """Start, pay and close accounts for `month` (its first day), batch by batch; prints the summary."""
    if month > clock().today():
        raise NotYet(f"benefits for {month:%Y-%m} can run from {month.isoformat()}")
    try:
        rulebook.book().standard_for(month)
    except LookupError as error:  # a month before the scheme
        raise NotYet(str(error)) from None
    run = Run(month, clock().now())
    summary = batches.Summary(
        "benefits run", dry_run, {"month": f"{month:%Y-%m}"}, counts=Counter(dict.fromkeys(COUNTS, 0))
    )
    ids = batches.id_batches(population(month), Resident.id, batch_size)
    return batches.run(summary, ids, lambda batch: pay_batch(run, batch), out)


def pay_batch(run: Run, ids: list[int]) -> Counter[str]:
    """Start, pay and close the batch's residents (in the caller's transaction); the batch's counts."""
    people = load(run.month, ids)
    counts: Counter[str] = Counter()
    counts["started"] = start(run, [p for p in people if p.started_on is None])
    load_raises(run, [p for p in people if p.started_on is not None])
    counts += pay(run, [p for p in people if p.started_on is not None])
    counts += close(run, [p for p in people if _dead_before(p, run.month)])
    return counts


def load(month: dt.date, ids: list[int]) -> list[Person]:
    """The batch's residents (plain rows) with their balance and last paid month, in two queries."""
    last_paid = (
        select(func.max(BenefitPayment.month)).where(BenefitPayment.resident_id == Resident.id).scalar_subquery()
    )
    columns = [getattr(Resident, name) for name in SNAPSHOT]
    rows = db.session.execute(
        select(*columns, last_paid.label("last_paid"), closed().label("closed"))
        .where(Resident.id.between(ids[0], ids[-1]), looked_at(month))
        .order_by(Resident.id)
    ).all()
    in_batch = select(Resident.id).where(Resident.id.between(ids[0], ids[-1]), looked_at(month))
    balances = balances_of(ids[0], ids[-1], in_batch)
    return [
        Person(
            r.id,
            rulebook.facts_from_snapshot(r),
            r.benefit_started_on,
            r.benefit_account_pension_fen,
            r.last_paid,
            bool(r.closed),
            balances.get(r.id, 0),
        )
        for r in rows
    ]


def balances_of(first_id: int, last_id: int, residents) -> dict[int, int]:
    """Current balances of `residents` (a select of ids) between the two ids, in one grouped query
    (payouts are negative entries). A range and a subquery, not a list of ids: a few parameters."""
    rows = db.session.execute(
        select(LedgerEntry.resident_id, cast(func.sum(LedgerEntry.amount_fen), BigInteger))
        .where(LedgerEntry.resident_id.between(first_id, last_id), LedgerEntry.resident_id.in_(residents))
        .group_by(LedgerEntry.resident_id)
    )
    return {resident_id: int(balance or 0) for resident_id, balance in rows}


def _dead_before(person: Person, month: dt.date) -> bool:
    """Died before the month, account still open: it closes in this run."""
    return person.facts.deceased_on is not None and person.facts.deceased_on < month and not person.closed


# Start


def start(run: Run, candidates: list[Person]) -> int:
    """Record the first month due and the pension fixed on the balance then, for those due by now."""
    paid = _paid_contributions(run.month, candidates)
    due = {}
    for person in candidates:
        first = _first_month(run, person, paid.get(person.id, []))
        if first is not None:
            due[person.id] = first
    balances = _balances_before(due)
    started = 0
    for person in candidates:
        if person.id in due:
            started += _record_start(run, person, due[person.id], balances.get(person.id, 0))
    return started


def _first_month(run: Run, person: Person, paid: list[benefits.Credited]) -> dt.date | None:
    """The first month due, if it is not after the run's month nor after the month of death."""
    facts = person.facts
    if not facts.receiving_basic_pension:
        return None
    first = benefits.first_benefit_month(run.standard(run.month), facts, paid)
    if first is None or first > person.last_due(run.month):
        return None
    return first


def _paid_contributions(month: dt.date, candidates: list[Person]) -> dict[int, list[benefits.Credited]]:
    if not candidates:
        return {}
    rows = db.session.execute(
        select(Order.resident_id, Order.kind, Order.year, Order.years, Order.paid_at)
        .join(Resident, Resident.id == Order.resident_id)
        .where(
            Order.resident_id.between(candidates[0].id, candidates[-1].id),
            Resident.id.between(candidates[0].id, candidates[-1].id),
            due_a_start(month),
            Order.status == OrderStatus.PAID,
        )
    ).all()
    paid: dict[int, list[benefits.Credited]] = defaultdict(list)
    for resident_id, kind, year, years, paid_at in rows:
        lump = kind == ContributionKind.LUMP_SUM
        paid[resident_id].append(
            benefits.Credited(paid_at.astimezone(SHANGHAI).date(), None if lump else year, years if lump else 0)
        )
    return paid


def _balances_before(first_months: dict[int, dt.date]) -> dict[int, int]:
    """Each resident's balance at midnight of their first month."""
    rows = db.session.execute(
        select(LedgerEntry.resident_id, LedgerEntry.amount_fen, LedgerEntry.booked_at).where(
            LedgerEntry.resident_id.in_(list(first_months))
        )
    ).all()
    balances: Counter[int] = Counter()
    for resident_id, amount, booked_at in rows:
        if booked_at < month_start(first_months[resident_id]):
            balances[resident_id] += amount
    return dict(balances)


def _record_start(run: Run, person: Person, first: dt.date, balance_fen: int) -> int:
    """Fix the pension once (a concurrent run that got there first wins); 1 if this run did."""
    pension = benefits.pension_of(run.standard(first), max(balance_fen, 0))
    result = db.session.execute(
        db.update(Resident)
        .where(Resident.id == person.id, Resident.benefit_started_on.is_(None))
        .values(benefit_started_on=first, benefit_started_at=month_start(first), benefit_account_pension_fen=pension)
    )
    if result.rowcount:
        person.started_on, person.pension_fen = first, pension
    return result.rowcount


# Pay


def load_raises(run: Run, started: list[Person]) -> None:
    """Each started resident's raises (see `raises_of`)."""
    if started:
        raises = raises_of([p.id for p in started], run.standard)
        for person in started:
            person.raises = raises.get(person.id, [])


def raises_of(ids: list[int], standard_for: Callable[[dt.date], Standard]) -> dict[int, list[tuple[dt.date, int]]]:
    """Contributions credited after the start, per order: each raises the pension by its ÷ 120 from
    the month after it was credited (R11); interest does not. (first month, fen a month) per resident."""
    rows = db.session.execute(
        select(
            LedgerEntry.resident_id, func.min(LedgerEntry.booked_at), cast(func.sum(LedgerEntry.amount_fen), BigInteger)
        )
        .join(Resident, Resident.id == LedgerEntry.resident_id)
        .where(
            LedgerEntry.resident_id.between(ids[0], ids[-1]),
            Resident.id.between(ids[0], ids[-1]),
            LedgerEntry.order_id.is_not(None),
            LedgerEntry.kind.in_(EntryKind.contributions()),
            LedgerEntry.booked_at >= Resident.benefit_started_at,
        )
        .group_by(LedgerEntry.resident_id, LedgerEntry.order_id)
    ).all()
    raises: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for resident_id, credited_at, amount in rows:
        first = first_of_next_month(credited_at.astimezone(SHANGHAI).date())
        raises[resident_id].append((first, benefits.pension_of(standard_for(first), int(amount))))
    return raises


def pension_in_payment(resident: Resident, month: dt.date) -> int:
    """The account pension paid for `month` to a started resident: fixed at the start, plus raises."""
    raises = raises_of([resident.id], rulebook.book().standard_for).get(resident.id, [])
    return (resident.benefit_account_pension_fen or 0) + sum(fen for first, fen in raises if first <= month)


def pay(run: Run, started: list[Person]) -> Counter[str]:
    """Every month due and unpaid, as its own row; the account's part also as a ledger payout."""
    rows = [row for person in started for row in _payments(run, person)]
    if not rows:
        return Counter()
    returning = (BenefitPayment.resident_id, BenefitPayment.month)
    inserted = {
        tuple(row) for row in insert_rows_skipping_conflicts(BenefitPayment, rows, ["resident_id", "month"], returning)
    }
    booked = [row for row in rows if (row["resident_id"], row["month"]) in inserted]
    payouts = [_payout(run, row) for row in booked if row["account_pension_fen"]]
    insert_rows_skipping_conflicts(LedgerEntry, payouts, None)
    return _paid_counts(booked)


def _payments(run: Run, person: Person) -> list[dict[str, Any]]:
    """The rows of the months due; the account pays while it holds money, the fund beyond (R11)."""
    assert person.started_on is not None
    first = max(person.started_on, first_of_next_month(person.last_paid) if person.last_paid else person.started_on)
    rows = []
    for month in months(first, person.last_due(run.month)):
        pension = person.pension_for(month)
        from_account = min(pension, max(person.balance_fen, 0))
        person.balance_fen -= from_account
        parts = benefits.monthly_benefit(run.standard(month), person.facts, 0, month)
        rows.append(
            dict(
                resident_id=person.id,
                month=month,
                account_pension_fen=from_account,
                fund_pension_fen=pension - from_account,
                exit_subsidy_fen=parts.exit_subsidy_fen,
                supplements_fen=parts.supplements_fen,
                monthly_fen=pension + parts.exit_subsidy_fen + parts.supplements_fen,
                arrears=month < run.month,
                booked_at=run.now,
            )
        )
    return rows


def _payout(run: Run, row: dict[str, Any]) -> dict[str, Any]:
    return dict(
        resident_id=row["resident_id"],
        year=row["month"].year,
        kind=EntryKind.BENEFIT_PAYOUT,
        amount_fen=-row["account_pension_fen"],
        funder=Funder.BENEFIT,
        booked_at=run.now,
    )


def _paid_counts(rows: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter(months_paid=len(rows), arrears_months=sum(r["arrears"] for r in rows))
    for name in ("account_pension_fen", "fund_pension_fen", "exit_subsidy_fen", "supplements_fen"):
        counts[name] = sum(r[name] for r in rows)
    counts["benefits_fen"] = sum(r["monthly_fen"] for r in rows)
    return counts


# Close (R12)


def close(run: Run, dead: list[Person]) -> Counter[str]:
    """Recover what was paid for months after each death, pass the rest to the heirs, close the account."""
    if not dead:
        return Counter()
    _lock_and_reread_balances(dead)
    overpaid = _overpaid(dead)
    counts: Counter[str] = Counter()
    for person in dead:
        counts += _close_one(run, person, overpaid.get(person.id, 0))
    return counts


def _lock_and_reread_balances(dead: list[Person]) -> None:
    """Lock the residents (crediting takes the same lock, payments/crediting.locked_for_credit) and read
    their balances again: money credited before the lock is in the inheritance, after it is passed on."""
    ids = [p.id for p in dead]
    db.session.execute(select(Resident.id).where(Resident.id.in_(ids)).with_for_update())
    balances = balances_of(ids[0], ids[-1], ids)
    for person in dead:
        person.balance_fen = balances.get(person.id, 0)


def _overpaid(dead: list[Person]) -> dict[int, int]:
    """What the fund and the subsidies paid for months after each death: the overpayment to recover.

    The account's own part of those months is not recovered: it was the estate's money, already paid
    out of the account to the estate, so the heirs receive exactly the balance at the death."""
    if not dead:
        return {}
    rows = db.session.execute(
        select(
            BenefitPayment.resident_id,
            BenefitPayment.month,
            BenefitPayment.monthly_fen - BenefitPayment.account_pension_fen,
        ).where(BenefitPayment.resident_id.in_([p.id for p in dead]))
    ).all()
    death = {p.id: p.last_due(dt.date.max) for p in dead}
    overpaid: Counter[int] = Counter()
    for resident_id, month, fen in rows:
        if month > death[resident_id]:
            overpaid[resident_id] += fen
    return dict(overpaid)


def _close_one(run: Run, person: Person, overpaid_fen: int) -> Counter[str]:
    balance = max(person.balance_fen, 0)
    recovered = min(overpaid_fen, balance)
    # The recovery comes before the inheritance (R12); each entry's unique index makes it happen once.
    if recovered and not _entry(person.id, run, EntryKind.RECOVERY, -recovered, Funder.BENEFIT):
        return Counter()  # closed meanwhile by a concurrent run
    if not _entry(person.id, run, EntryKind.INHERITANCE_PAYOUT, -(balance - recovered), Funder.INHERITANCE):
        return Counter()
    if overpaid_fen > recovered:
        _keep_for_review(run, person, overpaid_fen, recovered)
    return Counter(
        accounts_closed=1,
        recovered_fen=recovered,
        to_recover_fen=overpaid_fen - recovered,
        inherited_fen=balance - recovered,
    )


def _entry(resident_id: int, run: Run, kind: EntryKind, amount_fen: int, funder: str) -> bool:
    """One closing entry (recovery or the inheritance), once: its unique index refuses a second."""
    where = {
        EntryKind.RECOVERY: text("kind = 'recovery'"),
        EntryKind.INHERITANCE_PAYOUT: text("kind = 'inheritance_payout' AND order_id IS NULL"),
    }[kind]
    values = dict(
        resident_id=resident_id, year=run.month.year, kind=kind, amount_fen=amount_fen, funder=funder, booked_at=run.now
    )
    statement = insert_skipping_conflicts(LedgerEntry, ["resident_id"], where).values(**values)
    return db.session.execute(statement.returning(LedgerEntry.id)).first() is not None


def _keep_for_review(run: Run, person: Person, overpaid_fen: int, recovered_fen: int) -> None:
    detail = {
        "reason": "benefits paid after the death exceed the remaining balance",
        "resident_id": person.id,
        "deceased_on": person.facts.deceased_on.isoformat() if person.facts.deceased_on else None,
        "overpaid_fen": overpaid_fen,
        "recovered_fen": recovered_fen,
        "to_recover_fen": overpaid_fen - recovered_fen,
    }
    values = dict(
        dedupe_key=f"{OVERPAID}:{person.id}", kind=OVERPAID, source="benefits", detail=detail, created_at=run.now
    )
    db.session.execute(insert_skipping_conflicts(ReviewItem, ["dedupe_key"]).values(**values))
