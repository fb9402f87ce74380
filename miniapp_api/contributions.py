"""Placing a contribution order: check the rules, register the order with the tax bureau, all or nothing."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from integrations.agency import RegistryRecord
from integrations.tax_bureau import TaxOrderRequest
from models import Order, Resident, db
from policy import rules
from policy.data import Standard
from policy.facts import ResidentFacts

from . import clients, residents, rulebook
from .clock import SHANGHAI, clock, rfc3339
from .errors import ApiError

ORDER_LIFETIME = dt.timedelta(minutes=30)
PROXY_LIFETIME = dt.timedelta(days=30)  # the county pays through its own budget process
STATUS_OF = {"invalid_tier": 422}  # every other refusal is a 409 conflict with the rules


def registry_record(resident: Resident) -> RegistryRecord:
    """The registry's current record (fresh facts for R2); a resident gone from it may not pay."""
    record = clients.agency().resident(residents.id_number_of(resident))
    if record is None:
        raise ApiError(409, "not_allowed", "The registry no longer lists this resident.", reason="not_enrolled")
    return record


def lock(resident: Resident) -> None:
    """Serialise order creation per resident (row lock on PostgreSQL; SQLite serialises writers)."""
    db.session.execute(db.select(Resident.id).where(Resident.id == resident.id).with_for_update())


def expire_stale(resident: Resident) -> None:
    db.session.execute(update(Order).where(
        Order.resident_id == resident.id, Order.status == "pending", Order.expires_at <= clock().now()
    ).values(status="expired"))


def decide(standard: Standard, facts: ResidentFacts, resident: Resident, request: dict) -> rules.Quote:
    """The rules' verdict on the requested payment: its quote, or the refusal as an API error."""
    history, now = rulebook.history(resident), clock().now()
    kind, year, tier = request["kind"], request["year"], request["tier_fen"]
    if kind == "normal":
        decision = rules.check_normal(standard, facts, history, year, tier, now)
    elif kind == "back_payment":
        decision = rules.check_back_payment(standard, facts, history, year, tier, now)
    else:
        decision = rules.check_lump_sum(standard, facts, history, request.get("years", 1), tier, now)
    if not decision.allowed:
        raise refusal(decision)
    return decision.quote


def refusal(decision: rules.Decision) -> ApiError:
    extra = {}
    if decision.opens_at is not None:
        extra["opens_at"] = rfc3339(decision.opens_at)
    if decision.reason is not None:
        extra["reason"] = str(decision.reason)
    code = str(decision.code)
    return ApiError(STATUS_OF.get(code, 409), code, _DETAILS.get(code, "The rules do not allow this payment."), **extra)


_DETAILS = {
    "window_closed": "Payments are accepted January to June, days 1–25 (Beijing time).",
    "invalid_tier": "The amount is not one of the contribution tiers.",
    "basic_pension_unpaid": "The basic pension contribution for this year is not paid yet.",
    "already_paid": "This year is already paid.",
    "order_pending": "An order for this year is waiting for payment.",
    "registration_updated_today": "The registration was corrected today; payment is possible from tomorrow.",
    "back_payment_limit": "At most 15 years may be back-paid.",
    "deceased": "Contributions stop when the resident has died.",
}


def new_order_no(now: dt.datetime) -> str:
    """`SX` + the Beijing date + 64 random bits: unique, and no personal data in it."""
    return f"SX{now.astimezone(SHANGHAI):%Y%m%d}{secrets.token_hex(8).upper()}"


def new_order(resident: Resident, quote: rules.Quote, request: dict, payer: str, payer_user_id: int | None,
              lifetime: dt.timedelta = ORDER_LIFETIME) -> Order:
    now = clock().now()
    order = Order(order_no=new_order_no(now), resident_id=resident.id, year=request["year"], kind=quote.kind,
                  tier_fen=request["tier_fen"], years=quote.years, amount_fen=quote.amount_fen,
                  subsidy_fen=quote.subsidy_fen, collective_subsidy_fen=quote.collective_subsidy_fen,
                  payer=payer, payer_user_id=payer_user_id, status="pending", created_at=now,
                  expires_at=now + lifetime)
    db.session.add(order)
    try:
        db.session.flush()
    except IntegrityError:  # the live-order unique index: someone else was quicker
        db.session.rollback()
        raise ApiError(409, "order_pending", _DETAILS["order_pending"]) from None
    return order


def register_with_tax_bureau(order: Order, resident: Resident, notify_url: str) -> None:
    """Create the order at the tax bureau; an UpstreamError leaves the caller to roll back."""
    created = clients.tax_bureau().create_order(TaxOrderRequest(
        out_order_no=order.order_no, id_number=residents.id_number_of(resident), name=resident.name,
        region_code=resident.region_code, year=order.year, kind=order.kind, amount_fen=order.amount_fen,
        payer=order.payer, notify_url=notify_url, expire_at=order.expires_at))
    order.tax_order_no, order.pay_params = created.order_no, created.pay_params


def place(resident: Resident, record: RegistryRecord, request: dict, payer: str, payer_user_id: int,
          notify_url: str) -> Order:
    """Check and create an order for a locked resident with fresh registry facts (not committed)."""
    residents.sync_from_registry(record)
    expire_stale(resident)
    quote = decide(rulebook.standard(), rulebook.facts_from_registry(record), resident, request)
    order = new_order(resident, quote, request, payer, payer_user_id)
    register_with_tax_bureau(order, resident, notify_url)
    return order
