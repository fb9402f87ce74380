"""Sandbox tax bureau collection gateway (INTEGRATIONS.md §4), in memory, with signed callbacks.

Gateway: `POST /v1/orders`, `GET /v1/orders/<out_order_no>`, `GET /v1/statements/<YYYY-MM-DD>`
(Bearer `SANDBOX_TAX_API_KEY` when configured). Sandbox only: `GET /v1/public-keys`, the pay page
`GET|POST /pay/<out_order_no>`, `POST /v1/orders/<out_order_no>/close`, `POST /control/faults`,
`GET /control/deliveries`. Configuration: `SANDBOX_TAX_API_KEY`, `SANDBOX_NOW`, `SANDBOX_CLOCK_FROZEN`,
`SANDBOX_SPEEDUP`, `SANDBOX_TAX_PRIVATE_KEY`, `SANDBOX_TAX_KEY_SERIAL`.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import functools
import hmac
import io
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template_string, request, url_for

from integrations.tax_bureau import CHANNELS
from policy import id_number
from policy.calendar import SHANGHAI
from policy.kinds import ContributionKind, Payer

from .tax_delivery import Callback, Deliverer, SandboxClock, SandboxKeys, speedup

bp = Blueprint("sandbox_tax_bureau", __name__)

KINDS = frozenset(ContributionKind)  # INTEGRATIONS.md §4 uses the scheme's own words
PAYERS = frozenset(Payer)
STATEMENT_HEADER = ("out_order_no", "transaction_id", "amount_fen", "paid_at", "channel", "status")
_OUT_ORDER_NO = re.compile(r"^[A-Za-z0-9_\-.|*@]{1,64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Refusal(Exception):
    """An error answer of the gateway: `{"code", "message"}` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Order:
    out_order_no: str
    order_no: str
    request: dict  # the validated creation body
    pay_params: dict
    status: str = "PENDING"
    transaction_id: str | None = None
    paid_at: dt.datetime | None = None
    channel: str | None = None

    def view(self) -> dict:
        """The `GET /v1/orders/<out_order_no>` answer."""
        return {
            "out_order_no": self.out_order_no,
            "status": self.status,
            "amount_fen": self.request["amount_fen"],
            "transaction_id": self.transaction_id,
            "paid_at": rfc3339(self.paid_at),
            "channel": self.channel,
        }


def rfc3339(instant: dt.datetime | None) -> str | None:
    """`2027-03-02T10:15:00+08:00`."""
    return instant.astimezone(SHANGHAI).isoformat(timespec="seconds") if instant else None


class TaxSandbox:
    """All state of one sandbox app: orders, clock, signing key, callback delivery."""

    def __init__(self, config: dict):
        self.lock = threading.Lock()
        self.orders: dict[str, Order] = {}
        self.clock = SandboxClock(config)
        self.keys = SandboxKeys(config)
        self.deliverer = Deliverer(config, self.keys, self.clock)

    def create(self, body: dict, pay_url: str) -> Order:
        """Store a new order, or return the one already stored under the same out_order_no."""
        with self.lock:
            known = self.orders.get(body["out_order_no"])
            if known is None:
                known = self.orders[body["out_order_no"]] = self._new_order(body, pay_url)
            elif any(known.request[f] != body[f] for f in ("id_number", "amount_fen")):
                raise Refusal(409, "ORDER_CONFLICT", "out_order_no already used for another payment")
            return known

    def _new_order(self, body: dict, pay_url: str) -> Order:
        now = self.clock.now()
        order_no = f"TX{now.astimezone(SHANGHAI):%Y%m%d}{secrets.token_hex(6).upper()}"
        return Order(body["out_order_no"], order_no, body, fake_pay_params(now, pay_url))

    def get(self, out_order_no: str) -> Order:
        order = self.orders.get(out_order_no)
        if order is None:
            raise Refusal(404, "ORDER_NOT_FOUND", "no such order")
        return order

    def pay(self, out_order_no: str, channel: str) -> Order:
        """Mark an order paid and start its SUCCESS callback; paying it again changes nothing."""
        with self.lock:
            order = self.get(out_order_no)
            if order.status == "CLOSED":
                raise Refusal(409, "ORDER_CLOSED", "the order is closed")
            if order.status == "SUCCESS":
                return order
            now = self.clock.now()
            order = self._settle(order, "SUCCESS", transaction_id=new_transaction_id(now), paid_at=now, channel=channel)
        self.deliverer.schedule(callback_of(order))
        return order

    def close(self, out_order_no: str) -> Order:
        """Close an unpaid order and start its CLOSED callback."""
        with self.lock:
            order = self.get(out_order_no)
            if order.status == "SUCCESS":
                raise Refusal(409, "ORDER_PAID", "the order is paid")
            if order.status == "CLOSED":
                return order
            order = self._settle(order, "CLOSED")
        self.deliverer.schedule(callback_of(order))
        return order

    def _settle(self, order: Order, status: str, **changes) -> Order:
        order = self.orders[order.out_order_no] = replace(order, status=status, **changes)
        return order

    def settled_on(self, day: dt.date) -> list[Order]:
        """Payments whose paid_at falls on `day` in Asia/Shanghai, oldest first."""
        with self.lock:
            paid = [
                o
                for o in self.orders.values()
                if o.status == "SUCCESS" and o.paid_at.astimezone(SHANGHAI).date() == day
            ]
        return sorted(paid, key=lambda o: o.paid_at)


