"""Contribution options, the order request and the `Order` object (API.md 'Contributions')."""

from __future__ import annotations

from marshmallow import fields, validate

from integrations.tax_bureau import CHANNELS
from miniapp_api.contributions import orders
from miniapp_api.core.api import Schema
from miniapp_api.core.fields import Computed, EnumString, Instant, StrictInt
from models import ContributionKind, OrderStatus, Payer

Str = fields.String
Int = fields.Integer
REQUESTABLE = (ContributionKind.NORMAL, ContributionKind.BACK_PAYMENT, ContributionKind.LUMP_SUM)


class ContributionSchema(Schema):
    year = StrictInt(required=True, validate=validate.Range(2000, 2200))
    tier_fen = StrictInt(required=True, validate=validate.Range(min=1))
    kind = Str(required=True, validate=validate.OneOf(REQUESTABLE))
    years = StrictInt(validate=validate.Range(1, 15), metadata={"description": "lump_sum only: 1–15"})


class OrderCreatedSchema(Schema):
    """A new `models.Order`, with what wx.requestPayment needs."""

    order_no = Str()
    status = EnumString(OrderStatus)
    amount_fen = Int()
    subsidy_fen = Int()
    collective_subsidy_fen = Int()
    expires_at = Instant()
    pay_params = fields.Dict(metadata={"description": "for wx.requestPayment, untouched"})


class OrderSchema(Schema):
    """A `models.Order` as its owner and supporters follow it."""

    order_no = Str()
    resident_id = Str(attribute="resident.public_id")
    year = Int()
    kind = EnumString(ContributionKind)
    amount_fen = Int()
    subsidy_fen = Int()
    collective_subsidy_fen = Int()
    status = Computed(orders.status_now, "string", enum=[status.value for status in OrderStatus])
    paid_at = Instant(allow_none=True)
    channel = Str(allow_none=True, metadata={"enum": [*CHANNELS, None]})
    payer = EnumString(Payer)


class WindowSchema(Schema):
    open = fields.Boolean()
    opens_at = Instant()
    closes_at = Instant()


class TierSchema(Schema):
    amount_fen = Int()
    subsidy_fen = Int()


class NormalOptionSchema(Schema):
    """A `policy.rules.Decision`."""

    allowed = fields.Boolean()
    reason = Str(attribute="why", allow_none=True)


class BackPaymentOptionSchema(Schema):
    years = fields.List(Int())
    remaining_years = Int()


class ContributionOptionsSchema(Schema):
    """A `policy.rules.ContributionOptions`."""

    year = Int()
    window = fields.Nested(WindowSchema)
    tiers = fields.List(fields.Nested(TierSchema))
    normal = fields.Nested(NormalOptionSchema)
    back_payment = fields.Nested(BackPaymentOptionSchema)
    lump_sum_max_years = Int()
    paid_by_government = fields.Boolean()
    payments_per_year = Int(metadata={"description": "normal payments the standard allows a year (R5)"})
    normal_payments_left = Int(metadata={"description": "normal payments this year still allows"})
