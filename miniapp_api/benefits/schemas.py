"""The monthly benefit payments (API.md 'Account lookup', `GET /residents/{id}/benefits`)."""

from __future__ import annotations

from marshmallow import fields, validate

from miniapp_api.core.api import Schema
from miniapp_api.core.fields import Instant

MONTH = r"^\d{4}-\d{2}$"


def Fen(description: str) -> fields.Integer:
    return fields.Integer(required=True, metadata={"description": description})


class BenefitsQuerySchema(Schema):
    year = fields.Integer(validate=validate.Range(2000, 2200))
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100000))


class BenefitPaymentSchema(Schema):
    """A `models.BenefitPayment`: one month paid, with its parts (they add up to `total_fen`)."""

    month = fields.Function(
        lambda row: f"{row.month:%Y-%m}", required=True, metadata={"type": "string", "pattern": MONTH}
    )
    account_pension_fen = Fen("The account pension taken from the individual account.")
    fund_pension_fen = Fen("The account pension paid by the fund once the account is empty.")
    exit_subsidy_fen = Fen("出口补: 20 yuan, +10 from the month after the 80th birthday.")
    supplements_fen = Fen("The low-income supplement and the region's collective exit subsidy.")
    total_fen = fields.Integer(attribute="monthly_fen", required=True)
    arrears = fields.Boolean(required=True, metadata={"description": "Paid in the run of a later month."})
    booked_at = Instant(required=True)


class BenefitsPageSchema(Schema):
    items = fields.List(fields.Nested(BenefitPaymentSchema), required=True)
    next_page = fields.Integer(allow_none=True, required=True)
