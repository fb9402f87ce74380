"""The account and its ledger pages (API.md 'Account')."""

from __future__ import annotations

from marshmallow import fields, validate

from miniapp_api.core.api import Schema
from miniapp_api.core.fields import Computed, Date, EnumString, Instant
from miniapp_api.identity.schemas import ResidentSchema
from models import EntryKind, Funder, Payer

Int = fields.Integer


class BySourceSchema(Schema):
    personal_fen = Int()
    government_subsidy_fen = Int()
    collective_subsidy_fen = Int()
    sponsor_fen = Int()
    interest_fen = Int()
    paid_out_fen = Int()


class EligibilitySchema(Schema):
    eligible = fields.Boolean()
    reasons = fields.List(fields.String())


class BenefitSchema(Schema):
    """A `policy.benefits.Estimate`."""

    monthly_fen = Int(attribute="benefit.monthly_fen")
    account_pension_fen = Int(attribute="benefit.account_pension_fen")
    exit_subsidy_fen = Int(attribute="benefit.exit_subsidy_fen")
    starts_on = Date()
    assumptions = fields.List(fields.String())


class AccountSchema(Schema):
    """An `accounts.service.Account`."""

    resident = fields.Nested(ResidentSchema)
    balance_fen = Int()
    by_source = fields.Nested(BySourceSchema)
    cumulative_years = Int()
    required_years = Int()
    paid_years = fields.List(Int())
    status = fields.String(metadata={"enum": ["contributing", "eligible", "receiving", "closed"]})
    eligibility = fields.Nested(EligibilitySchema)
    benefit = fields.Nested(BenefitSchema)


class LedgerQuerySchema(Schema):
    year = Int(validate=validate.Range(2000, 2200))
    page = Int(load_default=1, validate=validate.Range(1, 100000))


class LedgerEntrySchema(Schema):
    """A row of `accounts.service.LEDGER_COLUMNS`: an entry with its order's number."""

    entry_id = Int(attribute="id")
    year = Int()
    kind = EnumString(EntryKind)
    # Stored signed (payouts negative, so that the balance is a SUM); written positive as API.md says,
    # `kind` telling which entries reduce the balance.
    amount_fen = Computed(lambda entry: abs(entry.amount_fen), "integer", minimum=0)
    funder = fields.String(metadata={"enum": [*Payer, *Funder]})
    payer = EnumString(Payer, allow_none=True)
    order_no = fields.String(allow_none=True, dump_only=True)
    booked_at = Instant()


class LedgerPageSchema(Schema):
    items = fields.List(fields.Nested(LedgerEntrySchema))
    next_page = Int(allow_none=True)
