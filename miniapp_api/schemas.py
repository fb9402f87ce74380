"""Request and response schemas: they validate bodies and generate the OpenAPI document."""
from marshmallow import fields, validate

from .api import Schema

Str = fields.String
Int = fields.Integer


class LoginSchema(Schema):
    code = Str(required=True, validate=validate.Length(1, 128), metadata={"description": "from wx.login"})


class TokenSchema(Schema):
    access_token = Str()
    token_type = Str()
    expires_in = Int()
    verified = fields.Boolean()


class RealNameSchema(Schema):
    id_number = Str(required=True, validate=validate.Length(max=64))  # format: invalid_id_number
    name = Str(required=True, validate=validate.Length(1, 64))


class ResidentSchema(Schema):
    resident_id = Str()
    name = Str(metadata={"description": "masked: 王*国"})
    id_number = Str(metadata={"description": "masked: 1401**********0017"})
    birth_date = Str()
    age = Int()
    gender = Str()
    region_code = Str()
    region_name = Str()


class RealNameResultSchema(Schema):
    resident = fields.Nested(ResidentSchema)


class MeSchema(Schema):
    verified = fields.Boolean()
    resident = fields.Nested(ResidentSchema, allow_none=True)
    dependents = fields.List(fields.Nested(ResidentSchema))


class BySourceSchema(Schema):
    personal_fen = Int()
    government_subsidy_fen = Int()
    collective_subsidy_fen = Int()
    sponsor_fen = Int()
    interest_fen = Int()
    paid_out_fen = Int()


class EligibilitySchema(Schema):
    eligible = fields.Boolean()
    reasons = fields.List(Str())


class BenefitSchema(Schema):
    monthly_fen = Int()
    account_pension_fen = Int()
    exit_subsidy_fen = Int()
    starts_on = Str()
    assumptions = fields.List(Str())


class AccountSchema(Schema):
    resident = fields.Nested(ResidentSchema)
    balance_fen = Int()
    by_source = fields.Nested(BySourceSchema)
    cumulative_years = Int()
    required_years = Int()
    paid_years = fields.List(Int())
    status = Str(metadata={"description": "contributing | eligible | receiving | closed"})
    eligibility = fields.Nested(EligibilitySchema)
    benefit = fields.Nested(BenefitSchema)


class LedgerQuerySchema(Schema):
    year = Int(validate=validate.Range(2000, 2200))
    page = Int(load_default=1, validate=validate.Range(1, 100000))


class LedgerEntrySchema(Schema):
    entry_id = Int()
    year = Int()
    kind = Str()
    amount_fen = Int()
    funder = Str()
    payer = Str(allow_none=True)
    order_no = Str(allow_none=True)
    booked_at = Str()


class LedgerPageSchema(Schema):
    items = fields.List(fields.Nested(LedgerEntrySchema))
    next_page = Int(allow_none=True)


def StrictInt(**kwargs) -> fields.Integer:
    """An integer that must arrive as a JSON integer: no strings, floats (marshmallow refuses booleans)."""
    return fields.Integer(strict=True, **kwargs)


class ContributionSchema(Schema):
    year = StrictInt(required=True, validate=validate.Range(2000, 2200))
    tier_fen = StrictInt(required=True, validate=validate.Range(min=1))
    kind = Str(required=True, validate=validate.OneOf(("normal", "back_payment", "lump_sum")))
    years = StrictInt(validate=validate.Range(1, 15), metadata={"description": "lump_sum only: 1–15"})


class OrderCreatedSchema(Schema):
    order_no = Str()
    status = Str()
    amount_fen = Int()
    subsidy_fen = Int()
    collective_subsidy_fen = Int()
    expires_at = Str()
    pay_params = fields.Dict(metadata={"description": "for wx.requestPayment, untouched"})


class OrderSchema(Schema):
    order_no = Str()
    resident_id = Str()
    year = Int()
    kind = Str()
    amount_fen = Int()
    subsidy_fen = Int()
    collective_subsidy_fen = Int()
    status = Str(metadata={"description": "pending | paid | closed | expired"})
    paid_at = Str(allow_none=True)
    channel = Str(allow_none=True)
    payer = Str()


class WindowSchema(Schema):
    open = fields.Boolean()
    opens_at = Str()
    closes_at = Str()


class TierSchema(Schema):
    amount_fen = Int()
    subsidy_fen = Int()


class NormalOptionSchema(Schema):
    allowed = fields.Boolean()
    reason = Str(allow_none=True)


class BackPaymentOptionSchema(Schema):
    years = fields.List(Int())
    remaining_years = Int()


class ContributionOptionsSchema(Schema):
    year = Int()
    window = fields.Nested(WindowSchema)
    tiers = fields.List(fields.Nested(TierSchema))
    normal = fields.Nested(NormalOptionSchema)
    back_payment = fields.Nested(BackPaymentOptionSchema)
    lump_sum_max_years = Int()
    paid_by_government = fields.Boolean()
