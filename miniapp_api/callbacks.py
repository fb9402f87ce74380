"""`POST /api/v1/payments/tax-bureau/notify`: the tax bureau's signed payment callbacks (INTEGRATIONS.md §4).

Checks, in order: the four `Tax-*` headers, the key serial, the RSA signature over the raw bytes, the
timestamp (±300 s of the app clock), the nonce (only once the signature holds, so nobody can burn
nonces), the body schema. Every delivery lands in the inbox (`callback_deliveries`) with its outcome.
Answers are in the tax bureau's format `{"code": "SUCCESS" | "FAIL", "message"}`, not problem+json.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass

from flask import Flask, Response, current_app, jsonify, request
from marshmallow import ValidationError, fields, post_load, validate, validates_schema
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from integrations import tax_signature
from integrations.tax_bureau import CHANNELS
from models import CallbackDelivery, db

from . import nonces, payments
from .api import Blueprint, Schema
from .clock import clock

log = logging.getLogger(__name__)

bp = Blueprint("tax_callbacks", __name__, url_prefix="/api/v1",
               description="Payment callbacks of the tax bureau collection gateway (signed, retried)")

TAX_HEADERS = ("Tax-Timestamp", "Tax-Nonce", "Tax-Serial", "Tax-Signature")
TIMESTAMP_TOLERANCE = 300  # seconds, either direction
MAX_BODY = 64 * 1024
MAX_FEN = 10 ** 12
REFUSAL_STATUS = {"unknown_order": 404, "amount_mismatch": 409, "transaction_conflict": 409}
UNSTORED_HEADERS = frozenset({"Authorization", "Cookie"})
_TIMESTAMP = re.compile(r"\d{1,12}", re.ASCII)


@dataclass(frozen=True)
class CallbackEvent:
    event_id: str
    out_order_no: str
    status: str  # SUCCESS | CLOSED
    amount_fen: int
    transaction_id: str | None
    paid_at: dt.datetime | None
    channel: str | None

    def payment(self) -> payments.Payment:
        return payments.Payment(self.out_order_no, self.transaction_id, self.amount_fen, self.paid_at, self.channel)


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


@dataclass(frozen=True)
class Verdict:
    status: int
    outcome: str
    message: str = ""

    def answer(self) -> Response:
        body = {"code": "SUCCESS"} if self.status == 200 else {"code": "FAIL", "message": self.message}
        response = jsonify(body)
        response.status_code = self.status
        return response


class Rejected(Exception):
    def __init__(self, status: int, outcome: str, message: str):
        super().__init__(message)
        self.verdict = Verdict(status, outcome, message)


@dataclass(frozen=True)
class Delivery:
    received_at: dt.datetime
    headers: dict[str, str]
    raw: bytes
    oversized: bool


@bp.post("/payments/tax-bureau/notify")
@bp.doc(requestBody={"required": True, "content": {"application/json": {"schema": CallbackSchema}}},
        security=[])
@bp.response(200, AnswerSchema, description="Accepted, also a repeat of an accepted event: SUCCESS")
@bp.alt_response(400, schema=AnswerSchema, description="FAIL: headers or body not as the contract says")
@bp.alt_response(401, schema=AnswerSchema, description="FAIL: bad signature, unknown serial, stale timestamp")
@bp.alt_response(404, schema=AnswerSchema, description="FAIL: unknown out_order_no (kept for review)")
@bp.alt_response(409, schema=AnswerSchema, description="FAIL: replayed nonce, amount mismatch (kept for review)")
@bp.alt_response(500, schema=AnswerSchema, description="FAIL: internal error, nothing applied; retry")
def notify():
    """Receive a signed payment callback of the tax bureau (INTEGRATIONS.md §4)."""
    delivery = _received()
    try:
        verdict = _handled(delivery)
    except Exception:
        log.exception("payment callback failed; answered 500 so that the tax bureau retries")
        verdict = Verdict(500, "error", "internal error, nothing applied; please retry")
        _store_after_failure(delivery, verdict)
    return verdict.answer()


def init_app(app: Flask) -> None:
    """Load the `TAX_PUBLIC_KEYS` file (a bad file stops start-up) and the nonce store."""
    app.extensions["tax_public_keys"] = tax_signature.load_public_keys(app.config["TAX_PUBLIC_KEYS"])
    nonces.init_app(app)


def _received() -> Delivery:
    headers = {name: value for name, value in request.headers.items() if name not in UNSTORED_HEADERS}
    raw = _body()
    return Delivery(clock().now(), headers, raw or b"", raw is None)


def _body() -> bytes | None:
    """The raw body, or None when it is longer than MAX_BODY (then it is not kept)."""
    request.max_content_length = MAX_BODY + 1  # a chunked body is cut there silently: its length tells
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:  # Content-Length says so: nothing is read
        return None
    return raw if len(raw) <= MAX_BODY else None


def _handled(delivery: Delivery) -> Verdict:
    try:
        event = _verified_event(delivery)
    except Rejected as rejected:
        return _stored(delivery, rejected.verdict)
    try:
        return _stored(delivery, _verdict(_applied(event)), event)
    except IntegrityError as error:  # a concurrent delivery credited the same payment first
        db.session.rollback()
        if event.status != "SUCCESS":
            raise
        return _stored(delivery, _verdict(payments.recovered(event.payment(), error)), event)


def _verified_event(delivery: Delivery) -> CallbackEvent:
    if delivery.oversized:
        raise Rejected(413, "invalid_body", f"the body exceeds {MAX_BODY} bytes")
    timestamp, nonce, serial, signature = _tax_headers(delivery.headers)
    key = current_app.extensions["tax_public_keys"].get(serial)
    if key is None:
        raise Rejected(401, "unknown_serial", f"unknown key serial {serial[:64]!r}")
    if not tax_signature.verify(key, timestamp, nonce, delivery.raw, signature):
        raise Rejected(401, "bad_signature", "the signature does not verify")
    _check_timestamp(timestamp)
    if not nonces.claim(nonce):
        raise Rejected(409, "replayed_nonce", "nonce already seen in the last 10 minutes")
    return _event(delivery.raw)


def _tax_headers(headers: dict[str, str]) -> list[str]:
    values = [headers.get(name, "") for name in TAX_HEADERS]
    missing = [name for name, value in zip(TAX_HEADERS, values) if not value]
    if missing:
        raise Rejected(400, "missing_headers", f"missing header(s): {', '.join(missing)}")
    if len(values[1]) > 128:
        raise Rejected(400, "missing_headers", "Tax-Nonce is longer than 128 characters")
    return values


def _check_timestamp(text: str) -> None:
    if not _TIMESTAMP.fullmatch(text):
        raise Rejected(401, "stale_timestamp", "Tax-Timestamp is not unix seconds")
    skew = int(text) - clock().now().timestamp()
    if abs(skew) > TIMESTAMP_TOLERANCE:
        raise Rejected(401, "stale_timestamp", f"Tax-Timestamp is {skew:+.0f} s off the server clock")


def _event(raw: bytes) -> CallbackEvent:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Rejected(400, "invalid_body", "the body is not UTF-8 JSON") from None
    try:
        return CallbackSchema().load(body)
    except ValidationError as error:
        raise Rejected(400, "invalid_body", json.dumps(error.messages, ensure_ascii=False)) from None


def _applied(event: CallbackEvent) -> payments.Result:
    if event.status == "CLOSED":
        return payments.close_order(event.out_order_no, "callback")
    return payments.credit_payment(event.payment(), "callback")


def _verdict(result: payments.Result) -> Verdict:
    if result.accepted:
        return Verdict(200, result.outcome, result.detail)
    return Verdict(REFUSAL_STATUS.get(result.outcome, 400), result.outcome, result.detail)


def _stored(delivery: Delivery, verdict: Verdict, event: CallbackEvent | None = None) -> Verdict:
    """Add the inbox row to whatever the delivery changed, and commit both at once."""
    event_id, out_order_no = (event.event_id, event.out_order_no) if event else _peek(delivery.raw)
    db.session.add(CallbackDelivery(received_at=delivery.received_at, headers=delivery.headers,
                                    raw_body=delivery.raw, event_id=event_id, out_order_no=out_order_no,
                                    outcome=verdict.outcome, detail=verdict.message or None))
    db.session.commit()
    return verdict


def _store_after_failure(delivery: Delivery, verdict: Verdict) -> None:
    """Roll back whatever was half done, then keep the delivery in its own transaction."""
    try:
        db.session.rollback()
        _stored(delivery, verdict)
    except Exception:
        db.session.rollback()
        log.exception("could not store a failed payment callback in the inbox")


def _peek(raw: bytes) -> tuple[str | None, str | None]:
    """event_id and out_order_no of a rejected body, when it has them as strings (audit only)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    return tuple(value[:64] if isinstance(value, str) else None
                 for value in (body.get("event_id"), body.get("out_order_no")))
