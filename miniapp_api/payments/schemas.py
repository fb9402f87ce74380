"""The tax bureau's callback body and answer (INTEGRATIONS.md §4)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from integrations.tax_bureau import CHANNELS
from miniapp_api.core.api import Schema
from miniapp_api.payments.crediting import Payment

MAX_FEN = 10**12


@dataclass(frozen=True)
class CallbackEvent:
    event_id: str
    out_order_no: str
    status: str  # SUCCESS | CLOSED
    amount_fen: int
    transaction_id: str | None
    paid_at: dt.datetime | None
    channel: str | None

    def payment(self) -> Payment:
        return Payment(self.out_order_no, self.transaction_id, self.amount_fen, self.paid_at, self.channel)


class CallbackSchema(Schema):
    """The callback body; CLOSED may carry null transaction_id, paid_at and channel."""

    event_id = fields.String(required=True, validate=validate.Length(1, 64))
    out_order_no = fields.String(required=True, validate=validate.Length(1, 64))
    status = fields.String(required=True, validate=validate.OneOf(("SUCCESS", "CLOSED")))
    amount_fen = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_FEN))
    transaction_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    paid_at = fields.AwareDateTime(format="iso", load_default=None, allow_none=True)
    channel = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(CHANNELS))

    @validates_schema
    def _success_is_complete(self, data: dict, **kwargs) -> None:
        if data.get("status") == "SUCCESS":
            missing = [name for name in ("transaction_id", "paid_at", "channel") if data.get(name) is None]
            if missing:
                raise ValidationError({name: ["Required for a SUCCESS callback."] for name in missing})

    @post_load
    def _event(self, data: dict, **kwargs) -> CallbackEvent:
        return CallbackEvent(**data)


class AnswerSchema(Schema):
    code = fields.String(metadata={"description": "SUCCESS | FAIL"})
    message = fields.String(metadata={"description": "why, with FAIL"})
