"""The yearly interest of R10 (`interest credit --year Y`), once per account and year.

Interest is the balance at the end of 31 December (Beijing time) times that year's bookkeeping rate,
rounded down to the fen. One grouped query reads every balance; the entries are inserted with
ON CONFLICT DO NOTHING on the (resident, year) interest index, so a second run credits nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func

from miniapp_api.core import rulebook
from miniapp_api.core.clock import SHANGHAI, clock
from models import EntryKind, Funder, LedgerEntry, db, insert_skipping_conflicts
from policy.interest import yearly_interest


class TooEarly(ValueError):
    """The year has not reached 31 December yet."""


def year_end(year: int) -> dt.datetime:
    return dt.datetime(year + 1, 1, 1, tzinfo=SHANGHAI)


def year_end_balances(year: int) -> list[tuple[int, int]]:
    """(resident id, balance) at the end of the year, before that year's own interest."""
    own_interest = (LedgerEntry.kind == EntryKind.INTEREST) & (LedgerEntry.year == year)
    return db.session.execute(
        db.select(LedgerEntry.resident_id, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.booked_at < year_end(year), ~own_interest)
        .group_by(LedgerEntry.resident_id)
    ).all()


def credit_year(year: int) -> int:
    """Insert the year's interest entries (not committed); returns how many were new."""
    # Booked in the last second of 31 December, so next year's balance includes it.
    standard = rulebook.book().standard_for(dt.date(year, 12, 31))
    booked_at = year_end(year) - dt.timedelta(seconds=1)
    rows = [
        dict(
            resident_id=resident_id,
            year=year,
            kind=EntryKind.INTEREST,
            amount_fen=interest,
            funder=Funder.BOOKKEEPING_INTEREST,
            booked_at=booked_at,
        )
        for resident_id, balance in year_end_balances(year)
        if (interest := yearly_interest(standard, year, max(int(balance), 0))) > 0
    ]
    if not rows:
        return 0
    statement = insert_skipping_conflicts(LedgerEntry, ["resident_id", "year"], LedgerEntry.kind == EntryKind.INTEREST)
    return len(db.session.execute(statement.returning(LedgerEntry.id), rows).all())


def credit(year: int) -> int:
    """Credit the year's interest on every account, once (committed); how many accounts got it now."""
    if clock().today() < dt.date(year, 12, 31):
        raise TooEarly(f"interest for {year} is credited on or after {year}-12-31")
    created = credit_year(year)
    db.session.commit()
    return created