def fake_pay_params(now: dt.datetime, pay_url: str) -> dict:
    """Shaped like the `wx.requestPayment` arguments; `sandbox_pay_url` opens the sandbox pay page."""
    return {
        "timeStamp": str(int(now.timestamp())),
        "nonceStr": secrets.token_hex(16),
        "package": f"prepay_id=wx{secrets.token_hex(14)}",
        "signType": "RSA",
        "paySign": base64.b64encode(secrets.token_bytes(256)).decode("ascii"),
        "sandbox_pay_url": pay_url,
    }


def new_transaction_id(now: dt.datetime) -> str:
    return f"4200{now.astimezone(SHANGHAI):%Y%m%d}{secrets.randbelow(10**16):016d}"


def callback_of(order: Order) -> Callback:
    """The callback event of an order's new state, as the exact bytes to sign and send."""
    event_id = f"evt_{secrets.token_hex(12)}"
    body = {
        "event_id": event_id,
        "out_order_no": order.out_order_no,
        "transaction_id": order.transaction_id,
        "status": order.status,
        "amount_fen": order.request["amount_fen"],
        "paid_at": rfc3339(order.paid_at),
        "channel": order.channel,
    }
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Callback(order.request["notify_url"], order.out_order_no, event_id, raw)


# --- Validation of the creation body -------------------------------------------------------------


def _is_id_number(value: object) -> bool:
    try:
        return isinstance(value, str) and id_number.parse(value).value == value
    except id_number.InvalidIdNumber:
        return False


def _is_instant(value: object) -> bool:
    try:
        return isinstance(value, str) and dt.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


FIELD_CHECKS: dict[str, Callable[[object], bool]] = {
    "out_order_no": lambda v: isinstance(v, str) and bool(_OUT_ORDER_NO.match(v)),
    "id_number": _is_id_number,
    "name": lambda v: isinstance(v, str) and 0 < len(v.strip()) <= 50,
    "region_code": lambda v: isinstance(v, str) and bool(re.fullmatch(r"\d{6}", v)),
    "year": lambda v: type(v) is int and 2000 <= v <= 2100,
    "kind": lambda v: v in KINDS,
    "amount_fen": lambda v: type(v) is int and v > 0,
    "payer": lambda v: v in PAYERS,
    "notify_url": lambda v: isinstance(v, str) and v.startswith(("http://", "https://")),
    "expire_at": _is_instant,
}


def validated_order(body: object) -> dict:
    """The creation body with exactly the §4 fields, or a 400 naming the first bad field."""
    if not isinstance(body, dict):
        raise Refusal(400, "INVALID_REQUEST", "body must be a JSON object")
    for field, check in FIELD_CHECKS.items():
        if field not in body or not check(body[field]):
            raise Refusal(400, "INVALID_REQUEST", f"{field} is missing or invalid")
    return {field: body[field] for field in FIELD_CHECKS}


# --- Wiring ---------------------------------------------------------------------------------------


@bp.record_once
def _install(state) -> None:
    speedup(state.app.config)  # a bad SANDBOX_SPEEDUP fails at start-up, not later in a delivery thread
    state.app.extensions["sandbox_tax_bureau"] = TaxSandbox(state.app.config)


def sandbox(app: Flask | None = None) -> TaxSandbox:
    return (app or current_app).extensions["sandbox_tax_bureau"]


def stop_deliveries(app: Flask, timeout: float = 5.0) -> None:
    """Cancel pending callback retries of this sandbox app (tests, shutdown)."""
    sandbox(app).deliverer.stop(timeout)


@bp.errorhandler(Refusal)
def _refused(error: Refusal):
    return jsonify(code=error.code, message=error.message), error.status


