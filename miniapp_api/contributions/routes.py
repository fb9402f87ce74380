"""Contribution options, placing an order (with Idempotency-Key) and following it."""

from __future__ import annotations

from miniapp_api.contributions import idempotency, orders, service
from miniapp_api.contributions.idempotency import IDEMPOTENCY_KEY
from miniapp_api.contributions.schemas import (
    ContributionOptionsSchema,
    ContributionSchema,
    OrderCreatedSchema,
    OrderSchema,
)
from miniapp_api.core.api import Blueprint
from miniapp_api.core.readonly import read_only
from miniapp_api.identity.access import authorize, not_found, resident_scoped
from miniapp_api.identity.auth import current_user
from policy import rules

bp = Blueprint("contributions", __name__, url_prefix="/api/v1", description="Contributions and orders")


@bp.get("/residents/<resident_id>/contribution-options")
@resident_scoped
@bp.response(200, ContributionOptionsSchema)
@bp.problems(409, "not_allowed")
@bp.problems(503, "agency_unavailable")
def contribution_options(resident):
    """This year's window, tiers and what the resident may pay now."""
    return service.options(resident)


@bp.post("/residents/<resident_id>/contributions")
@resident_scoped
@bp.arguments(ContributionSchema)
@bp.response(201, OrderCreatedSchema)
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@bp.problems(400, "idempotency_key_required")
@bp.problems(409, *(str(code) for code in rules.Code if code != rules.Code.INVALID_TIER))
@bp.problems(422, "invalid_tier", "idempotency_key_reused")
@bp.problems(503, "tax_bureau_unavailable", "agency_unavailable")
def create_contribution(body, resident):
    """Place a payment order for a tier; the answer carries `pay_params` for wx.requestPayment."""
    user, key = current_user(), idempotency.required_key()
    _, payer = authorize(resident)
    result = service.create(user, resident, payer, body, key)
    return result.response() if isinstance(result, idempotency.Stored) else result


@bp.get("/orders/<order_no>")
@read_only
@bp.response(200, OrderSchema)
def order_status(order_no):
    """An order of the caller or of a resident they act for."""
    order = orders.find_for_caller(order_no)
    if order is None:
        raise not_found("No such order.")
    authorize(order.resident)
    return order
