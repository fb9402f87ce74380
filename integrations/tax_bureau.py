"""Client of the tax bureau collection gateway (INTEGRATIONS.md §4): orders, active query, statements.

Every failure, refusal or malformed answer becomes `UpstreamError("tax_bureau_unavailable", ..., 503)`;
messages never carry an unmasked ID number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import requests

from policy.id_number import mask

from .errors import UpstreamError
from .http import DEFAULT_TIMEOUT, HttpClient

STATUSES = frozenset({"PENDING", "SUCCESS", "CLOSED"})
STATEMENT_HEADER = ["out_order_no", "transaction_id", "amount_fen", "paid_at", "channel", "status"]
# Payment channels of the tax bureau (INTEGRATIONS.md §4 callback body).
CHANNELS = ("wechat", "bank_app", "e_tax", "bank_counter", "pos", "social_security_card")
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class TaxOrderRequest:
    """The body of `POST /v1/orders`; `expire_at` must carry a UTC offset."""

    out_order_no: str
    id_number: str
    name: str
    region_code: str
    year: int
    kind: str  # normal | back_payment | lump_sum | proxy
    amount_fen: int
    payer: str  # self | supporter | government | sponsor
    notify_url: str
    expire_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        if self.expire_at.tzinfo is None:
            raise ValueError("expire_at needs a UTC offset")
        return {**asdict(self), "expire_at": self.expire_at.isoformat(timespec="seconds")}


@dataclass(frozen=True)
class CreatedOrder:
    order_no: str
    pay_params: dict  # handed to the mini-program untouched (wx.requestPayment)


@dataclass(frozen=True)
class RemoteOrder:
    out_order_no: str
    status: str  # PENDING | SUCCESS | CLOSED
    amount_fen: int
    transaction_id: str | None
    paid_at: dt.datetime | None
    channel: str | None


@dataclass(frozen=True)
class StatementRow:
    out_order_no: str
    transaction_id: str
    amount_fen: int
    paid_at: dt.datetime
    channel: str
    status: str


class TaxBureauClient(HttpClient):
    """`Authorization: Bearer {api_key}` on every call; see INTEGRATIONS.md §4."""

    unavailable_code = "tax_bureau_unavailable"
    system_name = "tax bureau"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ):
        super().__init__(base_url, session, timeout, headers={"Authorization": f"Bearer {api_key}"})

    def unavailable(self, why: str) -> UpstreamError:
        return super().unavailable(_ID_LIKE.sub(lambda m: mask(m.group(0)), why))

    def create_order(self, order: TaxOrderRequest) -> CreatedOrder:
        """Create (or, for a known `out_order_no`, fetch again) the order to pay."""
        # The same out_order_no twice yields the same order, so a lost answer may be asked again.
        response = self.request("POST", "/v1/orders", repeatable=True, json=order.to_json())
        if response.status_code != 201:
            raise self.refused(response)
        body = self.json_of(response)
        return CreatedOrder(self._text(body, "order_no"), self._object(body, "pay_params"))

    def query_order(self, out_order_no: str) -> RemoteOrder | None:
        """The gateway's view of an order; None when it does not know it (404)."""
        response = self.request("GET", f"/v1/orders/{quote(out_order_no, safe='')}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self.refused(response)
        order = self._remote_order(self.json_of(response))
        if order.out_order_no != out_order_no:
            raise self.unavailable("answered for another out_order_no")
        return order

    def _remote_order(self, body: dict) -> RemoteOrder:
        status = self._text(body, "status")
        if status not in STATUSES:
            raise self.unavailable(f"unknown order status {status!r}")
        paid = status == "SUCCESS"
        return RemoteOrder(
            out_order_no=self._text(body, "out_order_no"),
            status=status,
            amount_fen=self._int(body, "amount_fen"),
            transaction_id=self._text(body, "transaction_id", required=paid),
            paid_at=self._instant(body.get("paid_at"), "paid_at", required=paid),
            channel=self._text(body, "channel", required=paid),
        )

    def statement(self, date: dt.date) -> list[StatementRow]:
        """Every payment the gateway settled on `date` (Asia/Shanghai)."""
        response = self.request("GET", f"/v1/statements/{date.isoformat()}")
        if response.status_code != 200:
            raise self.refused(response)
        try:
            text = response.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise self.unavailable("statement is not UTF-8") from None
        return self._statement_rows(text)

    def _statement_rows(self, text: str) -> list[StatementRow]:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if header != STATEMENT_HEADER:
            raise self.unavailable(f"unexpected statement header {header!r}")
        return [self._statement_row(number, row) for number, row in enumerate(reader, 2) if row]

    def _statement_row(self, number: int, row: list[str]) -> StatementRow:
        if len(row) != len(STATEMENT_HEADER) or not all(row):
            raise self.unavailable(f"statement line {number} does not have six non-empty fields")
        out_order_no, transaction_id, amount, paid_at, channel, status = row
        if not _DIGITS.match(amount):
            raise self.unavailable(f"statement line {number}: amount_fen {amount!r} is not an integer")
        instant = self._instant(paid_at, f"line {number} paid_at", required=True)
        return StatementRow(out_order_no, transaction_id, int(amount), instant, channel, status)

    def refused(self, response: requests.Response) -> UpstreamError:
        """An unexpected HTTP status, with the gateway's own `code`/`message` when it gave one."""
        why = f"HTTP {response.status_code}"
        try:
            body = response.json()
        except ValueError:
            return self.unavailable(why)
        if isinstance(body, dict) and (body.get("code") or body.get("message")):
            why += f": {body.get('code', '')} {body.get('message', '')}".rstrip()
        return self.unavailable(why)

    def _text(self, body: dict, field: str, required: bool = True) -> str | None:
        value = body.get(field)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise self.unavailable(f"{field} is missing or not a string")
        return value

    def _object(self, body: dict, field: str) -> dict:
        value = body.get(field)
        if not isinstance(value, dict):
            raise self.unavailable(f"{field} is missing or not an object")
        return value

    def _int(self, body: dict, field: str) -> int:
        value = body.get(field)
        if type(value) is not int:  # bool and float are refused, not coerced
            raise self.unavailable(f"{field} is missing or not an integer")
        return value

    def _instant(self, value: object, field: str, required: bool) -> dt.datetime | None:
        if value is None and not required:
            return None
        try:
            instant = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            instant = None
        if instant is None or instant.tzinfo is None:
            raise self.unavailable(f"{field} is not an RFC 3339 instant with offset")
        return instant
