"""Rows for tests, made the way the app makes them (encrypted ID numbers, tokens from the app)."""
from __future__ import annotations

import datetime as dt
import itertools
import secrets

from miniapp_api import tokens
from miniapp_api.pii import cipher
from models import FamilyLink, LedgerEntry, Order, Resident, WeChatUser, db
from policy import id_number

_sequence = itertools.count(11, 2)
T0 = dt.datetime(2027, 3, 2, 2, 0, tzinfo=dt.timezone.utc)


def new_id_number(birth_date: dt.date = dt.date(1970, 5, 1), region: str = "140105") -> str:
    return id_number.make(region, birth_date, next(_sequence) % 1000)


def resident(number: str | None = None, name: str = "王建国", birth_date: dt.date = dt.date(1970, 5, 1),
             region_code: str = "140105", **fields) -> Resident:
    """A resident row (flushed, not committed); needs an app context."""
    number = number or new_id_number(birth_date, region_code)
    row = Resident(id_number_encrypted=cipher().encrypt(number), id_number_index=cipher().blind_index(number),
                   name=name, gender="M", birth_date=birth_date, region_code=region_code,
                   region_name=fields.pop("region_name", "太原市小店区"), categories=fields.pop("categories", []),
                   registry_synced_at=T0, **fields)
    db.session.add(row)
    db.session.flush()
    return row


def user(bound_to: Resident | None = None) -> WeChatUser:
    row = WeChatUser(openid="o_" + secrets.token_hex(8), created_at=T0,
                     resident_id=bound_to.id if bound_to else None, verified_at=T0 if bound_to else None)
    db.session.add(row)
    db.session.flush()
    return row


def auth_header(row: WeChatUser) -> dict:
    return {"Authorization": f"Bearer {tokens.issue(row.id)[0]}"}


def link(supporter: Resident, parent: Resident, status: str = "active") -> FamilyLink:
    row = FamilyLink(supporter_id=supporter.id, parent_id=parent.id, relation="child", status=status,
                     created_at=T0)
    db.session.add(row)
    db.session.flush()
    return row


def paid_order(owner: Resident, year: int = 2027, tier_fen: int = 100000, subsidy_fen: int = 20000,
               paid_at: dt.datetime = T0, channel: str = "wechat", kind: str = "normal",
               payer: str = "self", collective_fen: int = 0) -> Order:
    """A paid order with its ledger entries, as crediting leaves them."""
    order = Order(order_no="SX" + secrets.token_hex(8).upper(), resident_id=owner.id, year=year, kind=kind,
                  tier_fen=tier_fen, amount_fen=tier_fen, subsidy_fen=subsidy_fen,
                  collective_subsidy_fen=collective_fen, payer=payer, status="paid", created_at=paid_at,
                  expires_at=paid_at + dt.timedelta(minutes=30), paid_at=paid_at, channel=channel,
                  transaction_id="T" + secrets.token_hex(8))
    db.session.add(order)
    db.session.flush()
    for kind_, amount, funder in (("personal", tier_fen, payer), ("government_subsidy", subsidy_fen, "government"),
                                  ("collective_subsidy", collective_fen, "village_collective")):
        if amount:
            db.session.add(LedgerEntry(resident_id=owner.id, year=year, kind=kind_, amount_fen=amount,
                                       funder=funder, payer=payer, order_id=order.id, booked_at=paid_at))
    db.session.flush()
    return order
