"""Helpers of the tax bureau client tests: the sandbox and a callback receiver, both served over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from flask import Flask, request

from integrations import tax_signature
from integrations.sandbox import tax_bureau as sandbox_tax
from integrations.sandbox.app import create_sandbox_app
from integrations.tax_bureau import TaxBureauClient, TaxOrderRequest
from policy import id_number
from tests.support.constants import DEFAULT_NOW, NOTIFY_PATH
from tests.support.live_server import serve

API_KEY = "test-tax-key"
SANDBOX_NOW = DEFAULT_NOW
ID_NUMBER = id_number.make("140105", dt.date(1958, 9, 12), 1)


@contextmanager
def running_sandbox(**config) -> Iterator[tuple[str, Flask]]:
    """The sandbox served on a free port: yields (tax bureau base URL, app); stops deliveries after."""
    app = create_sandbox_app({"SANDBOX_TAX_API_KEY": API_KEY, "SANDBOX_SPEEDUP": 1000, **config})
    with serve(app) as base:
        try:
            yield f"{base}/tax", app
        finally:
            sandbox_tax.stop_deliveries(app)


@contextmanager
def client_of(base_url: str, api_key: str = API_KEY, **kwargs) -> Iterator[TaxBureauClient]:
    client = TaxBureauClient(base_url, api_key, **kwargs)
    client.retry_pause = 0.01
    try:
        yield client
    finally:
        client.session.close()


def order_request(
    out_order_no: str, notify_url: str = "http://127.0.0.1:9/notify", amount_fen: int = 100000
) -> TaxOrderRequest:
    return TaxOrderRequest(
        out_order_no=out_order_no,
        id_number=ID_NUMBER,
        name="王建国",
        region_code="140105",
        year=2027,
        kind="normal",
        amount_fen=amount_fen,
        payer="self",
        notify_url=notify_url,
        expire_at=dt.datetime.fromisoformat("2027-03-02T12:00:00+08:00"),
    )


def public_keys_of(tax_base: str, folder: Path) -> dict:
    """The sandbox's callback keys, through a `TAX_PUBLIC_KEYS` file as the API would load them."""
    path = folder / "tax_public_keys.json"
    path.write_text(json.dumps(requests.get(f"{tax_base}/v1/public-keys", timeout=5).json()))
    return tax_signature.load_public_keys(path)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    raw: bytes
    verified: bool

    @property
    def body(self) -> dict:
        return json.loads(self.raw)


class Receiver:
    """A stand-in for the API's notify endpoint: records callbacks and checks their signatures."""

    def __init__(self, public_keys: dict):
        self.public_keys = public_keys
        self.scripts: dict[str, list[int]] = {}  # per out_order_no: statuses to answer in turn, then 200
        self.received: list[Received] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        self.app = Flask(__name__)
        self.app.add_url_rule(NOTIFY_PATH, "notify", self.notify, methods=["POST"])

    def script(self, out_order_no: str, *statuses: int) -> None:
        with self._lock:
            self.scripts[out_order_no] = list(statuses)

    def notify(self):
        time.sleep(self.delay)
        raw = request.get_data()
        received = Received(dict(request.headers), raw, self._verified(raw))
        with self._lock:
            self.received.append(received)
            statuses = self.scripts.get(received.body.get("out_order_no"), [])
            status = statuses.pop(0) if statuses else 200
        return {"code": "SUCCESS" if status == 200 else "FAIL"}, status

    def _verified(self, raw: bytes) -> bool:
        headers = request.headers
        key = self.public_keys.get(headers.get("Tax-Serial", ""))
        return tax_signature.verify(
            key, headers.get("Tax-Timestamp", ""), headers.get("Tax-Nonce", ""), raw, headers.get("Tax-Signature", "")
        )

    def of(self, out_order_no: str) -> list[Received]:
        """The callbacks received so far for one order."""
        with self._lock:
            return [r for r in self.received if r.body.get("out_order_no") == out_order_no]


def create(tax_base: str, out_order_no: str, notify_url: str, /, **changes) -> requests.Response:
    """`POST /v1/orders` straight to the sandbox, with the API key."""
    body = {**order_request(out_order_no, notify_url).to_json(), **changes}
    return requests.post(f"{tax_base}/v1/orders", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5)


def deliveries(tax_base: str, out_order_no: str) -> list[dict]:
    response = requests.get(f"{tax_base}/control/deliveries", params={"out_order_no": out_order_no}, timeout=5)
    return response.json()


def pay(tax_base: str, out_order_no: str, channel: str = "wechat") -> requests.Response:
    return requests.post(f"{tax_base}/pay/{out_order_no}", json={"channel": channel}, timeout=5)
