"""`flask --app wsgi proxy-payments --year Y`: the county's proxy payments for hardship residents (R7).

Runs once per year in effect: the live-order unique index lets each resident have one proxy order a
year, and residents who already have one are skipped, so a second run creates nothing new.
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from integrations.errors import UpstreamError
from models import Order, Resident, db
from policy import rules

from . import contributions, residents, rulebook
from .clock import clock
from .contribution_routes import NOTIFY_PATH
from .errors import ApiError


def hardship_residents(year: int) -> list[Resident]:
    """Residents whose stored categories include a hardship group and who have no live proxy order."""
    hardship = rulebook.standard().hardship_categories
    has_order = db.select(Order.id).where(Order.resident_id == Resident.id, Order.year == year,
                                          Order.kind == "proxy", Order.status.in_(("pending", "paid")))
    candidates = db.session.scalars(db.select(Resident).where(~has_order.exists()).order_by(Resident.id))
    return [r for r in candidates if set(r.categories) & set(hardship)]


def create_proxy_order(resident: Resident, year: int) -> str:
    """One resident's proxy order, committed; returns what happened."""
    record = contributions.registry_record(resident)
    contributions.lock(resident)
    residents.sync_from_registry(record)
    decision = rules.check_proxy(rulebook.standard(), rulebook.facts_from_registry(record),
                                 rulebook.history(resident), year, clock().now())
    if not decision.allowed:
        db.session.commit()
        return f"skipped ({decision.why})"
    request = {"year": year, "tier_fen": decision.quote.amount_fen}
    order = contributions.new_order(resident, decision.quote, request, "government", None,
                                    lifetime=contributions.PROXY_LIFETIME)
    notify_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + NOTIFY_PATH
    contributions.register_with_tax_bureau(order, resident, notify_url)
    db.session.commit()
    return f"created {order.order_no}"


@click.command("proxy-payments")
@click.option("--year", type=int, required=True, help="The contribution year (the current one).")
@with_appcontext
def proxy_payments_command(year: int) -> None:
    """Create the government proxy orders of R7 for every hardship resident known to the backend."""
    failures = 0
    for resident in hardship_residents(year):
        try:
            outcome = create_proxy_order(resident, year)
        except (ApiError, UpstreamError) as exc:
            db.session.rollback()
            failures += 1
            outcome = f"failed ({getattr(exc, 'code', 'error')})"
        click.echo(f"{resident.public_id}: {outcome}")
    if failures:
        raise SystemExit(1)
