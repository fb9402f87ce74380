"""Feeding the pure policy rules: the standard in force, a resident's facts and contribution history."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app

from integrations.agency import RegistryRecord
from miniapp_api.core.clock import clock
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


def facts_from_snapshot(resident: Resident) -> ResidentFacts:
    """The facts kept from the last registry visit (enough for the account; payments ask the registry)."""
    return ResidentFacts(
        birth_date=resident.birth_date,
        region_code=resident.region_code,
        receiving_basic_pension=resident.receiving_basic_pension,
        categories=frozenset(resident.categories),
        supporter_capable=resident.supporter_capable,
        deceased_on=resident.deceased_on,
    )


def history(resident: Resident) -> ContributionHistory:
    """Paid and still-pending orders, in one query."""
    return history_of(live_orders(resident))


def live_orders(resident: Resident) -> Sequence[Order]:
    """The resident's paid and pending orders (what `history_of` reads)."""
    return db.session.scalars(
        db.select(Order).where(Order.resident_id == resident.id, Order.status.in_(OrderStatus.live()))
    ).all()


def history_of(orders: Sequence[Order]) -> ContributionHistory:
    """The contribution history of `live_orders`."""
    now = clock().now()
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
