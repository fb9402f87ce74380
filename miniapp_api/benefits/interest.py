"""The yearly interest of R10 (`interest credit --year Y`), once per account and year, years in order.

Pinned rules: the base of year Y is the balance at 24:00 on 31 December (Beijing time), counting a
contribution at its payment time (`orders.paid_at`) even when it was credited later; interest is
rounded to the nearest fen, half up; year Y is credited only once Y−1 is (`interest_years` records the
years every account has had), so the command credits every missing year in order; a closed account
(death on or before 31 December, or an inheritance paid) earns nothing; accounts in payment do.

Set-based: per batch of residents and per missing year, one INSERT … SELECT sums the batch's ledger
and books the interest, ON CONFLICT DO NOTHING on the (resident, year) interest index, so a rerun
after a crash continues where the committed batches stopped.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import IO

from sqlalchemy import BigInteger, and_, cast, func, literal, or_, select, text
from sqlalchemy.orm import aliased

from miniapp_api.core import batches, rulebook
from miniapp_api.core.clock import SHANGHAI, clock
from models import EntryKind, Funder, InterestYear, LedgerEntry, Order, Resident, db, insert_skipping_conflicts
from policy.interest import HALF_FEN
from policy.standard import BASIS_POINTS


class TooEarly(ValueError):
    """The year has not reached 31 December yet."""


def year_end(year: int) -> dt.datetime:
    return dt.datetime(year + 1, 1, 1, tzinfo=SHANGHAI)


def missing_years(year: int) -> list[int]:
    """The years up to `year` not yet credited to every account, oldest first."""
    first = rulebook.book().standard_for(dt.date(year, 12, 31)).scheme_start.year
    done = set(db.session.scalars(select(InterestYear.year).where(InterestYear.year.between(first, year))))
    return [y for y in range(first, year + 1) if y not in done]


def _closed(year: int):
    """Died on or before 31 December of `year`, or the inheritance was paid: the account earns nothing."""
    closing = aliased(LedgerEntry)
    inherited = (
        select(closing.id)
        .where(
            closing.resident_id == LedgerEntry.resident_id,
            closing.kind == EntryKind.INHERITANCE_PAYOUT,
            closing.order_id.is_(None),  # the closing entry: its partial unique index answers this
        )
        .exists()
    )
    died = and_(Resident.deceased_on.is_not(None), Resident.deceased_on <= dt.date(year, 12, 31))
    return or_(died, inherited)


def year_statement(year: int, first_id: int, last_id: int):
    """INSERT the year's interest of residents `first_id`..`last_id`, returning the amounts booked."""
    rate = rulebook.book().standard_for(dt.date(year, 12, 31)).interest_rate_bp(year)
    # PostgreSQL sums bigints as numeric: cast back, so the division truncates as in policy/interest.py.
    interest = (cast(func.sum(LedgerEntry.amount_fen), BigInteger) * rate + HALF_FEN) // BASIS_POINTS
    # Counted by payment time: an entry booked after the year end counts when its order was paid before
    # it (credited late). Money is never booked before it is paid, so only those few look at orders.
    paid_before = select(Order.id).where(Order.id == LedgerEntry.order_id, Order.paid_at < year_end(year)).exists()
    counted = or_(LedgerEntry.booked_at < year_end(year), and_(LedgerEntry.order_id.is_not(None), paid_before))
    # Booked in the last second of 31 December, so next year's balance includes it.
    booked_at = year_end(year) - dt.timedelta(seconds=1)
    rows = (
        select(
            LedgerEntry.resident_id,
            literal(year),
            literal(EntryKind.INTEREST.value),
            interest,
            literal(Funder.BOOKKEEPING_INTEREST.value),
            literal(booked_at, LedgerEntry.booked_at.type),
        )
        .join(Resident, Resident.id == LedgerEntry.resident_id)
        .where(
            LedgerEntry.resident_id.between(first_id, last_id),
            Resident.id.between(first_id, last_id),  # said twice: the planner does not carry it over the join
            counted,
            ~and_(LedgerEntry.kind == EntryKind.INTEREST, LedgerEntry.year >= year),
            ~_closed(year),
        )
        .group_by(LedgerEntry.resident_id)
        .having(interest > 0)
    )
    columns = ["resident_id", "year", "kind", "amount_fen", "funder", "booked_at"]
    statement = insert_skipping_conflicts(LedgerEntry, ["resident_id", "year"], text("kind = 'interest'"))
    return statement.from_select(columns, rows).returning(LedgerEntry.amount_fen)


def credit_batch(ids: list[int], years: list[int]) -> dict[str, int]:
    """Each missing year in order for residents ids[0]..ids[-1] (each year's base includes the last's)."""
    amounts = [a for year in years for a in db.session.scalars(year_statement(year, ids[0], ids[-1]))]
    return {"accounts_credited": len(amounts), "interest_fen": sum(amounts)}


def credit(
    year: int, *, dry_run: bool = False, batch_size: int = batches.DEFAULT_BATCH_SIZE, out: IO[str] | None = None
) -> batches.Summary:
    """Credit every missing year up to `year` on every account, batch by batch; prints the summary line."""
    if clock().today() < dt.date(year, 12, 31):
        raise TooEarly(f"interest for {year} is credited on or after {year}-12-31")
    years = missing_years(year)
    counts = Counter({"accounts_credited": 0, "interest_fen": 0})
    summary = batches.Summary("interest credit", dry_run, {"year": year, "years": years}, counts=counts)
    residents = batches.id_batches(select(Resident.id), Resident.id, batch_size)
    batches.run(summary, residents if years else [], lambda ids: credit_batch(ids, years), out)
    if not dry_run and years:
        db.session.add_all(InterestYear(year=y, credited_at=clock().now()) for y in years)
        db.session.commit()
    return summary
