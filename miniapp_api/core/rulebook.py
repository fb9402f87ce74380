"""Feeding the pure policy rules: the standard in force, a resident's facts and contribution history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flask import current_app
from sqlalchemy import ColumnElement, Row, Select, or_

from integrations.agency import RegistryRecord
from miniapp_api.core.clock import clock
from miniapp_api.core.stacked import Record
from models import ContributionKind, Order, OrderStatus, Resident, db
from policy.data import PolicyBook, Standard, load_standards
from policy.facts import ContributionHistory, ResidentFacts


def init_app(app) -> None:
    """Load and validate the policy data at start-up (a bad file stops the app with its message)."""
    app.extensions["policy"] = load_standards([app.config["POLICY_FILE"]] if app.config.get("POLICY_FILE") else [])


def book() -> PolicyBook:
    return current_app.extensions["policy"]


def standard() -> Standard:
    """The standard in force today (Asia/Shanghai)."""
    return book().standard_for(clock().today())


def facts_from_registry(record: RegistryRecord) -> ResidentFacts:
    return ResidentFacts(
        birth_date=record.birth_date,
        region_code=record.region_code,
        basic_pension_paid_years=record.paid_years,
        receiving_basic_pension=record.receiving,
        categories=record.categories,
        supporter_capable=record.supporter_capable,
        registration_updated_on=record.registration_updated_on,
        deceased_on=record.deceased_on,
    )


def facts_from_snapshot(resident: Resident | Row | Record) -> ResidentFacts:
    """The facts stored from the change feed or the last registry visit (a Resident, or a row of its
    columns as batch jobs read them; a resident's own payment asks the registry afresh)."""
    return ResidentFacts(
        birth_date=resident.birth_date,
        region_code=resident.region_code,
        basic_pension_paid_years=frozenset(resident.basic_pension_paid_years or ()),
        receiving_basic_pension=resident.receiving_basic_pension,
        categories=frozenset(resident.categories),
        supporter_capable=resident.supporter_capable,
        registration_updated_on=resident.registration_updated_on,
        deceased_on=resident.deceased_on,
        enrolled=resident.enrolled,
    )


def history(resident: Resident) -> ContributionHistory:
    """Paid and still-pending orders, in one query."""
    return history_of(live_orders(resident), clock().now())


def live_orders(resident: Resident | Row) -> Sequence[Row]:
    """The resident's paid and pending orders (what `history_of` reads)."""
    return db.session.execute(LIVE_ORDERS_OF_ONE, {"resident_id": resident.id}).all()


def histories(resident_ids: list[int]) -> dict[int, ContributionHistory]:
    """Each resident's history, for a whole batch of residents in one query."""
    now = clock().now()
    return {
        resident_id: history_of(orders, now) for resident_id, orders in live_orders_by_resident(resident_ids).items()
    }


# What a history reads of an order, as plain rows: loading ORM objects costs 3 times as much (a read
# of the account makes this query on every request).
_ORDERS = Order.__table__
_HISTORY_COLUMNS = [
    _ORDERS.c[name] for name in ("resident_id", "year", "kind", "status", "years", "tier_fen", "expires_at")
]
# Equalities, not IN: SQLAlchemy rewrites an IN list of values on every execution ("postcompile").
_LIVE = or_(*(_ORDERS.c.status == status for status in OrderStatus.live()))
_LIVE_ORDERS = db.select(*_HISTORY_COLUMNS).where(
    _ORDERS.c.resident_id.in_(db.bindparam("resident_ids", expanding=True)), _LIVE
)


def live_orders_of(resident_id: ColumnElement) -> Select:
    """One resident's live orders (`resident_id` a value's bindparam or a subquery), by equality for
    the same reason."""
    return db.select(*_HISTORY_COLUMNS).where(_ORDERS.c.resident_id == resident_id, _LIVE)


LIVE_ORDERS_OF_ONE = live_orders_of(db.bindparam("resident_id"))


def live_orders_by_resident(resident_ids: list[int]) -> dict[int, list[Row]]:
    """Each resident's live (pending or paid) orders, in one query."""
    live = db.session.execute(_LIVE_ORDERS, {"resident_ids": resident_ids}).all()
    by_resident: dict[int, list[Row]] = {resident_id: [] for resident_id in resident_ids}
    for order in live:
        by_resident[order.resident_id].append(order)
    return by_resident


def history_of(orders: Sequence[Row | Record], now: dt.datetime) -> ContributionHistory:
    """A resident's history from their live (pending or paid) orders."""
    paid = [o for o in orders if o.status == OrderStatus.PAID]
    pending = [o for o in orders if o.status == OrderStatus.PENDING and o.expires_at > now]
    kind = ContributionKind
    return ContributionHistory(
        normal_paid=tuple(o.year for o in paid if o.kind == kind.NORMAL),
        # A pending proxy order blocks a normal one for that year just as a pending normal order does.
        normal_pending_years=frozenset(o.year for o in pending if o.kind in (kind.NORMAL, kind.PROXY)),
        back_paid_years=frozenset(o.year for o in paid if o.kind == kind.BACK_PAYMENT),
        back_pending_years=frozenset(o.year for o in pending if o.kind == kind.BACK_PAYMENT),
        proxy_years=frozenset(o.year for o in paid if o.kind == kind.PROXY),
        lump_sum_years=sum(o.years for o in paid if o.kind == kind.LUMP_SUM),
        lump_sum_pending_years=sum(o.years for o in pending if o.kind == kind.LUMP_SUM),
    )
