"""`flask --app wsgi proxy-payments --year Y`: the county's proxy payments for hardship residents (R7)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from miniapp_api.contributions import proxy_payments
from miniapp_api.core.metrics import batch_job


@click.command("proxy-payments")
@click.option("--year", type=int, required=True, help="The contribution year (the current one).")
@with_appcontext
@batch_job("proxy_payments")
def proxy_payments_command(year: int) -> None:
    """Create the government proxy orders of R7 for every hardship resident known to the backend."""
    failures = 0
    for outcome in proxy_payments.run(year):
        click.echo(f"{outcome.resident_id}: {outcome.outcome}")
        failures += outcome.failed
    if failures:
        raise SystemExit(1)
