"""`flask --app wsgi payments settle | reconcile --date D`: the active query and the daily statement."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from integrations.errors import UpstreamError
from miniapp_api.core.metrics import batch_job
from miniapp_api.payments import reconcile as reconciling
from miniapp_api.payments import settle as settling

cli = AppGroup("payments", help="Tax bureau payments: active query (settle) and statements (reconcile).")


@cli.command("settle")
@batch_job("payments_settle")
def settle() -> None:
    """Ask the tax bureau about pending orders older than 10 minutes or expired, and settle them."""
    failed = 0
    for settled in settling.settle_stale():
        if settled.result is None:
            failed += 1
            click.echo(f"{settled.order_no}: not settled, {settled.error}", err=True)
        else:
            detail = f" ({settled.result.detail})" if settled.result.detail else ""
            click.echo(f"{settled.order_no}: {settled.result.outcome}{detail}")
    if failed:
        raise click.ClickException(f"{failed} order(s) not settled, tax bureau unavailable")


@cli.command("reconcile")
@click.option(
    "--date",
    "day",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Statement date YYYY-MM-DD (Asia/Shanghai).",
)
@batch_job("payments_reconcile", success_codes=(0, 1))  # exit 1: done, with mismatches to review
def reconcile(day: dt.datetime) -> None:
    """Import the statement of DATE: credit missed payments, print and store every mismatch."""
    try:
        findings = reconciling.reconcile_day(day.date())
    except UpstreamError as error:
        raise click.ClickException(error.detail) from None
    for finding in findings:
        click.echo(finding.line())
    mismatches = sum(finding.mismatch for finding in findings)
    click.echo(f"{day:%Y-%m-%d}: {mismatches} mismatch(es)")
    if mismatches:
        raise click.exceptions.Exit(1)
