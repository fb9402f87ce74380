"""Contribution options, placing an order (with Idempotency-Key) and following it."""
from __future__ import annotations

from flask import current_app, g

from models import Order, db
from policy import rules

from . import contributions, idempotency, residents, rulebook
from .access import authorize, not_found, resident_scoped
from .api import Blueprint
from .auth import current_user, login_required
from .clock import clock, rfc3339
from .schemas import ContributionOptionsSchema, ContributionSchema, OrderCreatedSchema, OrderSchema

bp = Blueprint("contributions", __name__, url_prefix="/api/v1", description="Contributions and orders")
NOTIFY_PATH = "/api/v1/payments/tax-bureau/notify"


@bp.get("/residents/<resident_id>/contribution-options")
@resident_scoped
@bp.response(200, ContributionOptionsSchema)
def contribution_options(resident):
    """This year's window, tiers and what the resident may pay now."""
    record = contributions.registry_record(resident)
    residents.sync_from_registry(record)
    contributions.expire_stale(resident)
    options = rules.contribution_options(rulebook.standard(), rulebook.facts_from_registry(record),
                                         rulebook.history(resident), clock().now())
    db.session.commit()
    return _options_view(options)


def _options_view(options: rules.ContributionOptions) -> dict:
    window = options.window
    return {
        "year": options.year,
        "window": {"open": window.open, "opens_at": rfc3339(window.opens_at), "closes_at": rfc3339(window.closes_at)},
        "tiers": [{"amount_fen": t.amount_fen, "subsidy_fen": t.subsidy_fen} for t in options.tiers],
        "normal": {"allowed": options.normal.allowed, "reason": options.normal.why and str(options.normal.why)},
        "back_payment": {"years": list(options.back_payment.years),
                         "remaining_years": options.back_payment.remaining_years},
        "lump_sum_max_years": options.lump_sum_max_years,
        "paid_by_government": options.paid_by_government,
    }


@bp.post("/residents/<resident_id>/contributions")
@resident_scoped
@bp.arguments(ContributionSchema)
@bp.response(201, OrderCreatedSchema)
def create_contribution(body, resident):
    """Place a payment order for a tier; the answer carries `pay_params` for wx.requestPayment."""
    user, key = current_user(), idempotency.required_key()
    if (replayed := idempotency.replay(user, key, body)) is not None:
        return replayed
    record = contributions.registry_record(resident)  # before the lock: no HTTP wait while holding it
    contributions.lock(resident)
    if (replayed := idempotency.replay(user, key, body)) is not None:  # a twin request finished meanwhile
        return replayed
    payer = "self" if g.acting_as == "self" else "supporter"
    notify_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + NOTIFY_PATH
    order = contributions.place(resident, record, body, payer, user.id, notify_url)
    response = created_view(order)
    idempotency.remember(user, key, body, response, 201)
    db.session.commit()
    return response


def created_view(order: Order) -> dict:
    return {"order_no": order.order_no, "status": order.status, "amount_fen": order.amount_fen,
            "subsidy_fen": order.subsidy_fen, "collective_subsidy_fen": order.collective_subsidy_fen,
            "expires_at": rfc3339(order.expires_at), "pay_params": order.pay_params}


@bp.get("/orders/<order_no>")
@login_required
@bp.response(200, OrderSchema)
def order_status(order_no):
    """An order of the caller or of a resident they act for."""
    order = db.session.scalar(db.select(Order).where(Order.order_no == order_no))
    if order is None:
        raise not_found("No such order.")
    authorize(order.resident)
    return order_view(order)


def order_view(order: Order) -> dict:
    expired = order.status == "pending" and order.expires_at <= clock().now()
    return {"order_no": order.order_no, "resident_id": order.resident.public_id, "year": order.year,
            "kind": order.kind, "amount_fen": order.amount_fen, "subsidy_fen": order.subsidy_fen,
            "collective_subsidy_fen": order.collective_subsidy_fen,
            "status": "expired" if expired else order.status,
            "paid_at": rfc3339(order.paid_at),
            "channel": order.channel, "payer": order.payer}
