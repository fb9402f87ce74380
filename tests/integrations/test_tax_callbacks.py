"""Signed payment callbacks from the sandbox to a receiver over real HTTP: retries and injected faults."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests

from integrations.sandbox.tax_bureau import stop_deliveries
from integrations.sandbox.tax_delivery import SCHEDULE
from tests.support.live_server import serve
from tests.support.tax import (
    NOTIFY_PATH,
    SANDBOX_NOW,
    Receiver,
    create,
    deliveries,
    pay,
    public_keys_of,
    running_sandbox,
)
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """(sandbox tax base URL, receiver, notify_url), shared by the tests of this module."""
    with running_sandbox(SANDBOX_NOW=SANDBOX_NOW) as (tax_base, _app):
        receiver = Receiver(public_keys_of(tax_base, tmp_path_factory.mktemp("keys")))
        with serve(receiver.app) as receiver_base:
            yield tax_base, receiver, receiver_base + NOTIFY_PATH


def paid(rig, out_order_no: str, channel: str = "wechat") -> None:
    tax_base, _, notify_url = rig
    assert create(tax_base, out_order_no, notify_url).status_code == 201
    pay(tax_base, out_order_no, channel).raise_for_status()


def settled(tax_base: str, out_order_no: str, count: int = 1) -> list[dict]:
    """The delivery attempts of an order, once `count` of them got a 200."""
    return wait_until(
        lambda: (
            (found := deliveries(tax_base, out_order_no)) and sum(a["status"] == 200 for a in found) >= count and found
        )
    )


def test_a_payment_is_called_back_signed_with_the_contract_body(rig):
    tax_base, receiver, _ = rig
    paid(rig, "CB1", "bank_app")
    (callback,) = wait_until(lambda: receiver.of("CB1"))
    order = requests.get(
        f"{tax_base}/v1/orders/CB1", headers={"Authorization": "Bearer test-tax-key"}, timeout=5
    ).json()
    assert callback.verified and callback.headers["Tax-Serial"] == "sandbox-1"
    assert callback.headers["Content-Type"].startswith("application/json")
    body = callback.body
    assert body["event_id"].startswith("evt_")
    assert {k: v for k, v in body.items() if k != "event_id"} == {
        "out_order_no": "CB1",
        "transaction_id": order["transaction_id"],
        "status": "SUCCESS",
        "amount_fen": 100000,
        "paid_at": order["paid_at"],
        "channel": "bank_app",
    }
    assert body["paid_at"].endswith("+08:00")


def test_the_callback_timestamp_follows_the_sandbox_clock(rig):
    _, receiver, _ = rig
    paid(rig, "CB2")
    (callback,) = wait_until(lambda: receiver.of("CB2"))
    frozen = dt.datetime.fromisoformat(SANDBOX_NOW).timestamp()
    assert 0 <= int(callback.headers["Tax-Timestamp"]) - frozen < 60


def test_a_failed_delivery_is_delivered_again_with_a_fresh_nonce(rig):
    tax_base, receiver, _ = rig
    receiver.script("CB3", 500)
    paid(rig, "CB3")
    attempts = settled(tax_base, "CB3")
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 500), (2, 200)]
    first, second = receiver.of("CB3")
    assert first.raw == second.raw and first.verified and second.verified
    assert first.headers["Tax-Nonce"] != second.headers["Tax-Nonce"]


def test_non_200_answers_of_any_kind_are_retried(rig):
    tax_base, receiver, _ = rig
    receiver.script("CB4", 400, 503, 201)
    paid(rig, "CB4")
    assert [a["status"] for a in settled(tax_base, "CB4")] == [400, 503, 201, 200]


def test_a_dropped_attempt_is_delivered_by_the_retry(rig):
    tax_base, receiver, _ = rig
    requests.post(f"{tax_base}/control/faults", json={"drop_next": 1}, timeout=5).raise_for_status()
    paid(rig, "CB5")
    attempts = settled(tax_base, "CB5")
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "dropped"), (2, 200)]
    assert len(receiver.of("CB5")) == 1


def test_a_duplicated_delivery_repeats_the_same_event(rig):
    tax_base, receiver, _ = rig
    faults = requests.post(f"{tax_base}/control/faults", json={"duplicate_next": 1}, timeout=5).json()
    assert faults == {"drop_next": 0, "duplicate_next": 1}
    paid(rig, "CB6")
    first, second = wait_until(lambda: len(receiver.of("CB6")) == 2 and receiver.of("CB6"))
    assert first.raw == second.raw and first.verified and second.verified
    assert first.headers["Tax-Nonce"] != second.headers["Tax-Nonce"]
    assert [a["duplicate"] for a in settled(tax_base, "CB6", 2)] == [False, True]


def test_closing_an_order_calls_back_closed(rig):
    tax_base, receiver, notify_url = rig
    create(tax_base, "CB7", notify_url)
    requests.post(f"{tax_base}/v1/orders/CB7/close", timeout=5).raise_for_status()
    (callback,) = wait_until(lambda: receiver.of("CB7"))
    assert callback.verified
    assert {k: callback.body[k] for k in ("status", "amount_fen", "transaction_id", "paid_at")} == {
        "status": "CLOSED",
        "amount_fen": 100000,
        "transaction_id": None,
        "paid_at": None,
    }


def test_each_event_has_its_own_event_id(rig):
    _, receiver, _ = rig
    for number in ("CB8", "CB9"):
        paid(rig, number)
    received = wait_until(lambda: len(both := receiver.of("CB8") + receiver.of("CB9")) == 2 and both)
    assert len({r.body["event_id"] for r in received}) == 2


def test_paying_does_not_wait_for_the_receiver(rig):
    _, receiver, _ = rig
    receiver.delay = 1.0
    try:
        started = time.monotonic()
        paid(rig, "CB10")
        assert time.monotonic() - started < 0.8
        wait_until(lambda: receiver.of("CB10"))
    finally:
        receiver.delay = 0.0


def test_an_unreachable_receiver_is_retried():
    with serve(Receiver({}).app) as gone:
        pass  # nothing listens there any more
    with running_sandbox(SANDBOX_SPEEDUP=100000) as (tax_base, _app):
        create(tax_base, "U1", gone + NOTIFY_PATH)
        pay(tax_base, "U1").raise_for_status()
        attempts = wait_until(lambda: len(found := deliveries(tax_base, "U1")) >= 2 and found)
    assert attempts[0]["status"] == "error: ConnectionError"


def test_the_retry_schedule_is_the_contract_one():
    minutes = [0.25, 0.25, 0.5, 3, 10, 20, 30, 30, 30, 60, 180, 180, 180, 360, 360]
    assert list(SCHEDULE) == [m * 60 for m in minutes]


def test_delivery_stops_when_the_schedule_is_exhausted(tmp_path):
    with running_sandbox(SANDBOX_SPEEDUP=1_000_000) as (tax_base, _app):
        receiver = Receiver(public_keys_of(tax_base, tmp_path))
        with serve(receiver.app) as receiver_base:
            receiver.script("X1", *[500] * 100)
            create(tax_base, "X1", receiver_base + NOTIFY_PATH)
            pay(tax_base, "X1").raise_for_status()
            wait_until(lambda: len(deliveries(tax_base, "X1")) == 1 + len(SCHEDULE))
            time.sleep(0.2)
            attempts = deliveries(tax_base, "X1")
    assert [a["attempt"] for a in attempts] == list(range(1, 17))
    assert {a["status"] for a in attempts} == {500}


def test_stopping_cancels_pending_retries(tmp_path):
    with running_sandbox(SANDBOX_SPEEDUP=1) as (tax_base, app):
        receiver = Receiver(public_keys_of(tax_base, tmp_path))
        with serve(receiver.app) as receiver_base:
            receiver.script("X2", 500)
            create(tax_base, "X2", receiver_base + NOTIFY_PATH)
            pay(tax_base, "X2").raise_for_status()
            wait_until(lambda: deliveries(tax_base, "X2"))
            started = time.monotonic()
            stop_deliveries(app, timeout=2)
            assert time.monotonic() - started < 1
    assert len(receiver.of("X2")) == 1
