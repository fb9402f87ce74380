"""What became of a payment message (callback, active query, statement row): the inbox's `outcome`
and the review items' `kind`."""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    # Applied, or nothing left to apply: the tax bureau is answered SUCCESS.
    CREDITED = "credited"
    CREDITED_LATE = "credited_late"  # paid after the order expired or closed here: credited and flagged
    DUPLICATE = "duplicate"
    DOUBLE_PAYMENT = "double_payment"  # money taken twice for one year: kept for a refund
    CLOSED = "closed"
    EXPIRED = "expired"
    UNCHANGED = "unchanged"
    PENDING = "pending"  # the active query found nothing to settle yet
    # Refused and kept for review.
    UNKNOWN_ORDER = "unknown_order"
    AMOUNT_MISMATCH = "amount_mismatch"
    TRANSACTION_CONFLICT = "transaction_conflict"
    # Found only for review (statement), or recorded beside a credit.
    PAID_AFTER_EXPIRY = "paid_after_expiry"
    MISSING_IN_STATEMENT = "missing_in_statement"
    UNEXPECTED_STATUS = "unexpected_status"
    # Callback deliveries refused before any money was looked at.
    MISSING_HEADERS = "missing_headers"
    UNKNOWN_SERIAL = "unknown_serial"
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    REPLAYED_NONCE = "replayed_nonce"
    INVALID_BODY = "invalid_body"
    ERROR = "error"
    # Refused 429 by the per-address throttle: nothing about the delivery is written.
    THROTTLED = "throttled"


ACCEPTED = frozenset(
    {
        Outcome.CREDITED,
        Outcome.CREDITED_LATE,
        Outcome.DUPLICATE,
        Outcome.DOUBLE_PAYMENT,
        Outcome.CLOSED,
        Outcome.UNCHANGED,
    }
)
# Findings that mean the statement and the books disagree (the others were put right by the run).
MISMATCHES = frozenset(
    {
        Outcome.AMOUNT_MISMATCH,
        Outcome.UNKNOWN_ORDER,
        Outcome.DOUBLE_PAYMENT,
        Outcome.TRANSACTION_CONFLICT,
        Outcome.MISSING_IN_STATEMENT,
        Outcome.UNEXPECTED_STATUS,
    }
)
