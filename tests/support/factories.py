"""Rows for tests, made the way the app makes them (encrypted ID numbers, tokens from the app, ledger
entries booked by the app's own crediting)."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets

from flask import current_app

from miniapp_api.identity import tokens
from miniapp_api.identity.residents import id_number_columns
from miniapp_api.payments.crediting import Payment, credit_payment
from models import FamilyLink, Order, Resident, WeChatUser, db
from policy import id_number
from tests.support.constants import NOW

_sequence = itertools.count(11, 2)
T0 = dt.datetime(2027, 3, 2, 2, 0, tzinfo=dt.timezone.utc)  # NOW, in UTC


def new_id_number(birth_date: dt.date = dt.date(1970, 5, 1), region: str = "140105") -> str:
    return id_number.make(region, birth_date, next(_sequence) % 1000)


def resident(
    number: str | None = None,
    name: str = "王建国",
    birth_date: dt.date = dt.date(1970, 5, 1),
    region_code: str = "140105",
    **fields,
) -> Resident:
    """A resident row (flushed, not committed); needs an app context."""
    number = number or new_id_number(birth_date, region_code)
    row = Resident(
        **id_number_columns(number),
        name=name,
        gender="M",
        birth_date=birth_date,
        region_code=region_code,
        region_name=fields.pop("region_name", "太原市小店区"),
        categories=fields.pop("categories", []),
        registry_synced_at=T0,
        **fields,
    )
    db.session.add(row)
    db.session.flush()
    return row


def user(bound_to: Resident | None = None) -> WeChatUser:
    row = WeChatUser(
        openid="o_" + secrets.token_hex(8),
        created_at=T0,
        resident_id=bound_to.id if bound_to else None,
        verified_at=T0 if bound_to else None,
    )
    db.session.add(row)
    db.session.flush()
    return row


def auth_header(row: WeChatUser) -> dict:
    return {"Authorization": f"Bearer {tokens.issue(row.id, row.token_generation or 0)[0]}"}


def link(supporter: Resident, parent: Resident, status: str = "active") -> FamilyLink:
    row = FamilyLink(supporter_id=supporter.id, parent_id=parent.id, relation="child", status=status, created_at=T0)
    db.session.add(row)
    db.session.flush()
    return row


def pending_order(
    owner: Resident,
    *,
    tier_fen: int = 100000,
    subsidy_fen: int = 20000,
    collective_fen: int = 0,
    payer: str = "self",
    kind: str = "normal",
    year: int = 2027,
    status: str = "pending",
    created_at: dt.datetime = NOW - dt.timedelta(minutes=1),
    years: int = 1,
    order_no: str | None = None,
) -> Order:
    """An order as contribution creation leaves it (flushed, not committed); needs an app context."""
    order = Order(
        order_no=order_no or "SX" + secrets.token_hex(8).upper(),
        resident_id=owner.id,
        year=year,
        kind=kind,
        tier_fen=tier_fen,
        years=years,
        amount_fen=tier_fen * years,
        subsidy_fen=subsidy_fen,
        collective_subsidy_fen=collective_fen,
        payer=payer,
        status=status,
        created_at=created_at,
        expires_at=created_at + dt.timedelta(minutes=30),
    )
    db.session.add(order)
    db.session.flush()
    return order


def expired_order(owner: Resident, **fields) -> Order:
    """An order that expired unpaid (created two hours before NOW)."""
    return pending_order(owner, status="expired", created_at=T0 - dt.timedelta(hours=2), **fields)


def paid_order(
    owner: Resident,
    year: int = 2027,
    tier_fen: int = 100000,
    subsidy_fen: int = 20000,
    paid_at: dt.datetime = T0,
    channel: str = "wechat",
    kind: str = "normal",
    payer: str = "self",
    collective_fen: int = 0,
    credited_at: dt.datetime | None = None,
    years: int = 1,
) -> Order:
    """An order created at `paid_at` and credited through the app's crediting, as a callback would, with
    the app clock standing at `credited_at` (default `paid_at`) meanwhile: its ledger entries are booked
    then (flushed, not committed; needs an app context)."""
    order = pending_order(
        owner,
        year=year,
        tier_fen=tier_fen,
        subsidy_fen=subsidy_fen,
        collective_fen=collective_fen,
        payer=payer,
        kind=kind,
        created_at=paid_at,
        years=years,
    )
    payment = Payment(order.order_no, "T" + secrets.token_hex(8), order.amount_fen, paid_at, channel)
    clock = current_app.extensions["clock"]
    frozen = clock.frozen
    clock.freeze(credited_at or paid_at)
    try:
        result = credit_payment(payment, "callback")
    finally:
        clock.freeze(frozen)
    assert result.outcome == "credited", result
    return result.order
