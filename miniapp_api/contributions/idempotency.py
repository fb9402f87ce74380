"""`Idempotency-Key` on order-creating POSTs: the same key and body replay the first response.

A key is reserved with its order before the tax bureau is asked and completed with the response after
(models/idempotency.py); a repeat that finds only the reservation carries on with the same order."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from flask import Response, jsonify, request
from sqlalchemy import delete, update

from miniapp_api.core.clock import clock
from miniapp_api.core.errors import ApiError
from models import IdempotencyRecord, Order, WeChatUser, db

MAX_KEY_LENGTH = 128
IDEMPOTENCY_KEY = {  # the header, as the OpenAPI document describes it
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "description": "one per intended order (e.g. a UUID): a repeat with the same body answers the first response",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": r"^\S(.*\S)?$"},
}


@dataclass(frozen=True)
class Stored:
    """The first response given for a key, sent again as it was."""

    body: dict
    status: int

    def response(self) -> Response:
        response = jsonify(self.body)
        response.status_code = self.status
        return response


def required_key() -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            400, "idempotency_key_required", f"Send an Idempotency-Key header of 1 to {MAX_KEY_LENGTH} characters."
        )
    return key


def fingerprint(body: dict) -> str:
    """What identifies the request: the path and the validated body, canonically serialised."""
    canonical = json.dumps({"path": request.path, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(user: WeChatUser, key: str, body: dict) -> Stored | Order | None:
    """The stored response for this key, or the order reserved for it and not yet answered; None if
    new; 422 `idempotency_key_reused` for another body."""
    record = _record(user, key)
    if record is None:
        return None
    if record.request_hash != fingerprint(body):
        raise ApiError(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request.")
    if record.status_code is None or record.body is None:
        return db.session.get(Order, record.order_id)
    return Stored(record.body, record.status_code)


def reserve(user: WeChatUser, key: str, body: dict, order: Order) -> None:
    """The key names `order` until `complete` stores the answer (not committed)."""
    db.session.add(
        IdempotencyRecord(
            user_id=user.id, key=key, request_hash=fingerprint(body), order_id=order.id, created_at=clock().now()
        )
    )


def complete(user: WeChatUser, key: str, response: dict, status: int) -> None:
    """Store the answer of a reserved key; a twin request that completed it first keeps its answer."""
    db.session.execute(
        update(IdempotencyRecord)
        .where(_keyed(user, key), IdempotencyRecord.status_code.is_(None))
        .values(status_code=status, body=response)
    )


def release(user: WeChatUser, key: str) -> None:
    """Forget a reservation whose order was abandoned: the key may be used afresh."""
    db.session.execute(delete(IdempotencyRecord).where(_keyed(user, key), IdempotencyRecord.status_code.is_(None)))


def _record(user: WeChatUser, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(db.select(IdempotencyRecord).where(_keyed(user, key)))


def _keyed(user: WeChatUser, key: str):
    return (IdempotencyRecord.user_id == user.id) & (IdempotencyRecord.key == key)
