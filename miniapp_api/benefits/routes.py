"""The monthly benefit payments of a resident, for them and those who act for them."""

from __future__ import annotations

from miniapp_api.benefits import payments
from miniapp_api.benefits.schemas import BenefitsPageSchema, BenefitsQuerySchema
from miniapp_api.core.api import Blueprint
from miniapp_api.identity.access import resident_read

bp = Blueprint("benefits", __name__, url_prefix="/api/v1/residents", description="Benefit payments")


@bp.get("/<resident_id>/benefits")
@resident_read
@bp.arguments(BenefitsQuerySchema, location="query")
@bp.response(200, BenefitsPageSchema)
def benefit_payments(query, resident):
    """Monthly benefit payments with their parts, newest month first, 24 a page; filter by `year`."""
    return payments.page(resident, query.get("year"), query["page"])
