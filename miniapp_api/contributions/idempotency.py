"""`Idempotency-Key` on order-creating POSTs: the same key and body replay the first response."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from flask import Response, jsonify, request

from miniapp_api.core.clock import clock
from miniapp_api.core.errors import ApiError
from models import IdempotencyRecord, WeChatUser, db

MAX_KEY_LENGTH = 128


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


def replay(user: WeChatUser, key: str, body: dict) -> Stored | None:
    """The stored response for this key, None if new; 422 `idempotency_key_reused` for another body."""
    record = db.session.scalar(
        db.select(IdempotencyRecord).where(IdempotencyRecord.user_id == user.id, IdempotencyRecord.key == key)
    )
    if record is None:
        return None
    if record.request_hash != fingerprint(body):
        raise ApiError(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request.")
    return Stored(record.body, record.status_code)


def remember(user: WeChatUser, key: str, body: dict, response: dict, status: int) -> None:
    db.session.add(
        IdempotencyRecord(
            user_id=user.id,
            key=key,
            request_hash=fingerprint(body),
            status_code=status,
            body=response,
            created_at=clock().now(),
        )
    )
