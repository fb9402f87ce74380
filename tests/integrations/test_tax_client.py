"""The tax bureau client over real HTTP, against the sandbox and against ad-hoc fakes."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests
from flask import Flask, Response, jsonify, request

from integrations.errors import UpstreamError
from integrations.tax_bureau import RemoteOrder, StatementRow
from tests.support.live_server import serve
from tests.support.tax import ID_NUMBER, SANDBOX_NOW, client_of, order_request, pay, running_sandbox


@pytest.fixture(scope="module")
def tax_base():
    with running_sandbox(SANDBOX_NOW=SANDBOX_NOW) as (base, _app):
        yield base


@pytest.fixture
def tax(tax_base):
    with client_of(tax_base) as client:
        yield client


class FakeGateway:
    """One served app per module; each test scripts the answers of one path (the last one repeats)."""

    def __init__(self):
        self.app = Flask(__name__)
        self.answers: list = []
        self.calls: list[dict] = []
        self.app.add_url_rule("/<path:path>", "answer", self.answer, methods=["GET", "POST"])

    def script(self, *answers) -> list[dict]:
        self.answers, self.calls = list(answers), []
        return self.calls

    def answer(self, path: str):
        self.calls.append({"path": f"/{path}", "headers": dict(request.headers), "json": request.get_json(silent=True)})
        return self.answers[min(len(self.calls), len(self.answers)) - 1]()


@pytest.fixture(scope="module")
def served_fake():
    gateway = FakeGateway()
    with serve(gateway.app) as base:
        yield gateway, base


@pytest.fixture
def fake(served_fake):
    """`fake(*answers)` → (client of the fake gateway, the calls it records)."""
    gateway, base = served_fake
    with client_of(base, timeout=(1.0, 0.2)) as client:
        yield lambda *answers: (client, gateway.script(*answers))


def created():
    return jsonify(order_no="TX1", pay_params={"package": "prepay_id=wx1"}), 201


def unavailable():
    return jsonify(code="BUSY", message="try later"), 503


def test_create_order_sends_the_contract_body_and_bearer_key(fake):
    client, calls = fake(created)
    order = client.create_order(order_request("C1", "http://api/notify"))
    assert order.order_no == "TX1" and order.pay_params == {"package": "prepay_id=wx1"}
    assert calls[0]["headers"]["Authorization"] == "Bearer test-tax-key"
    assert calls[0]["json"] == {
        "out_order_no": "C1",
        "id_number": ID_NUMBER,
        "name": "王建国",
        "region_code": "140105",
        "year": 2027,
        "kind": "normal",
        "amount_fen": 100000,
        "payer": "self",
        "notify_url": "http://api/notify",
        "expire_at": "2027-03-02T12:00:00+08:00",
    }


def test_create_then_query_a_pending_order(tax):
    created_order = tax.create_order(order_request("Q1"))
    assert created_order.order_no.startswith("TX")
    assert {"timeStamp", "nonceStr", "package", "signType", "paySign", "sandbox_pay_url"} <= set(
        created_order.pay_params
    )
    assert tax.query_order("Q1") == RemoteOrder("Q1", "PENDING", 100000, None, None, None)


def test_same_out_order_no_twice_is_the_same_order(tax):
    first = tax.create_order(order_request("SAME"))
    assert tax.create_order(order_request("SAME")) == first


def test_query_of_a_paid_order_has_transaction_time_and_channel(tax, tax_base):
    tax.create_order(order_request("P1"))
    pay(tax_base, "P1", "bank_app").raise_for_status()
    order = tax.query_order("P1")
    assert order.status == "SUCCESS" and order.channel == "bank_app" and order.transaction_id
    assert order.paid_at.utcoffset() == dt.timedelta(hours=8)
    assert abs(order.paid_at - dt.datetime.fromisoformat(SANDBOX_NOW)) < dt.timedelta(seconds=30)


def test_query_of_an_unknown_order_is_none(tax):
    assert tax.query_order("NOPE") is None


def test_wrong_api_key_is_tax_bureau_unavailable(tax_base):
    with client_of(tax_base, api_key="wrong") as client, pytest.raises(UpstreamError) as raised:
        client.create_order(order_request("K1"))
    assert (raised.value.code, raised.value.status) == ("tax_bureau_unavailable", 503)
    assert "401" in raised.value.detail


def test_create_order_is_retried_after_a_503(fake):
    client, calls = fake(unavailable, created)
    assert client.create_order(order_request("R1")).order_no == "TX1"
    assert len(calls) == 2 and calls[0]["json"] == calls[1]["json"]


def test_create_order_gives_up_after_bounded_retries(fake):
    client, calls = fake(unavailable)
    with pytest.raises(UpstreamError) as raised:
        client.create_order(order_request("R2"))
    assert len(calls) == 3 and raised.value.code == "tax_bureau_unavailable"


def test_create_order_is_not_retried_after_a_4xx(fake):
    client, calls = fake(lambda: (jsonify(code="INVALID_REQUEST", message="bad"), 400))
    with pytest.raises(UpstreamError):
        client.create_order(order_request("R3"))
    assert len(calls) == 1


def test_create_order_is_retried_after_a_refused_connection():
    with serve(Flask(__name__)) as base:
        pass  # the port is free again: nothing listens there
    with client_of(base, session=requests.Session()) as client, pytest.raises(UpstreamError) as raised:
        client.create_order(order_request("R4"))
    assert raised.value.code == "tax_bureau_unavailable"


def test_a_timeout_is_tax_bureau_unavailable(fake):
    client, calls = fake(lambda: (time.sleep(0.4), created())[1])
    with pytest.raises(UpstreamError) as raised:
        client.create_order(order_request("T1"))
    assert "Timeout" in raised.value.detail and len(calls) == 3


@pytest.mark.parametrize(
    "answer",
    [
        lambda: Response("<html>gateway</html>", 201, content_type="text/html"),
        lambda: (jsonify(order_no="", pay_params={}), 201),
        lambda: (jsonify(order_no="TX1", pay_params="x"), 201),
        lambda: (jsonify(order_no="TX1", pay_params={}), 200),
    ],
)
def test_create_order_refuses_malformed_answers(fake, answer):
    client, _ = fake(answer)
    with pytest.raises(UpstreamError) as raised:
        client.create_order(order_request("M1"))
    assert raised.value.code == "tax_bureau_unavailable"


def test_error_messages_never_carry_an_unmasked_id_number(fake):
    client, _ = fake(lambda: (jsonify(code="INVALID_REQUEST", message=f"bad id_number {ID_NUMBER}"), 400))
    with pytest.raises(UpstreamError) as raised:
        client.create_order(order_request("M2"))
    assert ID_NUMBER not in raised.value.detail and "1401**********" in raised.value.detail


PAID = {
    "out_order_no": "Q9",
    "status": "SUCCESS",
    "amount_fen": 100000,
    "transaction_id": "4200",
    "paid_at": "2027-03-02T10:15:00+08:00",
    "channel": "wechat",
}


@pytest.mark.parametrize(
    "change",
    [
        {"amount_fen": 100000.0},
        {"amount_fen": True},
        {"amount_fen": "100000"},
        {"status": "PAID"},
        {"paid_at": "2027-03-02T10:15:00"},
        {"paid_at": None},
        {"transaction_id": None},
        {"out_order_no": "Q8"},
    ],
)
def test_query_order_parses_strictly(fake, change):
    client, _ = fake(lambda: jsonify({**PAID, **change}))
    with pytest.raises(UpstreamError):
        client.query_order("Q9")


def test_query_order_accepts_the_contract_answer(fake):
    client, calls = fake(lambda: jsonify(PAID))
    order = client.query_order("Q9")
    assert calls[0]["path"] == "/v1/orders/Q9" and calls[0]["headers"]["Authorization"] == "Bearer test-tax-key"
    assert order == RemoteOrder(
        "Q9", "SUCCESS", 100000, "4200", dt.datetime.fromisoformat("2027-03-02T10:15:00+08:00"), "wechat"
    )


def test_statement_lists_the_payments_settled_that_day():
    with running_sandbox(SANDBOX_NOW=SANDBOX_NOW) as (tax_base, _app), client_of(tax_base) as tax:
        for number in ("S1", "S2", "S3"):
            tax.create_order(order_request(number, amount_fen=50000))
        pay(tax_base, "S1", "e_tax").raise_for_status()
        pay(tax_base, "S2").raise_for_status()
        rows = tax.statement(dt.date(2027, 3, 2))
        assert tax.statement(dt.date(2027, 3, 3)) == []
    assert [(r.out_order_no, r.amount_fen, r.channel, r.status) for r in rows] == [
        ("S1", 50000, "e_tax", "SUCCESS"),
        ("S2", 50000, "wechat", "SUCCESS"),
    ]
    assert all(isinstance(r, StatementRow) and r.paid_at.tzinfo and r.transaction_id for r in rows)


HEADER = "out_order_no,transaction_id,amount_fen,paid_at,channel,status\r\n"
ROW = "S9,4200,100000,2027-03-02T10:15:00+08:00,wechat,SUCCESS\r\n"


def test_statement_parses_the_contract_csv(fake):
    client, calls = fake(lambda: Response(HEADER + ROW, content_type="text/csv"))
    rows = client.statement(dt.date(2027, 3, 2))
    assert calls[0]["path"] == "/v1/statements/2027-03-02"
    assert rows == [
        StatementRow("S9", "4200", 100000, dt.datetime.fromisoformat("2027-03-02T10:15:00+08:00"), "wechat", "SUCCESS")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "out_order_no,transaction_id,amount,paid_at,channel,status\r\n" + ROW,
        ROW,
        "",
        HEADER + ROW.replace("100000", "1000.00"),
        HEADER + ROW.replace(",wechat", ""),
        HEADER + ROW.replace("+08:00", ""),
    ],
)
def test_statement_refuses_a_malformed_csv(fake, text):
    client, _ = fake(lambda: Response(text, content_type="text/csv"))
    with pytest.raises(UpstreamError):
        client.statement(dt.date(2027, 3, 2))
