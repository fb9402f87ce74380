"""Checking and applying one callback delivery, and keeping a record of it.

Checks, in order: the body size, the four `Tax-*` headers, the key serial, the RSA signature over the
raw bytes, the timestamp (±300 s of the app clock), the nonce (only once the signature holds, so
nobody can burn nonces), the body schema.

A delivery whose signature verifies is stored raw in the inbox (`callback_deliveries`) with its
outcome, accepted or not, for good. One whose signature does not verify (oversized, missing headers,
unknown serial, bad signature) leaves only a small fixed-size `rejected_deliveries` record: time,
client address, body size and SHA-256, reason; never its body or headers (INTEGRATIONS.md §4).

Throttle: per client address (`request.remote_addr`, i.e. after `PROXY_FIX_HOPS`), at most
`NOTIFY_PER_MINUTE` deliveries a minute that are not fresh genuine ones: unsigned ones, and signed
ones refused as stale or replayed (copies of a real delivery). It is counted once such a refusal is
known and before anything about the delivery is written (a replay is known from the nonce store's
refused insert, which writes nothing); beyond it the answer is 429 with Retry-After and nothing is
written. A fresh genuine delivery (signature, timestamp and nonce hold) is neither counted nor
refused: only the tax bureau's key makes one, so nobody, not even a client behind the same address,
can spend the tax bureau's way in, and no peak of real payments is ever throttled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field

from flask import Flask, Response, current_app, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from integrations import tax_signature
from miniapp_api.core import metrics, ratelimit
from miniapp_api.core.clock import clock
from miniapp_api.core.errors import ApiError
from miniapp_api.payments import crediting, nonces
from miniapp_api.payments.outcomes import Outcome
from miniapp_api.payments.schemas import CallbackEvent, CallbackSchema
from models import CallbackDelivery, RejectedDelivery, db

log = logging.getLogger(__name__)

TAX_HEADERS = ("Tax-Timestamp", "Tax-Nonce", "Tax-Serial", "Tax-Signature")
TIMESTAMP_TOLERANCE = 300  # seconds, either direction
MAX_BODY = 64 * 1024
# Per client address and minute: deliveries that are not fresh genuine ones (unsigned, stale,
# replayed). The tax bureau's own retries of one payment come 15 s apart at the closest, and its
# fresh signed deliveries are never counted; 300 a minute (5 a second, sustained, from one address)
# is far more than any honest client sends that fail, and caps one address at 300 small records
# (under 200 bytes each as stored, docs/payments.md) a minute.
NOTIFY_PER_MINUTE = 300
THROTTLE_WINDOW = 60  # seconds
THROTTLED = frozenset({Outcome.STALE_TIMESTAMP, Outcome.REPLAYED_NONCE})  # signed, yet not fresh
MAX_BODY_SIZE = 2**31 - 1  # what `rejected_deliveries.body_size` holds; a declared length may say more
REFUSAL_STATUS = {Outcome.UNKNOWN_ORDER: 404, Outcome.AMOUNT_MISMATCH: 409, Outcome.TRANSACTION_CONFLICT: 409}
UNSTORED_HEADERS = frozenset({"Authorization", "Cookie"})
_TIMESTAMP = re.compile(r"\d{1,12}", re.ASCII)
_SCHEMA = CallbackSchema()  # built once: building one costs as much as a load
_INSERT_DELIVERY = db.insert(CallbackDelivery.__table__)  # built once: its cache key is computed once


@dataclass(frozen=True)
class Verdict:
    status: int
    outcome: Outcome
    message: str = ""
    retry_after: int | None = None

    def answer(self) -> Response:
        body = {"code": "SUCCESS"} if self.status == 200 else {"code": "FAIL", "message": self.message}
        response = jsonify(body)
        response.status_code = self.status
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        return response


class Rejected(Exception):
    def __init__(self, status: int, outcome: Outcome, message: str):
        super().__init__(message)
        self.verdict = Verdict(status, outcome, message)


class Unsigned(Rejected):
    """Refused before the signature verified: only a small fixed-size record is kept."""


@dataclass
class Delivery:
    received_at: dt.datetime
    client_address: str
    headers: dict[str, str]
    raw: bytes  # the body; for an oversized one, what was read of it (nothing when refused unread)
    size: int  # the body's length: as declared by Content-Length, else as read
    oversized: bool
    verified: bool = field(default=False)  # set once the signature holds: from then on stored raw


def receive() -> Verdict:
    """Check, apply and store the callback of this request; any failure is a 500 with nothing applied."""
    delivery = _received()
    try:
        verdict = _handled(delivery)
    except Exception:
        log.exception("payment callback failed; answered 500 so that the tax bureau retries")
        verdict = Verdict(500, Outcome.ERROR, "internal error, nothing applied; please retry")
        _store_after_failure(delivery, verdict)
    metrics.count_callback(verdict.outcome)
    return verdict


def init_app(app: Flask) -> None:
    """Load the `TAX_PUBLIC_KEYS` file (a bad file stops start-up) and the nonce store."""
    app.extensions["tax_public_keys"] = tax_signature.load_public_keys(app.config["TAX_PUBLIC_KEYS"])
    nonces.init_app(app)


def _received() -> Delivery:
    headers = {name: value for name, value in request.headers.items() if name not in UNSTORED_HEADERS}
    raw, oversized = _body()
    declared = request.content_length
    size = min(declared if oversized and declared is not None else len(raw), MAX_BODY_SIZE)
    return Delivery(clock().now(), (request.remote_addr or "")[:45], headers, raw, size, oversized)


def _body() -> tuple[bytes, bool]:
    """The raw body and whether it is longer than MAX_BODY (then it is never kept)."""
    request.max_content_length = MAX_BODY + 1  # a chunked body is cut there silently: its length tells
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:  # Content-Length says so: nothing is read
        return b"", True
    return raw, len(raw) > MAX_BODY


def _handled(delivery: Delivery) -> Verdict:
    try:
        event = _verified_event(delivery)
    except Unsigned as rejected:
        return _throttled(delivery) or _recorded(delivery, rejected.verdict)
    except Rejected as rejected:
        throttled = _throttled(delivery) if rejected.verdict.outcome in THROTTLED else None
        return throttled or _stored(delivery, rejected.verdict)
    try:
        return _stored(delivery, _verdict(_applied(event)), event)
    except IntegrityError as error:  # a concurrent delivery credited the same payment first
        db.session.rollback()
        if event.status != "SUCCESS":
            raise
        return _stored(delivery, _verdict(crediting.recovered(event.payment(), error)), event)


def _verified_event(delivery: Delivery) -> CallbackEvent:
    if delivery.oversized:
        raise Unsigned(413, Outcome.INVALID_BODY, f"the body exceeds {MAX_BODY} bytes")
    timestamp, nonce, serial, signature = _tax_headers(delivery.headers)
    key = current_app.extensions["tax_public_keys"].get(serial)
    if key is None:
        raise Unsigned(401, Outcome.UNKNOWN_SERIAL, f"unknown key serial {serial[:64]!r}")
    if not tax_signature.verify(key, timestamp, nonce, delivery.raw, signature):
        raise Unsigned(401, Outcome.BAD_SIGNATURE, "the signature does not verify")
    delivery.verified = True
    _check_timestamp(timestamp)
    if not nonces.claim(nonce):
        raise Rejected(409, Outcome.REPLAYED_NONCE, "nonce already seen in the last 10 minutes")
    return _event(delivery.raw)


def _tax_headers(headers: dict[str, str]) -> list[str]:
    values = [headers.get(name, "") for name in TAX_HEADERS]
    missing = [name for name, value in zip(TAX_HEADERS, values, strict=True) if not value]
    if missing:
        raise Unsigned(400, Outcome.MISSING_HEADERS, f"missing header(s): {', '.join(missing)}")
    if len(values[1]) > 128:
        raise Unsigned(400, Outcome.MISSING_HEADERS, "Tax-Nonce is longer than 128 characters")
    return values


def _throttled(delivery: Delivery) -> Verdict | None:
    """Count a delivery that is not a fresh genuine one against its address; the 429 beyond the limit."""
    key = f"tax-notify:addr:{delivery.client_address}"
    try:
        ratelimit.limit(key, NOTIFY_PER_MINUTE, THROTTLE_WINDOW)
    except ApiError as refusal:
        retry_after = int(refusal.headers.get("Retry-After", THROTTLE_WINDOW))
        message = f"too many refused deliveries from this address; retry in {retry_after} s"
        return Verdict(429, Outcome.THROTTLED, message, retry_after)
    return None


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
        return _SCHEMA.load(body)
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
    row = dict(
        received_at=delivery.received_at,
        headers=delivery.headers,
        raw_body=delivery.raw,
        event_id=event_id,
        out_order_no=out_order_no,
        outcome=verdict.outcome,
        detail=verdict.message or None,
    )
    db.session.execute(_INSERT_DELIVERY, row)  # a statement, not an ORM flush
    db.session.commit()
    return verdict


def _recorded(delivery: Delivery, verdict: Verdict) -> Verdict:
    """The small fixed-size record of a delivery whose signature did not verify (never body or headers)."""
    db.session.add(
        RejectedDelivery(
            received_at=delivery.received_at,
            client_address=delivery.client_address,
            body_size=delivery.size,
            body_sha256=hashlib.sha256(delivery.raw).hexdigest(),
            reason=verdict.outcome,
        )
    )
    db.session.commit()
    return verdict


def _store_after_failure(delivery: Delivery, verdict: Verdict) -> None:
    """Roll back whatever was half done, then keep the delivery (raw only if signed) in its own transaction."""
    try:
        db.session.rollback()
        (_stored if delivery.verified else _recorded)(delivery, verdict)
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