def authorized(view: Callable) -> Callable:
    """Require `Authorization: Bearer {SANDBOX_TAX_API_KEY}` when that key is configured."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = current_app.config.get("SANDBOX_TAX_API_KEY")
        given = request.headers.get("Authorization", "")
        if key and not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            raise Refusal(401, "UNAUTHORIZED", "missing or wrong API key")
        return view(*args, **kwargs)

    return wrapper


# --- Gateway --------------------------------------------------------------------------------------


@bp.post("/v1/orders")
@authorized
def create_order():
    body = validated_order(request.get_json(silent=True))
    pay_url = url_for(".pay_page", out_order_no=body["out_order_no"], _external=True)
    order = sandbox().create(body, pay_url)
    return jsonify(order_no=order.order_no, pay_params=order.pay_params), 201


@bp.get("/v1/orders/<out_order_no>")
@authorized
def get_order(out_order_no: str):
    return jsonify(sandbox().get(out_order_no).view())


@bp.get("/v1/statements/<day>")
@authorized
def statement(day: str):
    try:
        date = dt.date.fromisoformat(day) if _DATE.match(day) else None
    except ValueError:
        date = None
    if date is None:
        raise Refusal(400, "INVALID_REQUEST", "the date must be YYYY-MM-DD")
    return Response(statement_csv(sandbox().settled_on(date)), content_type="text/csv; charset=utf-8")


def statement_csv(orders: list[Order]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(STATEMENT_HEADER)
    for order in orders:
        writer.writerow(
            [
                order.out_order_no,
                order.transaction_id,
                order.request["amount_fen"],
                rfc3339(order.paid_at),
                order.channel,
                order.status,
            ]
        )
    return out.getvalue()


@bp.get("/v1/public-keys")
def public_keys():
    """The callback verification key, as the API's `TAX_PUBLIC_KEYS` file `{serial: PEM}`."""
    return jsonify(sandbox().keys.public_keys())


# --- Sandbox controls -----------------------------------------------------------------------------


@bp.post("/v1/orders/<out_order_no>/close")
def close_order(out_order_no: str):
    return jsonify(sandbox().close(out_order_no).view())


PAY_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>沙箱税务缴费</title></head>
<body style="font-family: sans-serif; max-width: 28em; margin: 2em auto">
<h1>沙箱税务缴费 (sandbox)</h1>
<p>订单 {{ order.out_order_no }} · {{ name }} · {{ order.request.year }} 年</p>
<p>金额 <strong>¥{{ yuan }}</strong> · 状态 <strong>{{ order.status }}</strong>
{% if order.transaction_id %}· 交易号 {{ order.transaction_id }}{% endif %}</p>
{% if order.status == "PENDING" %}
<form method="post">
  <label>渠道 <select name="channel">
  {% for channel in channels %}<option value="{{ channel }}">{{ channel }}</option>{% endfor %}
  </select></label>
  <button type="submit">支付 Pay</button>
</form>
{% endif %}
</body></html>"""


def render_pay_page(order: Order) -> str:
    yuan, fen = divmod(order.request["amount_fen"], 100)
    return render_template_string(
        PAY_PAGE,
        order=order,
        channels=CHANNELS,
        yuan=f"{yuan}.{fen:02d}",
        name=id_number.mask_name(order.request["name"]),
    )


@bp.get("/pay/<out_order_no>")
def pay_page(out_order_no: str):
    return render_pay_page(sandbox().get(out_order_no))


@bp.post("/pay/<out_order_no>")
def pay(out_order_no: str):
    fields = request.get_json(silent=True) if request.is_json else request.form
    channel = (fields or {}).get("channel") or "wechat"
    if channel not in CHANNELS:
        raise Refusal(400, "INVALID_REQUEST", f"channel must be one of {', '.join(CHANNELS)}")
    order = sandbox().pay(out_order_no, channel)
    return jsonify(order.view()) if request.is_json else render_pay_page(order)


@bp.post("/control/faults")
def set_faults():
    """`{"drop_next": n}` and/or `{"duplicate_next": n}`; answers the counts now in force."""
    return jsonify(sandbox().deliverer.faults.set(**fault_counts(request.get_json(silent=True))))


def fault_counts(body: object) -> dict[str, int]:
    counts = {k: body[k] for k in ("drop_next", "duplicate_next") if k in body} if isinstance(body, dict) else {}
    if not counts or any(type(v) is not int or v < 0 for v in counts.values()):
        raise Refusal(400, "INVALID_REQUEST", "send drop_next and/or duplicate_next as integers >= 0")
    return counts


@bp.get("/control/deliveries")
def deliveries():
    """Every delivery attempt so far, oldest first (`?out_order_no=` narrows it)."""
    return jsonify(sandbox().deliverer.attempts(request.args.get("out_order_no")))
