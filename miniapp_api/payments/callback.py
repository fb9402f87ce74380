"""Checking and applying one callback delivery, and keeping it in the inbox (`callback_deliveries`).

Checks, in order: the four `Tax-*` headers, the key serial, the RSA signature over the raw bytes, the
timestamp (±300 s of the app clock), the nonce (only once the signature holds, so nobody can burn
nonces), the body schema. Every delivery lands in the inbox with its outcome.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass

from flask import Flask, Response, current_app, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from integrations import tax_signature
from miniapp_api.core.clock import clock
from miniapp_api.payments import crediting, nonces
from miniapp_api.payments.outcomes import Outcome
from miniapp_api.payments.schemas import CallbackEvent, CallbackSchema
from models import CallbackDelivery, db

log = logging.getLogger(__name__)

TAX_HEADERS = ("Tax-Timestamp", "Tax-Nonce", "Tax-Serial", "Tax-Signature")
TIMESTAMP_TOLERANCE = 300  # seconds, either direction
MAX_BODY = 64 * 1024
REFUSAL_STATUS = {Outcome.UNKNOWN_ORDER: 404, Outcome.AMOUNT_MISMATCH: 409, Outcome.TRANSACTION_CONFLICT: 409}
UNSTORED_HEADERS = frozenset({"Authorization", "Cookie"})
_TIMESTAMP = re.compile(r"\d{1,12}", re.ASCII)


@dataclass(frozen=True)
class Verdict:
    status: int
    outcome: Outcome
    message: str = ""

    def answer(self) -> Response:
        body = {"code": "SUCCESS"} if self.status == 200 else {"code": "FAIL", "message": self.message}
        response = jsonify(body)
        response.status_code = self.status
        return response


class Rejected(Exception):
    def __init__(self, status: int, outcome: Outcome, message: str):
        super().__init__(message)
        self.verdict = Verdict(status, outcome, message)


@dataclass(frozen=True)
class Delivery:
    received_at: dt.datetime
    headers: dict[str, str]
    raw: bytes
    oversized: bool


def receive() -> Verdict:
    """Check, apply and store the callback of this request; any failure is a 500 with nothing applied."""
    delivery = _received()
    try:
        return _handled(delivery)
    except Exception:
        log.exception("payment callback failed; answered 500 so that the tax bureau retries")
        verdict = Verdict(500, Outcome.ERROR, "internal error, nothing applied; please retry")
        _store_after_failure(delivery, verdict)
        return verdict


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
        return _stored(delivery, _verdict(crediting.recovered(event.payment(), error)), event)


def _verified_event(delivery: Delivery) -> CallbackEvent:
    if delivery.oversized:
        raise Rejected(413, Outcome.INVALID_BODY, f"the body exceeds {MAX_BODY} bytes")
    timestamp, nonce, serial, signature = _tax_headers(delivery.headers)
    key = current_app.extensions["tax_public_keys"].get(serial)
    if key is None:
        raise Rejected(401, Outcome.UNKNOWN_SERIAL, f"unknown key serial {serial[:64]!r}")
    if not tax_signature.verify(key, timestamp, nonce, delivery.raw, signature):
        raise Rejected(401, Outcome.BAD_SIGNATURE, "the signature does not verify")
    _check_timestamp(timestamp)
    if not nonces.claim(nonce):
        raise Rejected(409, Outcome.REPLAYED_NONCE, "nonce already seen in the last 10 minutes")
    return _event(delivery.raw)


def _tax_headers(headers: dict[str, str]) -> list[str]:
    values = [headers.get(name, "") for name in TAX_HEADERS]
    missing = [name for name, value in zip(TAX_HEADERS, values, strict=True) if not value]
    if missing:
        raise Rejected(400, Outcome.MISSING_HEADERS, f"missing header(s): {', '.join(missing)}")
    if len(values[1]) > 128:
        raise Rejected(400, Outcome.MISSING_HEADERS, "Tax-Nonce is longer than 128 characters")
    return values


def _check_timestamp(text: str) -> None:
    if not _TIMESTAMP.fullmatch(text):
        raise Rejected(401, Outcome.STALE_TIMESTAMP, "Tax-Timestamp is not unix seconds")
    skew = int(text) - clock().now().timestamp()
    if abs(skew) > TIMESTAMP_TOLERANCE:
        raise Rejected(401, Outcome.STALE_TIMESTAMP, f"Tax-Timestamp is {skew:+.0f} s off the server clock")


def _event(raw: bytes) -> CallbackEvent:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Rejected(400, Outcome.INVALID_BODY, "the body is not UTF-8 JSON") from None
    try:
        return CallbackSchema().load(body)
    except ValidationError as error:
        raise Rejected(400, Outcome.INVALID_BODY, json.dumps(error.messages, ensure_ascii=False)) from None


def _applied(event: CallbackEvent) -> crediting.Result:
    if event.status == "CLOSED":
        return crediting.close_order(event.out_order_no, "callback")
    return crediting.credit_payment(event.payment(), "callback")


def _verdict(result: crediting.Result) -> Verdict:
    if result.accepted:
        return Verdict(200, result.outcome, result.detail)
    return Verdict(REFUSAL_STATUS.get(result.outcome, 400), result.outcome, result.detail)


def _stored(delivery: Delivery, verdict: Verdict, event: CallbackEvent | None = None) -> Verdict:
    """Add the inbox row to whatever the delivery changed, and commit both at once."""
    event_id, out_order_no = (event.event_id, event.out_order_no) if event else _peek(delivery.raw)
    db.session.add(
        CallbackDelivery(
            received_at=delivery.received_at,
            headers=delivery.headers,
            raw_body=delivery.raw,
            event_id=event_id,
            out_order_no=out_order_no,
            outcome=verdict.outcome,
            detail=verdict.message or None,
        )
    )
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
    return tuple(
        value[:64] if isinstance(value, str) else None for value in (body.get("event_id"), body.get("out_order_no"))
    )
