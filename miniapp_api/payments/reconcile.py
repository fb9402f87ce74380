"""The daily statement (`payments reconcile --date D`): credit what the books miss, keep every mismatch.

Each statement row is credited through `crediting.credit_payment` and committed on its own, like a
callback; orders paid here that the statement does not list become review items.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from integrations.tax_bureau import StatementRow
from miniapp_api.core import clients
from miniapp_api.core.clock import SHANGHAI
from miniapp_api.payments import crediting
from miniapp_api.payments.outcomes import MISMATCHES, Outcome
from miniapp_api.payments.settle import credited, payment_of
from models import Order, OrderStatus, db


@dataclass(frozen=True)
class Finding:
    kind: Outcome
    out_order_no: str
    transaction_id: str | None
    detail: str

    @property
    def mismatch(self) -> bool:
        return self.kind in MISMATCHES

    def line(self) -> str:
        return f"{self.kind:<21} {self.out_order_no} {self.transaction_id or '-'}: {self.detail}"


def reconcile_day(date: dt.date) -> list[Finding]:
    """Credit the statement's payments the books miss; every finding, mismatches included."""
    rows = clients.tax_bureau().statement(date)
    findings = [finding for row in rows if (finding := _reconcile_row(row, date))]
    findings += [_missing(order, date) for order in _absent_from(rows, date)]
    db.session.commit()
    return findings


def _reconcile_row(row: StatementRow, date: dt.date) -> Finding | None:
    if row.status != "SUCCESS":
        crediting.review(
            Outcome.UNEXPECTED_STATUS,
            "statement",
            row.out_order_no,
            row.transaction_id,
            {"status": row.status, "amount_fen": row.amount_fen},
            date.isoformat(),
        )
        db.session.commit()
        return Finding(Outcome.UNEXPECTED_STATUS, row.out_order_no, row.transaction_id, f"status {row.status}")
    result = credited(payment_of(row), "statement")
    if result.outcome == Outcome.DUPLICATE:
        return None
    detail = "credited, the callback was missed" if result.outcome == Outcome.CREDITED else result.detail
    return Finding(result.outcome, row.out_order_no, row.transaction_id, detail)


def _absent_from(rows: list[StatementRow], date: dt.date) -> list[Order]:
    """Orders paid here on `date` (Asia/Shanghai) whose payment the statement does not list."""
    start = dt.datetime.combine(date, dt.time(), SHANGHAI)
    query = (
        db.select(Order)
        .where(Order.status == OrderStatus.PAID, Order.paid_at >= start, Order.paid_at < start + dt.timedelta(days=1))
        .order_by(Order.paid_at)
    )
    listed = {(row.out_order_no, row.transaction_id) for row in rows}
    return [
        order for order in db.session.execute(query).scalars() if (order.order_no, order.transaction_id) not in listed
    ]


def _missing(order: Order, date: dt.date) -> Finding:
    assert order.paid_at is not None  # a paid order
    detail = {"amount_fen": order.amount_fen, "paid_at": order.paid_at.isoformat(), "statement_date": date.isoformat()}
    crediting.review(
        Outcome.MISSING_IN_STATEMENT, "statement", order.order_no, order.transaction_id, detail, date.isoformat()
    )
    return Finding(
        Outcome.MISSING_IN_STATEMENT,
        order.order_no,
        order.transaction_id,
        f"paid here ({order.amount_fen} fen) but not in the statement",
    )
