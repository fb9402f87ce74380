"""Crediting: the one way a payment the tax bureau took becomes a paid order with its ledger entries.

The callback, the active query (`payments settle`) and the statement (`payments reconcile`) all call
`credit_payment`. Each function here locks the order row, decides, and changes the session; the
caller commits. Exactly-once rests on the database, not on timing: `orders.transaction_id` and the
ledger's (order_id, kind) are unique, so when two workers race the loser gets an IntegrityError, rolls
back and asks `recovered()`, which answers `duplicate` once the winner's crediting is visible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from miniapp_api.core.clock import clock
from miniapp_api.payments.outcomes import ACCEPTED, Outcome
from models import (
    YEARLY_KINDS,
    EntryKind,
    Funder,
    LedgerEntry,
    Order,
    OrderStatus,
    Payer,
    Resident,
    ReviewItem,
    db,
    insert_skipping_conflicts,
)

# Outcomes after which the tax bureau is answered SUCCESS (it stops retrying).


@dataclass(frozen=True)
class Payment:
    """Money the tax bureau says it took for one order (callback, active query or statement row)."""

    out_order_no: str
    transaction_id: str
    amount_fen: int
    paid_at: dt.datetime
    channel: str


@dataclass(frozen=True)
class Result:
    """What a payment function did; `outcome` is also what the callback inbox records."""

    outcome: Outcome
    order: Order | None = None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.outcome in ACCEPTED


def credit_payment(payment: Payment, source: str) -> Result:
    """Mark the order paid and book its ledger entries, or refuse and keep it for review; caller commits.

    `source` is "callback", "settle" or "statement" (recorded on review items).
    """
    order, taken = locked_for_credit(payment)
    if order is None:
        return _flagged(Outcome.UNKNOWN_ORDER, payment, source, None, "no such order")
    if order.status == OrderStatus.PAID:
        return _already_paid(order, payment, source)
    if payment.amount_fen != order.amount_fen:
        return _amount_mismatch(order, payment, source)
    if taken:
        return _flagged(Outcome.TRANSACTION_CONFLICT, payment, source, order, "transaction credited to another order")
    if order.status != OrderStatus.PENDING:
        return _credit_late(order, payment, source)
    _credit(order, payment)
    return Result(Outcome.CREDITED, order)


def close_order(out_order_no: str, source: str) -> Result:
    """The tax bureau closed the order unpaid: a pending order closes, any other stays as it is."""
    order = locked_order(out_order_no)
    if order is None:
        review(Outcome.UNKNOWN_ORDER, source, out_order_no, None, {"reason": "CLOSED for an unknown order"})
        return Result(Outcome.UNKNOWN_ORDER, None, "no such order")
    if order.status != OrderStatus.PENDING:
        return Result(Outcome.UNCHANGED, order, f"order is {order.status}")
    order.status = OrderStatus.CLOSED
    return Result(Outcome.CLOSED, order)


def expire_order(out_order_no: str) -> Result:
    """Nobody paid before `expires_at`: a still pending order expires."""
    order = locked_order(out_order_no)
    if order is None or order.status != OrderStatus.PENDING:
        return Result(Outcome.UNCHANGED, order, f"order is {order.status}" if order else "no such order")
    order.status = OrderStatus.EXPIRED
    return Result(Outcome.EXPIRED, order)


def recovered(payment: Payment, error: IntegrityError) -> Result:
    """After an IntegrityError and rollback: `duplicate` if a concurrent crediting won, else re-raise."""
    query = db.select(Order).where(Order.order_no == payment.out_order_no)
    order = db.session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()
    if order is None or order.status != OrderStatus.PAID or order.transaction_id != payment.transaction_id:
        raise error
    return Result(Outcome.DUPLICATE, order, "credited concurrently")


# The statements of a crediting, built once: every callback runs them (ORM flushes of the same rows
# cost three times the CPU, and a callback is mostly CPU on this path), as few as the rules allow:
# each round trip is CPU of the worker and of the database.
_ORDERS, _ENTRIES = Order.__table__, LedgerEntry.__table__
_LOCKED_ORDER = (
    db.select(Order)
    .where(Order.order_no == db.bindparam("order_no"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
# Whether another order already holds the transaction (the unique column would refuse it). One that
# takes it concurrently, past this check, still loses to that column: `recovered` re-raises, the tax
# bureau is answered 500, and its retry finds the conflict here.
_OTHERS = _ORDERS.alias("others")
_TAKEN = (
    db.select(_OTHERS.c.id)
    .where(_OTHERS.c.transaction_id == db.bindparam("transaction_id"), _OTHERS.c.id != Order.id)
    .correlate(Order)
    .exists()
)
# The resident's row and the order's, in one statement, the resident's first (PostgreSQL takes the
# locks of `FOR UPDATE OF` in the order of its list). The resident row is the lock a benefits run
# takes before it closes the account (benefits/monthly.close), so one of the two waits, and a payment
# never lands between the run's balance and its inheritance entry. Resident before order is the order
# every path takes (placing an order locks the resident, then expires its stale orders; a late payment
# locks its rival order after both), so no two of them wait for each other in a cycle.
_LOCKED_FOR_CREDIT = (
    db.select(Order, _TAKEN.label("taken"))
    .join(Resident, Resident.id == Order.resident_id)
    .where(Order.order_no == db.bindparam("order_no"))
    .with_for_update(of=(Resident, Order))
    .execution_options(populate_existing=True)
)
# Whether the account is already closed, asked by the statement that marks the order paid: it starts
# after the resident lock was granted, so it sees an inheritance entry committed while we waited (the
# locking statement itself still reads the snapshot it started with).
# (Its resident comes as a parameter of its own name: SQLite's RETURNING drops table names.)
_CLOSED = db.exists().where(
    _ENTRIES.c.resident_id == db.bindparam("account_of"),
    _ENTRIES.c.kind == EntryKind.INHERITANCE_PAYOUT,
    _ENTRIES.c.order_id.is_(None),
)
_PAID_COLUMNS = ("status", "paid_at", "channel", "transaction_id")
_MARK_PAID = (
    db.update(_ORDERS)
    .where(_ORDERS.c.id == db.bindparam("order_id"))
    .values({name: db.bindparam(f"set_{name}", type_=_ORDERS.c[name].type) for name in _PAID_COLUMNS})
    .returning(_CLOSED.label("closed"))
)
# With RETURNING, SQLAlchemy sends a payment's two to four entries as one multi-row INSERT; without it,
# psycopg sends them one by one in pipeline mode (a tenth of a callback's CPU).
_INSERT_ENTRIES = db.insert(_ENTRIES).returning(_ENTRIES.c.id)


def locked_order(out_order_no: str) -> Order | None:
    """The order row, locked until the transaction ends (SELECT ... FOR UPDATE; SQLite locks on write)."""
    return db.session.execute(_LOCKED_ORDER, {"order_no": out_order_no}).scalar_one_or_none()


def locked_for_credit(payment: Payment) -> tuple[Order | None, bool]:
    """The order and its resident locked (SQLite locks on write), and whether the payment's transaction
    is already another order's."""
    row = db.session.execute(
        _LOCKED_FOR_CREDIT, {"order_no": payment.out_order_no, "transaction_id": payment.transaction_id}
    ).first()
    return (row.Order, row.taken) if row else (None, False)


