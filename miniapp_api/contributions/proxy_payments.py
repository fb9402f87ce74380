"""The county's proxy payments for hardship residents (R7), once a year in effect.

The live-order unique index lets each resident have one proxy order a year, and residents who
already have one are skipped, so a second run creates nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from integrations.errors import UpstreamError
from miniapp_api.contributions import orders, service
from miniapp_api.core import rulebook
from miniapp_api.core.clock import clock
from miniapp_api.core.errors import ApiError
from miniapp_api.identity import residents
from models import ContributionKind, Order, OrderStatus, Payer, Resident, db
from policy import rules


@dataclass(frozen=True)
class ProxyOutcome:
    resident_id: str  # the public id
    outcome: str
    failed: bool = False


def run(year: int) -> Iterator[ProxyOutcome]:
    """Each hardship resident's proxy order for `year`, committed one by one, as it happens."""
    for resident in hardship_residents(year):
        try:
            outcome = ProxyOutcome(resident.public_id, create_proxy_order(resident, year))
        except (ApiError, UpstreamError) as exc:
            db.session.rollback()
            outcome = ProxyOutcome(resident.public_id, f"failed ({exc.code})", failed=True)
        yield outcome


def hardship_residents(year: int) -> list[Resident]:
    """Residents whose stored categories include a hardship group and who have no live proxy order."""
    hardship = rulebook.standard().hardship_categories
    has_order = db.select(Order.id).where(
        Order.resident_id == Resident.id,
        Order.year == year,
        Order.kind == ContributionKind.PROXY,
        Order.status.in_(OrderStatus.live()),
    )
    candidates = db.session.scalars(db.select(Resident).where(~has_order.exists()).order_by(Resident.id))
    return [r for r in candidates if set(r.categories) & set(hardship)]


def create_proxy_order(resident: Resident, year: int) -> str:
    """One resident's proxy order, committed; returns what happened."""
    record = service.registry_record(resident)
    orders.lock(resident)
    residents.sync_from_registry(record)
    decision = rules.check_proxy(
        rulebook.standard(), rulebook.facts_from_registry(record), rulebook.history(resident), year, clock().now()
    )
    if not decision.allowed or decision.quote is None:
        db.session.commit()
        return f"skipped ({decision.why})"
    order = orders.new_order(
        resident,
        decision.quote,
        year,
        decision.quote.amount_fen,
        Payer.GOVERNMENT,
        None,
        lifetime=orders.PROXY_LIFETIME,
    )
    service.register_with_tax_bureau(order, resident)
    db.session.commit()
    return f"created {order.order_no}"
