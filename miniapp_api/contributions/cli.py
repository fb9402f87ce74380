"""`flask --app wsgi proxy-payments --year Y`: the county's proxy payments for hardship residents (R7)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from miniapp_api.contributions import proxy_payments
from miniapp_api.core import batches


@click.command("proxy-payments")
@click.option("--year", type=int, required=True, help="The contribution year (the current one).")
@click.option("--list-unpaid", is_flag=True, help="Print the resident id of each hardship resident still unpaid.")
@with_appcontext
@batches.batch_command("proxy_payments")
def proxy_payments_command(year: int, list_unpaid: bool, dry_run: bool, batch_size: int) -> None:
    """Create the government proxy orders of R7 for every hardship resident the registry lists, once, and
    report who is still unpaid; exits 1 when an order could not be registered with the tax bureau."""
    summary = batches.Summary("proxy-payments", dry_run=dry_run, fields={"year": year})
    summary.counts.update(proxy_payments.COUNTS)
    terminal = sys.stdout.isatty()
    for done in proxy_payments.steps(summary, year, batch_size):
        if terminal:
            click.echo(f"\r{batches.progress(done)}", nl=False)
    count, fen, unpaid = proxy_payments.unpaid(year)
    summary.counts.update(unpaid=count, unpaid_fen=fen)
    if terminal:
        click.echo()
    for public_id in unpaid if list_unpaid else ():
        click.echo(f"unpaid: {public_id}")
    click.echo(summary.line())
    if summary["registration_failed"]:
        raise SystemExit(1)
