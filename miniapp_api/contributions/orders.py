"""Orders in the database: numbers, creation under the live-order index, locks, expiry."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from miniapp_api.core import rulebook
from miniapp_api.core.clock import SHANGHAI, clock
from miniapp_api.core.errors import ApiError
from miniapp_api.identity.access import first_for_caller
from models import ContributionKind, Order, OrderStatus, Payer, Resident, db
from policy import rules

ORDER_LIFETIME = dt.timedelta(minutes=30)
PROXY_LIFETIME = dt.timedelta(days=30)  # the county pays through its own budget process
ORDER_PENDING = "An order for this year is waiting for payment."


def new_order_no(now: dt.datetime) -> str:
    """`SX` + the Beijing date + 64 random bits: unique, and no personal data in it."""
    return f"SX{now.astimezone(SHANGHAI):%Y%m%d}{secrets.token_hex(8).upper()}"


def new_order(
    resident: Resident,
    quote: rules.Quote,
    year: int,
    tier_fen: int,
    payer: Payer,
    payer_user_id: int | None,
    lifetime: dt.timedelta = ORDER_LIFETIME,
) -> Order:
    """A pending order (flushed); 409 `order_pending` when the live-order index holds one already."""
    now = clock().now()
    order = Order(
        order_no=new_order_no(now),
        resident_id=resident.id,
        year=year,
        kind=quote.kind,
        tier_fen=tier_fen,
        years=quote.years,
        amount_fen=quote.amount_fen,
        subsidy_fen=quote.subsidy_fen,
        collective_subsidy_fen=quote.collective_subsidy_fen,
        payer=payer,
        payer_user_id=payer_user_id,
        status=OrderStatus.PENDING,
        created_at=now,
        expires_at=now + lifetime,
    )
    order.slot = free_slot(resident, year, quote.kind)
    db.session.add(order)
    try:
        db.session.flush()
    except IntegrityError:  # the live-order unique index: someone else was quicker
        db.session.rollback()
        raise ApiError(409, "order_pending", ORDER_PENDING) from None
    return order


def free_slot(resident: Resident, year: int, kind: str) -> int:
    """The lowest of the year's slots (1..payments_per_year for normal orders, else 1) no live order holds;
    chosen under the resident's lock. When all are taken, the last: the live-order index refuses it."""
    slots = rulebook.standard().payments_per_year if kind == ContributionKind.NORMAL else 1
    taken = set(
        db.session.scalars(
            db.select(Order.slot).where(
                Order.resident_id == resident.id, Order.year == year, Order.kind == kind,
                Order.status.in_(OrderStatus.live()),
            )
        )
    )  # fmt: skip
    return next((slot for slot in range(1, slots + 1) if slot not in taken), slots)


def lock(resident: Resident) -> None:
    """Serialise order creation per resident (row lock on PostgreSQL; SQLite serialises writers)."""
    db.session.execute(db.select(Resident.id).where(Resident.id == resident.id).with_for_update())


def expire_stale(resident: Resident) -> None:
    db.session.execute(
        update(Order)
        .where(Order.resident_id == resident.id, Order.status == OrderStatus.PENDING, Order.expires_at <= clock().now())
        .values(status=OrderStatus.EXPIRED)
    )


def status_now(order: Order) -> str:
    """The order's status as of now: a pending order past its expiry shows as expired."""
    if order.status == OrderStatus.PENDING and order.expires_at <= clock().now():
        return OrderStatus.EXPIRED
    return order.status


# An order with its resident (the answer shows them, the authorization needs them), built once.
_BY_NUMBER = db.select(Order).options(joinedload(Order.resident)).where(Order.order_no == bindparam("order_no"))


def find_for_caller(order_no: str) -> Order | None:
    """The order by number with its resident, and the caller's user row in the same statement
    (`identity.access.first_for_caller`: 401 first): a client polling after payment costs one round trip."""
    return first_for_caller(_BY_NUMBER, order_no=order_no)
