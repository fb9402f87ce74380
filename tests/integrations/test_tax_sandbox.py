"""The sandbox gateway itself over HTTP: authentication, validation, pay page, statements, keys, clock."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests

from integrations import tax_signature
from integrations.sandbox.app import create_sandbox_app
from integrations.sandbox.tax_delivery import SandboxClock
from tests.support.tax import API_KEY, SANDBOX_NOW, create, order_request, pay, running_sandbox

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def tax_base():
    with running_sandbox(SANDBOX_NOW=SANDBOX_NOW) as (base, _app):
        yield base


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}])
def test_gateway_calls_need_the_api_key(tax_base, headers):
    body = order_request("A1").to_json()
    assert requests.post(f"{tax_base}/v1/orders", json=body, headers=headers, timeout=5).status_code == 401
    assert requests.get(f"{tax_base}/v1/orders/A1", headers=headers, timeout=5).status_code == 401
    answer = requests.get(f"{tax_base}/v1/statements/2027-03-02", headers=headers, timeout=5)
    assert (answer.status_code, answer.json()["code"]) == (401, "UNAUTHORIZED")


def test_without_a_configured_key_any_caller_is_served():
    with running_sandbox(SANDBOX_TAX_API_KEY=None) as (base, _app):
        answer = requests.post(f"{base}/v1/orders", json=order_request("A2").to_json(), timeout=5)
    assert answer.status_code == 201


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount_fen": 1000.0}, "amount_fen"),
        ({"amount_fen": True}, "amount_fen"),
        ({"amount_fen": 0}, "amount_fen"),
        ({"kind": "gift"}, "kind"),
        ({"payer": "boss"}, "payer"),
        ({"id_number": "140105195809120018"}, "id_number"),
        ({"expire_at": "2027-03-02T12:00:00"}, "expire_at"),
        ({"notify_url": "ftp://x"}, "notify_url"),
        ({"year": "2027"}, "year"),
        ({"region_code": "14010"}, "region_code"),
        ({"out_order_no": "a/b"}, "out_order_no"),
        ({"name": None}, "name"),
    ],
)
def test_order_creation_validates_every_field(tax_base, change, field):
    answer = create(tax_base, "V1", "http://127.0.0.1:9/notify", **change)
    assert answer.status_code == 400
    assert answer.json() == {"code": "INVALID_REQUEST", "message": f"{field} is missing or invalid"}


def test_order_creation_refuses_a_non_object_body(tax_base):
    answer = requests.post(
        f"{tax_base}/v1/orders", data="[]", headers={**AUTH, "Content-Type": "application/json"}, timeout=5
    )
    assert answer.status_code == 400


def test_same_out_order_no_for_another_amount_conflicts(tax_base):
    assert create(tax_base, "V2", "http://127.0.0.1:9/notify").status_code == 201
    answer = create(tax_base, "V2", "http://127.0.0.1:9/notify", amount_fen=1)
    assert (answer.status_code, answer.json()["code"]) == (409, "ORDER_CONFLICT")


def test_same_out_order_no_twice_answers_201_with_the_same_order(tax_base):
    first, second = (create(tax_base, "V3", "http://127.0.0.1:9/notify") for _ in range(2))
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()


def test_pay_page_offers_every_channel_and_a_pay_button(tax_base):
    pay_url = create(tax_base, "H1", "http://127.0.0.1:9/notify").json()["pay_params"]["sandbox_pay_url"]
    assert pay_url == f"{tax_base}/pay/H1"
    page = requests.get(pay_url, timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "<button" in page.text and "1000.00" in page.text and "王*国" in page.text
    assert all(f'value="{channel}"' in page.text for channel in ("wechat", "bank_app", "pos"))


def test_pay_form_marks_the_order_paid(tax_base):
    create(tax_base, "H2", "http://127.0.0.1:9/notify")
    page = requests.post(f"{tax_base}/pay/H2", data={"channel": "pos"}, timeout=5)
    assert page.status_code == 200 and "SUCCESS" in page.text and "<button" not in page.text
    order = requests.get(f"{tax_base}/v1/orders/H2", headers=AUTH, timeout=5).json()
    assert (order["status"], order["channel"], order["amount_fen"]) == ("SUCCESS", "pos", 100000)
    assert order["transaction_id"].startswith("4200") and order["paid_at"].endswith("+08:00")


def test_paying_twice_keeps_the_first_payment(tax_base):
    create(tax_base, "H3", "http://127.0.0.1:9/notify")
    first, second = pay(tax_base, "H3").json(), pay(tax_base, "H3", "pos").json()
    assert first == second


@pytest.mark.parametrize("out_order_no, channel, status", [("NOPE", "wechat", 404), ("H4", "cash", 400)])
def test_pay_refuses_unknown_orders_and_channels(tax_base, out_order_no, channel, status):
    create(tax_base, "H4", "http://127.0.0.1:9/notify")
    assert pay(tax_base, out_order_no, channel).status_code == status


def test_a_closed_order_cannot_be_paid_and_a_paid_one_cannot_be_closed(tax_base):
    for number in ("H5", "H6"):
        create(tax_base, number, "http://127.0.0.1:9/notify")
    assert requests.post(f"{tax_base}/v1/orders/H5/close", timeout=5).json()["status"] == "CLOSED"
    assert (pay(tax_base, "H5").status_code, pay(tax_base, "H5").json()["code"]) == (409, "ORDER_CLOSED")
    pay(tax_base, "H6").raise_for_status()
    assert requests.post(f"{tax_base}/v1/orders/H6/close", timeout=5).status_code == 409


@pytest.mark.parametrize("day", ["2027-3-2", "20270302", "2027-02-30", "today"])
def test_statement_needs_a_real_date(tax_base, day):
    assert requests.get(f"{tax_base}/v1/statements/{day}", headers=AUTH, timeout=5).status_code == 400


def test_statement_groups_payments_by_their_shanghai_date():
    # 16:30 UTC on 1 March is 00:30 on 2 March in Asia/Shanghai.
    with running_sandbox(SANDBOX_NOW="2027-03-01T16:30:00Z") as (base, _app):
        create(base, "D1", "http://127.0.0.1:9/notify")
        pay(base, "D1").raise_for_status()
        day1, day2 = (
            requests.get(f"{base}/v1/statements/{d}", headers=AUTH, timeout=5) for d in ("2027-03-01", "2027-03-02")
        )
    header = "out_order_no,transaction_id,amount_fen,paid_at,channel,status\r\n"
    assert day1.text == header and day1.headers["Content-Type"].startswith("text/csv")
    assert day2.text.startswith(header + "D1,4200") and day2.text.endswith(",wechat,SUCCESS\r\n")
    assert ",2027-03-02T00:30:" in day2.text


def test_public_keys_expose_the_configured_key_under_its_serial(tmp_path):
    key = tax_signature.generate_private_key()
    (tmp_path / "private.pem").write_bytes(tax_signature.private_pem(key))
    config = {"SANDBOX_TAX_PRIVATE_KEY": str(tmp_path / "private.pem"), "SANDBOX_TAX_KEY_SERIAL": "2027-01"}
    with running_sandbox(**config) as (base, _app):
        keys = requests.get(f"{base}/v1/public-keys", timeout=5).json()
    assert keys == {"2027-01": tax_signature.public_pem(key)}


def test_public_keys_default_to_one_generated_key_under_sandbox_1(tax_base):
    first, again = (requests.get(f"{tax_base}/v1/public-keys", timeout=5).json() for _ in range(2))
    assert list(first) == ["sandbox-1"] and first == again
    assert first["sandbox-1"].startswith("-----BEGIN PUBLIC KEY-----")


@pytest.mark.parametrize("body", [{}, {"drop_next": -1}, {"duplicate_next": "2"}, {"other": 1}, [1]])
def test_fault_controls_are_validated(tax_base, body):
    assert requests.post(f"{tax_base}/control/faults", json=body, timeout=5).status_code == 400


def test_sandbox_clock_runs_on_from_sandbox_now():
    config = {"SANDBOX_NOW": SANDBOX_NOW}
    clock = SandboxClock(config)
    start = clock.now()
    time.sleep(0.05)
    later = clock.now()
    assert start - dt.datetime.fromisoformat(SANDBOX_NOW) < dt.timedelta(seconds=1)
    assert later > start and clock.timestamp() == int(later.timestamp())


def test_sandbox_clock_can_stand_still_and_defaults_to_real_time():
    frozen = SandboxClock({"SANDBOX_NOW": SANDBOX_NOW, "SANDBOX_CLOCK_FROZEN": True})
    assert frozen.now() == dt.datetime.fromisoformat(SANDBOX_NOW)
    real = SandboxClock({}).now()
    assert abs(real - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=5)


@pytest.mark.parametrize("value", [0, -1, "fast"])
def test_a_bad_speedup_fails_at_start_up(value):
    with pytest.raises(ValueError):
        create_sandbox_app({"SANDBOX_SPEEDUP": value})
