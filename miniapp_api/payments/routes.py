"""`POST /api/v1/payments/tax-bureau/notify`: the tax bureau's signed payment callbacks (INTEGRATIONS.md §4).

Answers are in the tax bureau's format `{"code": "SUCCESS" | "FAIL", "message"}`, not problem+json,
the per-address throttle's 429 included.
"""

from __future__ import annotations

from miniapp_api.core.api import Blueprint
from miniapp_api.core.openapi import OWN_FORMAT_KEY
from miniapp_api.payments import callback
from miniapp_api.payments.notify import NOTIFY_PATH
from miniapp_api.payments.schemas import AnswerSchema, CallbackSchema

bp = Blueprint(
    "tax_callbacks", __name__, description="Payment callbacks of the tax bureau collection gateway (signed, retried)"
)


@bp.post(NOTIFY_PATH)
@bp.doc(
    requestBody={"required": True, "content": {"application/json": {"schema": CallbackSchema}}},
    security=[],
    **{OWN_FORMAT_KEY: True},
)
@bp.response(200, AnswerSchema, description="Accepted, also a repeat of an accepted event: SUCCESS")
@bp.alt_response(400, schema=AnswerSchema, description="FAIL: headers or body not as the contract says")
@bp.alt_response(401, schema=AnswerSchema, description="FAIL: bad signature, unknown serial, stale timestamp")
@bp.alt_response(404, schema=AnswerSchema, description="FAIL: unknown out_order_no (kept for review)")
@bp.alt_response(409, schema=AnswerSchema, description="FAIL: replayed nonce, amount mismatch (kept for review)")
@bp.alt_response(413, schema=AnswerSchema, description="FAIL: the body exceeds 64 KiB (not read)")
@bp.alt_response(
    429,
    schema=AnswerSchema,
    description="FAIL: too many unsigned, stale or replayed deliveries from this address (Retry-After)",
    headers={"Retry-After": {"description": "seconds until the address may send again", "schema": {"type": "integer"}}},
)
@bp.alt_response(500, schema=AnswerSchema, description="FAIL: internal error, nothing applied; retry")
def notify():
    """Receive a signed payment callback of the tax bureau (INTEGRATIONS.md §4)."""
    return callback.receive().answer()