def write_ledger(order: Order, closed: bool) -> int:
    """Book a paid order into the account: personal (or sponsorship), government and collective subsidy;
    the amount booked. Money reaching an account its inheritance already `closed` goes on to the heirs
    at once, as a further inheritance entry of this order (R12), never left in the account."""
    booked_at = clock().now()
    parts = [(kind, amount, funder) for kind, amount, funder in _ledger_parts(order) if amount > 0]
    amount = sum(amount for _, amount, _ in parts)
    if closed and amount:
        parts.append((EntryKind.INHERITANCE_PAYOUT, -amount, Funder.INHERITANCE))
    rows = [
        dict(
            resident_id=order.resident_id,
            year=order.year,
            kind=kind,
            amount_fen=amount,
            funder=funder,
            payer=order.payer if kind != EntryKind.INHERITANCE_PAYOUT else None,
            order_id=order.id,
            booked_at=booked_at,
        )
        for kind, amount, funder in parts
    ]
    if rows:
        db.session.execute(_INSERT_ENTRIES, rows)
    return amount


def _ledger_parts(order: Order) -> tuple[tuple[str, int, str], ...]:
    """(kind, amount, funder): the payer funds the contribution (R9), subsidies come from their funders."""
    own_kind = EntryKind.SPONSORSHIP if order.payer == Payer.SPONSOR else EntryKind.PERSONAL
    return (
        (own_kind, order.amount_fen, order.payer),
        (EntryKind.GOVERNMENT_SUBSIDY, order.subsidy_fen, Funder.GOVERNMENT),
        (EntryKind.COLLECTIVE_SUBSIDY, order.collective_subsidy_fen, Funder.VILLAGE_COLLECTIVE),
    )


