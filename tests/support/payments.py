"""Tax bureau callbacks signed with the sandbox key the test app trusts, and what crediting left behind."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations import tax_signature
from integrations.tax_bureau import TaxOrderRequest
from miniapp_api.core import clients, devkeys
from models import CallbackDelivery, LedgerEntry, Order, ReviewItem, db
from tests.support.constants import NOTIFY_PATH, NOW
from tests.support.factories import expired_order, new_id_number, pending_order, resident

UNREACHABLE = "http://127.0.0.1:9" + NOTIFY_PATH  # callbacks that never arrive: settle/reconcile must act
NOW_TS = int(NOW.timestamp())
SERIAL = devkeys.SANDBOX_TAX_SERIAL


def tax_order(out_order_no: str, amount_fen: int = 100000, notify_url: str = UNREACHABLE) -> None:
    """Create the order at the app's tax bureau (the sandbox) through the app's client; needs an app context."""
    clients.tax_bureau().create_order(
        TaxOrderRequest(
            out_order_no=out_order_no,
            id_number=new_id_number(),
            name="王建国",
            region_code="140105",
            year=2027,
            kind="normal",
            amount_fen=amount_fen,
            payer="self",
            notify_url=notify_url,
            expire_at=NOW + dt.timedelta(minutes=30),
        )
    )


def pay_at(sandbox: str, out_order_no: str, channel: str = "wechat") -> dict:
    """Pay at the sandbox tax bureau, as the resident would in WeChat; the order's view afterwards."""
    response = requests.post(f"{sandbox}/tax/pay/{out_order_no}", json={"channel": channel}, timeout=5)
    response.raise_for_status()
    return response.json()


def sandbox_key(keys: dict) -> rsa.RSAPrivateKey:
    """The private half of the key the app trusts under serial `sandbox-1`."""
    return tax_signature.load_private_key(devkeys.sandbox_tax_private_key(Path(keys["TAX_PUBLIC_KEYS"]).parent))


def body(
    out_order_no: str,
    *,
    status: str = "SUCCESS",
    amount_fen: object = 100000,
    transaction_id: str | None = None,
    event_id: str | None = None,
    channel: str | None = "wechat",
    paid_at: str | None = "2027-03-02T09:58:00+08:00",
    **changes,
) -> dict:
    """A callback body as the sandbox sends it; CLOSED carries nulls."""
    paid = status == "SUCCESS"
    fields = {
        "event_id": event_id or f"evt_{secrets.token_hex(12)}",
        "out_order_no": out_order_no,
        "transaction_id": (transaction_id or f"4200{secrets.token_hex(8)}") if paid else None,
        "status": status,
        "amount_fen": amount_fen,
        "paid_at": paid_at if paid else None,
        "channel": channel if paid else None,
    }
    return {**fields, **changes}


def raw(fields: dict) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed(
    key: rsa.RSAPrivateKey, payload: bytes, *, timestamp: int = NOW_TS, serial: str = SERIAL, nonce: str | None = None
) -> dict[str, str]:
    return tax_signature.signed_headers(key, serial, timestamp, payload, nonce)


def post(client, key: rsa.RSAPrivateKey, payload: bytes, **signing):
    """POST a callback signed over exactly `payload`, as the tax bureau would."""
    return client.post(
        NOTIFY_PATH, data=payload, headers=signed(key, payload, **signing), content_type="application/json"
    )


def entries(order_id: int) -> list[tuple[str, int, str, str | None]]:
    """(kind, amount, funder, payer) of an order's ledger entries."""
    query = db.select(LedgerEntry).where(LedgerEntry.order_id == order_id).order_by(LedgerEntry.kind)
    return [(e.kind, e.amount_fen, e.funder, e.payer) for e in db.session.execute(query).scalars()]


def reviews(kind: str | None = None) -> list[ReviewItem]:
    query = db.select(ReviewItem).order_by(ReviewItem.id)
    query = query.where(ReviewItem.kind == kind) if kind else query
    return list(db.session.execute(query).scalars())


def inbox() -> list[CallbackDelivery]:
    return list(db.session.execute(db.select(CallbackDelivery).order_by(CallbackDelivery.id)).scalars())


def order(order_no: str) -> Order:
    return db.session.execute(db.select(Order).where(Order.order_no == order_no)).scalar_one()


def late_and_newer(app) -> tuple[str, str]:
    """The numbers of an expired order and of a newer pending one of the same resident and year."""
    with app.app_context():
        owner = resident()
        late, newer = expired_order(owner), pending_order(owner)
        db.session.commit()
        return late.order_no, newer.order_no
