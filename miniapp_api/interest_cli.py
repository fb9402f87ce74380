"""`flask --app wsgi interest credit --year Y`: the yearly interest of R10, once per account and year.

Interest is the balance at the end of 31 December (Beijing time) times that year's bookkeeping rate,
rounded down to the fen. One grouped query reads every balance; the entries are inserted with
ON CONFLICT DO NOTHING on the (resident, year) interest index, so a second run credits nothing.
"""
from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext
from sqlalchemy import func

from models import LedgerEntry, db, insert_skipping_conflicts
from policy.interest import yearly_interest

from . import rulebook
from .clock import SHANGHAI, clock


def year_end(year: int) -> dt.datetime:
    return dt.datetime(year + 1, 1, 1, tzinfo=SHANGHAI)


def year_end_balances(year: int) -> list[tuple[int, int]]:
    """(resident id, balance) at the end of the year, before that year's own interest."""
    own_interest = (LedgerEntry.kind == "interest") & (LedgerEntry.year == year)
    return db.session.execute(
        db.select(LedgerEntry.resident_id, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.booked_at < year_end(year), ~own_interest).group_by(LedgerEntry.resident_id)).all()


def credit_year(year: int) -> int:
    """Insert the year's interest entries (not committed); returns how many were new."""
    # Booked in the last second of 31 December, so next year's balance includes it.
    standard = rulebook.book().standard_for(dt.date(year, 12, 31))
    booked_at = year_end(year) - dt.timedelta(seconds=1)
    rows = [dict(resident_id=resident_id, year=year, kind="interest", amount_fen=interest,
                 funder="bookkeeping_interest", booked_at=booked_at)
            for resident_id, balance in year_end_balances(year)
            if (interest := yearly_interest(standard, year, max(int(balance), 0))) > 0]
    if not rows:
        return 0
    statement = insert_skipping_conflicts(LedgerEntry, ["resident_id", "year"], LedgerEntry.kind == "interest")
    return len(db.session.execute(statement.returning(LedgerEntry.id), rows).all())


@click.group("interest")
def cli() -> None:
    """Yearly interest on the individual accounts (R10)."""


@cli.command("credit")
@click.option("--year", type=int, required=True)
@with_appcontext
def credit_command(year: int) -> None:
    """Credit the year's interest on every account, once; refused before 31 December of that year."""
    if clock().today() < dt.date(year, 12, 31):
        raise click.ClickException(f"interest for {year} is credited on or after {year}-12-31")
    created = credit_year(year)
    db.session.commit()
    click.echo(f"interest for {year}: {created} accounts credited")
