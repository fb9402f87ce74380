"""The active query (`payments settle`): ask the tax bureau about stale pending orders and settle them.

Money is settled through `crediting.credit_payment`, exactly as a callback would, one order and one
commit at a time, so a crash or a rerun never leaves a payment half applied or applied twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from integrations.errors import UpstreamError
from integrations.tax_bureau import RemoteOrder, StatementRow
from miniapp_api.core import clients
from miniapp_api.core.clock import clock
from miniapp_api.payments import crediting
from miniapp_api.payments.crediting import Payment, Result
from miniapp_api.payments.outcomes import Outcome
from models import Order, OrderStatus, db

STALE_AFTER = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Settled:
    """One order's outcome; `error` when the tax bureau could not be asked."""

    order_no: str
    result: Result | None = None
    error: str | None = None


def settle_stale() -> Iterator[Settled]:
    """Settle every stale order, one by one; an unreachable tax bureau leaves that order for next time."""
    for order_no, expires_at in stale_orders(clock().now()):
        try:
            yield Settled(order_no, settle_order(order_no, expires_at))
        except UpstreamError as error:
            db.session.rollback()
            yield Settled(order_no, error=error.detail)


def stale_orders(now: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """(order_no, expires_at) of pending orders created 10+ minutes ago or at/after their expiry."""
    query = (
        db.select(Order.order_no, Order.expires_at)
        .where(
            Order.status == OrderStatus.PENDING, db.or_(Order.created_at <= now - STALE_AFTER, Order.expires_at <= now)
        )
        .order_by(Order.created_at)
    )
    return [(order_no, expires_at) for order_no, expires_at in db.session.execute(query)]


def settle_order(order_no: str, expires_at: dt.datetime) -> Result:
    """Settle one order from the tax bureau's answer; still pending before expiry stays pending."""
    remote = clients.tax_bureau().query_order(order_no)
    if remote is not None and remote.status == "SUCCESS":
        return credited(payment_of(remote), "settle")
    if remote is not None and remote.status == "CLOSED":
        return committed(crediting.close_order(order_no, "settle"))
    if clock().now() >= expires_at:  # PENDING or unknown there (404) past expiry
        return committed(crediting.expire_order(order_no))
    return Result(Outcome.PENDING, None, "still pending" if remote else "not known to the tax bureau yet")


def credited(payment: Payment, source: str) -> Result:
    """Credit and commit; losing a race to a concurrent crediting of the same payment is `duplicate`."""
    try:
        return committed(crediting.credit_payment(payment, source))
    except IntegrityError as error:
        db.session.rollback()
        return crediting.recovered(payment, error)


def payment_of(source: RemoteOrder | StatementRow) -> Payment:
    return Payment(source.out_order_no, source.transaction_id, source.amount_fen, source.paid_at, source.channel)


def committed(result: Result) -> Result:
    db.session.commit()
    return result