def review(
    kind: Outcome, source: str, out_order_no: str | None, transaction_id: str | None, detail: dict, *key_parts: str
) -> None:
    """Keep a finding for a person; the same finding again (same dedupe key) is a no-op."""
    key = ":".join((kind, out_order_no or "-", transaction_id or "-", *key_parts))
    values = dict(
        dedupe_key=key,
        kind=kind,
        source=source,
        out_order_no=out_order_no,
        transaction_id=transaction_id,
        detail=detail,
        created_at=clock().now(),
    )
    # Concurrent findings of the same thing never fail the transaction.
    db.session.execute(insert_skipping_conflicts(ReviewItem, ["dedupe_key"]).values(**values))


def _credit(order: Order, payment: Payment) -> None:
    """The order row changes first (a failure in the ledger write rolls both back), then its entries;
    the order and its resident are locked already (`locked_for_credit`)."""
    paid = dict(
        status=OrderStatus.PAID, paid_at=payment.paid_at, channel=payment.channel, transaction_id=payment.transaction_id
    )
    params = {f"set_{name}": value for name, value in paid.items()}
    params |= {"order_id": order.id, "account_of": order.resident_id}
    closed = bool(db.session.execute(_MARK_PAID, params).scalar_one())
    # The loaded order as the row now is, with nothing left to flush. The session does not know it
    # changed: a failure must roll the whole transaction back (which expires it), never a savepoint.
    for name, value in paid.items():
        set_committed_value(order, name, value)
    write_ledger(order, closed)


def _already_paid(order: Order, payment: Payment, source: str) -> Result:
    if order.transaction_id != payment.transaction_id:
        # The money was taken twice for one order: a person refunds it; answering SUCCESS stops retries.
        return _flagged(
            Outcome.DOUBLE_PAYMENT, payment, source, order, f"order already paid by transaction {order.transaction_id}"
        )
    if payment.amount_fen != order.amount_fen:
        return _amount_mismatch(order, payment, source)
    return Result(Outcome.DUPLICATE, order, "already credited")


def _amount_mismatch(order: Order, payment: Payment, source: str) -> Result:
    return _flagged(
        Outcome.AMOUNT_MISMATCH,
        payment,
        source,
        order,
        f"paid {payment.amount_fen} fen, order is {order.amount_fen} fen",
    )


def _credit_late(order: Order, payment: Payment, source: str) -> Result:
    """Paid after the order expired or closed here: the money was taken, so credit it and flag it."""
    rival = _live_rival(order)
    if rival is not None and rival.status == OrderStatus.PAID:
        return _flagged(
            Outcome.DOUBLE_PAYMENT,
            payment,
            source,
            order,
            f"paid after {order.status}; order {rival.order_no} already paid the year",
        )
    if rival is not None:  # a newer pending order for the same year gives way to the money taken
        rival.status, rival.review_reason = OrderStatus.CLOSED, "superseded_by_late_payment"
        db.session.flush()
    previous = order.status
    _credit(order, payment)
    order.review_reason = Outcome.PAID_AFTER_EXPIRY
    _flagged(Outcome.PAID_AFTER_EXPIRY, payment, source, order, f"paid after the order was {previous}")
    return Result(Outcome.CREDITED_LATE, order, f"paid after the order was {previous}; flagged for review")


def _live_rival(order: Order) -> Order | None:
    """Another pending or paid order of the same resident, year and kind (the index allows only one)."""
    if order.kind not in YEARLY_KINDS:
        return None
    query = db.select(Order).where(
        Order.resident_id == order.resident_id,
        Order.year == order.year,
        Order.kind == order.kind,
        Order.status.in_(OrderStatus.live()),
        Order.id != order.id,
    )
    return db.session.execute(query.with_for_update()).scalars().first()


def _flagged(kind: Outcome, payment: Payment, source: str, order: Order | None, reason: str) -> Result:
    """Record a review item about `payment`; the result says what was found."""
    detail = {
        "reason": reason,
        "amount_fen": payment.amount_fen,
        "paid_at": payment.paid_at.isoformat(),
        "channel": payment.channel,
        "order_amount_fen": order.amount_fen if order else None,
        "order_status": order.status if order else None,
    }
    review(kind, source, payment.out_order_no, payment.transaction_id, detail)
    return Result(kind, order, reason)
