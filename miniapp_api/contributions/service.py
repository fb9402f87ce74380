"""Placing a contribution order: check the rules, register the order with the tax bureau, all or nothing.

No row lock is held while the tax bureau is asked. The order is placed under the resident's lock and
committed with its `Idempotency-Key` reserved; the tax bureau is asked outside any transaction (the
same `out_order_no` always gives the same order there); then the answer is stored with the key. When
the tax bureau cannot be reached the order and the key's reservation are deleted again, so the request
did not happen; a request cut short in between is carried on by a repeat with the same key.
"""

from __future__ import annotations

from sqlalchemy import delete, update

from integrations.agency import RegistryRecord
from integrations.errors import UpstreamError
from integrations.tax_bureau import CreatedOrder, TaxOrderRequest
from miniapp_api.contributions import idempotency, orders
from miniapp_api.contributions.schemas import OrderCreatedSchema
from miniapp_api.core import clients, rulebook
from miniapp_api.core.clock import clock, rfc3339
from miniapp_api.core.errors import ApiError
from miniapp_api.identity import residents
from miniapp_api.payments.notify import notify_url
from models import ContributionKind, Order, OrderStatus, Payer, Resident, WeChatUser, db
from policy import rules
from policy.data import Standard
from policy.facts import ResidentFacts

STATUS_OF = {"invalid_tier": 422}  # every other refusal is a 409 conflict with the rules


def options(resident: Resident) -> rules.ContributionOptions:
    """This year's window, tiers and what the resident may pay now, on fresh registry facts (committed)."""
    record = registry_record(resident)
    residents.sync_from_registry(record)
    orders.expire_stale(resident)
    found = rules.contribution_options(
        rulebook.standard(), rulebook.facts_from_registry(record), rulebook.history(resident), clock().now()
    )
    db.session.commit()
    return found


def create(user: WeChatUser, resident: Resident, payer: Payer, body: dict, key: str) -> Order | idempotency.Stored:
    """Place the order once per Idempotency-Key (committed); a repeat gets the first answer back."""
    found = idempotency.replay(user, key, body)
    if found is None or isinstance(found, Order) and not resumable(found):
        found = reserve(user, resident, payer, body, key)
    if isinstance(found, idempotency.Stored):
        return found
    return register(user, key, found)


def resumable(order: Order) -> bool:
    """A reserved order that may still be registered and paid."""
    return orders.status_now(order) == OrderStatus.PENDING


def reserve(user: WeChatUser, resident: Resident, payer: Payer, body: dict, key: str) -> Order | idempotency.Stored:
    """Check the rules and place the order under the resident's lock, the key reserved for it (committed)."""
    record = registry_record(resident)  # before the lock: no HTTP wait while holding it
    orders.lock(resident)
    found = idempotency.replay(user, key, body)  # a twin request got here first
    if isinstance(found, idempotency.Stored) or isinstance(found, Order) and resumable(found):
        db.session.commit()
        return found
    if found is not None:  # reserved for an order that lapsed unanswered
        idempotency.release(user, key)
    order = place(resident, record, body, payer, user.id)
    idempotency.reserve(user, key, body, order)
    db.session.commit()
    return order


def register(user: WeChatUser, key: str, order: Order) -> Order:
    """Ask the tax bureau for the order to pay, with no transaction open, and store its answer (committed)."""
    request = tax_request(order, order.resident)
    db.session.commit()  # ends the read transaction: nothing is held while the tax bureau answers
    try:
        created = clients.tax_bureau().create_order(request)
    except UpstreamError:
        abandon(user, key, order)
        raise
    return finish(user, key, order, created)


def finish(user: WeChatUser, key: str, order: Order, created: CreatedOrder) -> Order:
    """Record the tax bureau's order and the answer for the key (committed)."""
    registered = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING)
        .values(tax_order_no=created.order_no, pay_params=created.pay_params)
    )
    if not registered.rowcount:  # a twin request gave up on it meanwhile
        db.session.rollback()
        raise ApiError(503, "tax_bureau_unavailable", "The order could not be registered with the tax bureau.")
    idempotency.complete(user, key, OrderCreatedSchema().dump(order), 201)
    db.session.commit()
    return order


def abandon(user: WeChatUser, key: str, order: Order) -> None:
    """Undo an order the tax bureau did not confirm, unless a twin request registered it (committed).

    Nobody can pay it: its `pay_params` never left the server. The order row is locked first, as `finish`
    locks it before the key's row, so that twin requests finishing and abandoning cannot deadlock."""
    db.session.execute(db.select(Order.id).where(Order.id == order.id).with_for_update())
    idempotency.release(user, key)
    db.session.execute(
        delete(Order).where(Order.id == order.id, Order.status == OrderStatus.PENDING, Order.tax_order_no.is_(None))
    )
    db.session.commit()


def registry_record(resident: Resident) -> RegistryRecord:
    """The registry's current record (fresh facts for R2); a resident gone from it may not pay."""
    record = clients.agency().resident(residents.id_number_of(resident))
    if record is None:
        raise ApiError(409, "not_allowed", "The registry no longer lists this resident.", reason="left_province")
    return record


def decide(standard: Standard, facts: ResidentFacts, resident: Resident, request: dict) -> rules.Quote:
    """The rules' verdict on the requested payment: its quote, or the refusal as an API error."""
    history, now = rulebook.history(resident), clock().now()
    kind, year, tier = request["kind"], request["year"], request["tier_fen"]
    if kind == ContributionKind.NORMAL:
        decision = rules.check_normal(standard, facts, history, year, tier, now)
    elif kind == ContributionKind.BACK_PAYMENT:
        decision = rules.check_back_payment(standard, facts, history, year, tier, now)
    else:
        decision = rules.check_lump_sum(standard, facts, history, year, request.get("years", 1), tier, now)
    if not decision.allowed or decision.quote is None:
        raise refusal(decision)
    return decision.quote


def refusal(decision: rules.Decision) -> ApiError:
    extra = {}
    if decision.opens_at is not None:
        extra["opens_at"] = rfc3339(decision.opens_at)
    if decision.reason is not None:
        extra["reason"] = str(decision.reason)
    code = str(decision.code)
    return ApiError(STATUS_OF.get(code, 409), code, f"refused by the rules: {code}", **extra)


def tax_request(order: Order, resident: Resident) -> TaxOrderRequest:
    return TaxOrderRequest(
        out_order_no=order.order_no,
        id_number=residents.id_number_of(resident),
        name=resident.name,
        region_code=resident.region_code,
        year=order.year,
        kind=order.kind,
        amount_fen=order.amount_fen,
        payer=order.payer,
        notify_url=notify_url(),
        expire_at=order.expires_at,
    )


def register_with_tax_bureau(order: Order, resident: Resident) -> None:
    """Create the order at the tax bureau; an UpstreamError leaves the caller to roll back."""
    created = clients.tax_bureau().create_order(tax_request(order, resident))
    order.tax_order_no, order.pay_params = created.order_no, created.pay_params


def place(resident: Resident, record: RegistryRecord, request: dict, payer: Payer, payer_user_id: int) -> Order:
    """Check and create an order for a locked resident with fresh registry facts (flushed, not committed)."""
    residents.sync_from_registry(record)
    orders.expire_stale(resident)
    quote = decide(rulebook.standard(), rulebook.facts_from_registry(record), resident, request)
    return orders.new_order(resident, quote, request["year"], request["tier_fen"], payer, payer_user_id)
