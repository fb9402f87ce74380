"""`flask --app wsgi interest credit --year Y` and `benefits run --month YYYY-MM`."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from miniapp_api.benefits import interest, monthly
from miniapp_api.core.batches import batch_command


@click.group("interest")
def interest_cli() -> None:
    """Yearly interest on the individual accounts (R10)."""


@interest_cli.command("credit")
@click.option("--year", type=int, required=True)
@with_appcontext
@batch_command("interest_credit")
def credit_command(year: int, dry_run: bool, batch_size: int) -> None:
    """Credit every missing year's interest up to YEAR on every account, in order, once; refused before
    31 December of that year."""
    try:
        interest.credit(year, dry_run=dry_run, batch_size=batch_size)
    except interest.TooEarly as error:
        raise click.ClickException(str(error)) from None


@click.group("benefits")
def benefits_cli() -> None:
    """Monthly benefits and inheritance (R11, R12)."""


def parse_month(ctx: click.Context, param: click.Parameter, text: str) -> dt.date:
    """`YYYY-MM` → the first day of that month."""
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise click.BadParameter("expected YYYY-MM") from None


@benefits_cli.command("run")
@click.option("--month", required=True, callback=parse_month, help="YYYY-MM")
@with_appcontext
@batch_command("benefits_run")
def run_command(month: dt.date, dry_run: bool, batch_size: int) -> None:
    """Start, pay (with the arrears of missed months) and close accounts for the month, for everyone the
    registry knows, once; refused for a month not yet begun."""
    try:
        monthly.run_month(month, dry_run=dry_run, batch_size=batch_size)
    except monthly.NotYet as error:
        raise click.ClickException(str(error)) from None
