"""`flask --app wsgi payments settle | reconcile --date D`: the active query and the daily statement.

Both settle money through `payments.credit_payment`, exactly as a callback would, and commit one order
(one statement row) at a time, so a crash or a rerun never leaves a payment half applied or applied twice.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import click
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from integrations.errors import UpstreamError
from integrations.tax_bureau import RemoteOrder, StatementRow
from models import Order, db

from . import clients, payments
from .clock import SHANGHAI, clock
from .payments import Payment, Result

cli = AppGroup("payments", help="Tax bureau payments: active query (settle) and statements (reconcile).")

STALE_AFTER = dt.timedelta(minutes=10)
# Findings that mean the statement and the books disagree (the others were put right by this run).
MISMATCHES = frozenset({"amount_mismatch", "unknown_order", "double_payment", "transaction_conflict",
                        "missing_in_statement", "unexpected_status"})


@dataclass(frozen=True)
class Finding:
    kind: str
    out_order_no: str
    transaction_id: str | None
    detail: str

    @property
    def mismatch(self) -> bool:
        return self.kind in MISMATCHES

    def line(self) -> str:
        return f"{self.kind:<21} {self.out_order_no} {self.transaction_id or '-'}: {self.detail}"


@cli.command("settle")
def settle() -> None:
    """Ask the tax bureau about pending orders older than 10 minutes or expired, and settle them."""
    failed = [order_no for order_no, expires_at in stale_orders(clock().now())
              if not _settle_and_report(order_no, expires_at)]
    if failed:
        raise click.ClickException(f"{len(failed)} order(s) not settled, tax bureau unavailable")


@cli.command("reconcile")
@click.option("--date", "day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Statement date YYYY-MM-DD (Asia/Shanghai).")
def reconcile(day: dt.datetime) -> None:
    """Import the statement of DATE: credit missed payments, print and store every mismatch."""
    try:
        findings = reconcile_day(day.date())
    except UpstreamError as error:
        raise click.ClickException(error.detail) from None
    for finding in findings:
        click.echo(finding.line())
    mismatches = sum(finding.mismatch for finding in findings)
    click.echo(f"{day:%Y-%m-%d}: {mismatches} mismatch(es)")
    if mismatches:
        raise click.exceptions.Exit(1)


def stale_orders(now: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """(order_no, expires_at) of pending orders created 10+ minutes ago or at/after their expiry."""
    query = (db.select(Order.order_no, Order.expires_at)
             .where(Order.status == "pending",
                    db.or_(Order.created_at <= now - STALE_AFTER, Order.expires_at <= now))
             .order_by(Order.created_at))
    return [tuple(row) for row in db.session.execute(query)]


def settle_order(order_no: str, expires_at: dt.datetime) -> Result:
    """Settle one order from the tax bureau's answer; still pending before expiry stays pending."""
    remote = clients.tax_bureau().query_order(order_no)
    if remote is not None and remote.status == "SUCCESS":
        return credited(payment_of(remote), "settle")
    if remote is not None and remote.status == "CLOSED":
        return _committed(payments.close_order(order_no, "settle"))
    if clock().now() >= expires_at:  # PENDING or unknown there (404) past expiry
        return _committed(payments.expire_order(order_no))
    return Result("pending", None, "still pending" if remote else "not known to the tax bureau yet")


def reconcile_day(date: dt.date) -> list[Finding]:
    """Credit the statement's payments the books miss; every finding, mismatches included."""
    rows = clients.tax_bureau().statement(date)
    findings = [finding for row in rows if (finding := _reconcile_row(row, date))]
    findings += [_missing(order, date) for order in _absent_from(rows, date)]
    db.session.commit()
    return findings


def credited(payment: Payment, source: str) -> Result:
    """Credit and commit; losing a race to a concurrent crediting of the same payment is `duplicate`."""
    try:
        return _committed(payments.credit_payment(payment, source))
    except IntegrityError as error:
        db.session.rollback()
        return payments.recovered(payment, error)


def payment_of(source: RemoteOrder | StatementRow) -> Payment:
    return Payment(source.out_order_no, source.transaction_id, source.amount_fen, source.paid_at, source.channel)


def _settle_and_report(order_no: str, expires_at: dt.datetime) -> bool:
    try:
        result = settle_order(order_no, expires_at)
    except UpstreamError as error:
        db.session.rollback()
        click.echo(f"{order_no}: not settled, {error.detail}", err=True)
        return False
    click.echo(f"{order_no}: {result.outcome}" + (f" ({result.detail})" if result.detail else ""))
    return True


def _committed(result: Result) -> Result:
    db.session.commit()
    return result


def _reconcile_row(row: StatementRow, date: dt.date) -> Finding | None:
    if row.status != "SUCCESS":
        payments.review("unexpected_status", "statement", row.out_order_no, row.transaction_id,
                        {"status": row.status, "amount_fen": row.amount_fen}, date.isoformat())
        db.session.commit()
        return Finding("unexpected_status", row.out_order_no, row.transaction_id, f"status {row.status}")
    result = credited(payment_of(row), "statement")
    if result.outcome == "duplicate":
        return None
    detail = "credited, the callback was missed" if result.outcome == "credited" else result.detail
    return Finding(result.outcome, row.out_order_no, row.transaction_id, detail)


def _absent_from(rows: list[StatementRow], date: dt.date) -> list[Order]:
    """Orders paid here on `date` (Asia/Shanghai) whose payment the statement does not list."""
    start = dt.datetime.combine(date, dt.time(), SHANGHAI)
    query = (db.select(Order).where(Order.status == "paid", Order.paid_at >= start,
                                    Order.paid_at < start + dt.timedelta(days=1))
             .order_by(Order.paid_at))
    listed = {(row.out_order_no, row.transaction_id) for row in rows}
    return [order for order in db.session.execute(query).scalars()
            if (order.order_no, order.transaction_id) not in listed]


def _missing(order: Order, date: dt.date) -> Finding:
    detail = {"amount_fen": order.amount_fen, "paid_at": order.paid_at.isoformat(), "statement_date": date.isoformat()}
    payments.review("missing_in_statement", "statement", order.order_no, order.transaction_id, detail,
                    date.isoformat())
    return Finding("missing_in_statement", order.order_no, order.transaction_id,
                   f"paid here ({order.amount_fen} fen) but not in the statement")
