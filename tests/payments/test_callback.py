"""The notify endpoint: signature over the raw bytes, key rotation, timestamp window, nonce replays,
strict body schema, the inbox (signed deliveries stored raw), the small records of unsigned ones, the
tax bureau's answer format, and real deliveries from the sandbox."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets

import pytest
import requests

from integrations import tax_signature
from integrations.tax_bureau import CHANNELS
from miniapp_api.core import devkeys
from miniapp_api.payments import callback
from models import RejectedDelivery, SeenNonce, db
from tests.support import payments as pf
from tests.support.database import counted
from tests.support.factories import pending_order, resident
from tests.support.live_server import serve
from tests.support.skipping import unavailable
from tests.support.waiting import wait_until


@pytest.fixture
def order_no(app) -> str:
    with app.app_context():
        order = pending_order(resident())
        db.session.commit()
        return order.order_no


def outcomes(app) -> list[str]:
    with app.app_context():
        return [delivery.outcome for delivery in pf.inbox()]


def rejected(app) -> list[tuple[str, int, str, str]]:
    """(reason, body_size, body_sha256, client_address) of the small records of unsigned deliveries."""
    with app.app_context():
        rows = db.session.execute(db.select(RejectedDelivery).order_by(RejectedDelivery.id)).scalars()
        return [(row.reason, row.body_size, row.body_sha256, row.client_address) for row in rows]


def reasons(app) -> list[str]:
    return [reason for reason, *_ in rejected(app)]


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def assert_refused(answer, status: int) -> None:
    assert answer.status_code == status
    assert answer.mimetype == "application/json"
    assert answer.get_json()["code"] == "FAIL" and answer.get_json()["message"]


def assert_not_credited(app, order_no: str) -> None:
    with app.app_context():
        assert pf.order(order_no).status == "pending"


def test_a_good_callback_is_answered_success_in_the_tax_bureau_format(client, key, order_no):
    answer = pf.post(client, key, pf.raw(pf.body(order_no)))
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_json() == {"code": "SUCCESS"}


def test_a_bad_signature_is_refused_and_leaves_only_a_small_record(app, client, key, order_no):
    payload = pf.raw(pf.body(order_no))
    headers = {**pf.signed(key, payload), "Tax-Signature": pf.signed(key, b"{}")["Tax-Signature"]}
    answer = client.post(pf.NOTIFY_PATH, data=payload, headers=headers, content_type="application/json")
    assert_refused(answer, 401)
    assert_not_credited(app, order_no)
    assert outcomes(app) == []  # neither its body nor its headers are kept
    assert rejected(app) == [("bad_signature", len(payload), sha256(payload), "127.0.0.1")]
    with app.app_context():
        (record,) = db.session.execute(db.select(RejectedDelivery)).scalars()
        assert record.received_at == pf.NOW


def test_one_altered_body_byte_breaks_the_signature(app, client, key, order_no):
    payload = pf.raw(pf.body(order_no))
    headers = pf.signed(key, payload)
    altered = payload.replace(b'"amount_fen":100000', b'"amount_fen":100001')
    assert altered != payload
    assert_refused(client.post(pf.NOTIFY_PATH, data=altered, headers=headers, content_type="application/json"), 401)
    assert (outcomes(app), reasons(app)) == ([], ["bad_signature"])


def test_the_signature_covers_the_raw_bytes_not_reserialised_json(app, client, key, order_no):
    spaced = json.dumps(pf.body(order_no), indent=2, ensure_ascii=False).encode("utf-8")
    assert pf.post(client, key, spaced).status_code == 200
    assert outcomes(app) == ["credited"]


def test_garbage_in_the_signature_header_is_refused(app, client, key, order_no):
    payload = pf.raw(pf.body(order_no))
    headers = {**pf.signed(key, payload), "Tax-Signature": "not base64 at all!"}
    assert_refused(client.post(pf.NOTIFY_PATH, data=payload, headers=headers, content_type="application/json"), 401)
    assert (outcomes(app), reasons(app)) == ([], ["bad_signature"])


def test_an_unknown_serial_is_refused(app, client, key, order_no):
    assert_refused(pf.post(client, key, pf.raw(pf.body(order_no)), serial="retired-0"), 401)
    assert (outcomes(app), reasons(app)) == ([], ["unknown_serial"])


def test_a_key_signing_under_another_serial_is_refused(app, client, order_no):
    stranger = tax_signature.generate_private_key()
    assert_refused(pf.post(client, stranger, pf.raw(pf.body(order_no))), 401)
    assert (outcomes(app), reasons(app)) == ([], ["bad_signature"])


def test_during_rotation_both_keys_are_trusted(make_app, keys, key, tmp_path):
    rotated = tax_signature.generate_private_key()
    path = tmp_path / "tax_public_keys.json"
    path.write_text(tax_signature.public_keys_json({devkeys.SANDBOX_TAX_SERIAL: key, "tax-2": rotated}))
    app = make_app(TAX_PUBLIC_KEYS=str(path))
    with app.app_context():
        first, second = pending_order(resident()), pending_order(resident())
        db.session.commit()
        numbers = first.order_no, second.order_no
    client = app.test_client()
    assert pf.post(client, key, pf.raw(pf.body(numbers[0]))).status_code == 200
    assert pf.post(client, rotated, pf.raw(pf.body(numbers[1])), serial="tax-2").status_code == 200
    assert_refused(pf.post(client, rotated, pf.raw(pf.body(numbers[1]))), 401)  # right key, wrong serial


def test_a_bad_key_file_stops_start_up(make_app, tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"tax-1": "not a pem"}')
    with pytest.raises(tax_signature.TaxKeyError):
        make_app(TAX_PUBLIC_KEYS=str(path))


@pytest.mark.parametrize("offset", [301, -301, 3600, -86400])
def test_a_timestamp_more_than_300_seconds_off_the_app_clock_is_refused(app, client, key, order_no, offset):
    assert_refused(pf.post(client, key, pf.raw(pf.body(order_no)), timestamp=pf.NOW_TS + offset), 401)
    assert outcomes(app) == ["stale_timestamp"]  # signed: stored raw in the inbox, as every signed delivery
    assert rejected(app) == []
    assert_not_credited(app, order_no)


@pytest.mark.parametrize("offset", [299, -299, 300, -300, 0])
def test_a_timestamp_within_300_seconds_is_accepted(client, key, order_no, offset):
    assert pf.post(client, key, pf.raw(pf.body(order_no)), timestamp=pf.NOW_TS + offset).status_code == 200


def test_a_replayed_nonce_is_refused(app, client, key, order_no):
    payload = pf.raw(pf.body(order_no))
    headers = pf.signed(key, payload)
    first, replay = (
        client.post(pf.NOTIFY_PATH, data=payload, headers=headers, content_type="application/json") for _ in range(2)
    )
    assert first.status_code == 200
    assert_refused(replay, 409)
    assert outcomes(app) == ["credited", "replayed_nonce"]


def test_a_nonce_is_claimed_only_after_the_signature_holds(app, client, key, order_no):
    payload = pf.raw(pf.body(order_no))
    headers = pf.signed(key, payload, nonce="n-forged-first")
    forged = {**headers, "Tax-Signature": pf.signed(key, b"x")["Tax-Signature"]}
    assert_refused(client.post(pf.NOTIFY_PATH, data=payload, headers=forged, content_type="application/json"), 401)
    answer = client.post(pf.NOTIFY_PATH, data=payload, headers=headers, content_type="application/json")
    assert answer.status_code == 200
    assert (outcomes(app), reasons(app)) == (["credited"], ["bad_signature"])


def test_the_database_nonce_store_forgets_nonces_after_ten_minutes(app, client, key, order_no):
    payload = pf.raw(pf.body(order_no))
    headers = pf.signed(key, payload, nonce="n-old")
    answer = client.post(pf.NOTIFY_PATH, data=payload, headers=headers, content_type="application/json")
    assert answer.status_code == 200
    later = pf.NOW + dt.timedelta(seconds=601)
    app.extensions["clock"].freeze(later)
    again = pf.signed(key, payload, nonce="n-old", timestamp=int(later.timestamp()))
    assert client.post(pf.NOTIFY_PATH, data=payload, headers=again, content_type="application/json").status_code == 200
    with app.app_context():
        rows = db.session.execute(db.select(SeenNonce.seen_at)).scalars().all()
        assert rows == [later]  # the old row was cleaned up


def test_nonces_are_shared_through_redis_when_configured(make_app, key):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.RedisError:
        unavailable("no Redis at 127.0.0.1:6379")
    first, second = (make_app(REDIS_URL="redis://127.0.0.1:6379/0") for _ in range(2))  # two "workers"
    with first.app_context():
        number = pending_order(resident()).order_no
        db.session.commit()
    payload = pf.raw(pf.body(number))
    headers = pf.signed(key, payload, nonce=f"n-redis-{secrets.token_hex(8)}")
    answers = [
        app.test_client().post(pf.NOTIFY_PATH, data=payload, headers=headers, content_type="application/json")
        for app in (first, second)
    ]
    assert [a.status_code for a in answers] == [200, 409]
    with first.app_context():
        assert db.session.execute(db.select(SeenNonce)).first() is None  # Redis, not the table


@pytest.mark.parametrize("name", ["Tax-Timestamp", "Tax-Nonce", "Tax-Serial", "Tax-Signature"])
def test_missing_tax_headers_are_refused_with_a_small_record(app, client, key, order_no, name):
    payload = pf.raw(pf.body(order_no))
    headers = pf.signed(key, payload)
    del headers[name]
    answer = client.post(pf.NOTIFY_PATH, data=payload, headers=headers, content_type="application/json")
    assert_refused(answer, 400)
    assert name in answer.get_json()["message"]
    assert outcomes(app) == []
    assert rejected(app) == [("missing_headers", len(payload), sha256(payload), "127.0.0.1")]


def test_an_overlong_nonce_is_refused_with_a_small_record(app, client, key, order_no):
    payload = pf.raw(pf.body(order_no))
    assert_refused(pf.post(client, key, payload, nonce="n" * 129), 400)
    assert (outcomes(app), reasons(app)) == ([], ["missing_headers"])


def test_no_headers_at_all_leave_a_small_record(app, client):
    assert_refused(client.post(pf.NOTIFY_PATH, data=b"hello"), 400)
    assert (outcomes(app), rejected(app)) == ([], [("missing_headers", 5, sha256(b"hello"), "127.0.0.1")])


def test_the_record_keeps_the_client_address(app, key, order_no):
    client = app.test_client()
    payload = pf.raw(pf.body(order_no))
    headers = {**pf.signed(key, payload), "Tax-Signature": "AAAA"}
    for address in ("203.0.113.7", "2001:db8::1"):
        answer = client.post(pf.NOTIFY_PATH, data=payload, headers=headers, environ_base={"REMOTE_ADDR": address})
        assert_refused(answer, 401)
    assert [row[3] for row in rejected(app)] == ["203.0.113.7", "2001:db8::1"]


def without(fields: dict, name: str) -> dict:
    return {key: value for key, value in fields.items() if key != name}


MALFORMED = {
    "amount as float": lambda b: {**b, "amount_fen": 100000.0},
    "amount as string": lambda b: {**b, "amount_fen": "100000"},
    "amount as bool": lambda b: {**b, "amount_fen": True},
    "amount zero": lambda b: {**b, "amount_fen": 0},
    "amount negative": lambda b: {**b, "amount_fen": -100000},
    "amount missing": lambda b: without(b, "amount_fen"),
    "unknown status": lambda b: {**b, "status": "REFUNDED"},
    "lowercase status": lambda b: {**b, "status": "success"},
    "unknown channel": lambda b: {**b, "channel": "alipay"},
    "unknown field": lambda b: {**b, "extra": 1},
    "no event id": lambda b: without(b, "event_id"),
    "no out_order_no": lambda b: without(b, "out_order_no"),
    "success without transaction": lambda b: {**b, "transaction_id": None},
    "success without paid_at": lambda b: {**b, "paid_at": None},
    "success without channel": lambda b: {**b, "channel": None},
    "paid_at without offset": lambda b: {**b, "paid_at": "2027-03-02T09:58:00"},
    "paid_at not a date": lambda b: {**b, "paid_at": "yesterday"},
    "out_order_no too long": lambda b: {**b, "out_order_no": "S" * 65},
    "out_order_no a number": lambda b: {**b, "out_order_no": 12345},
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_body_not_in_the_schema_is_refused_and_stored(app, client, key, order_no, change):
    payload = pf.raw(change(pf.body(order_no)))
    assert_refused(pf.post(client, key, payload), 400)
    assert_not_credited(app, order_no)
    with app.app_context():
        (delivery,) = pf.inbox()
        assert (delivery.outcome, delivery.raw_body) == ("invalid_body", payload)


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b"[1, 2]", b"null", b'"SUCCESS"', b"\xff\xfe{}", b'{"event_id": "evt_1", "amount_fen": NaN}'],
)
def test_a_body_that_is_not_a_json_object_is_refused_and_stored(app, client, key, payload):
    assert_refused(pf.post(client, key, payload), 400)
    with app.app_context():
        (delivery,) = pf.inbox()
        assert (delivery.outcome, delivery.raw_body) == ("invalid_body", payload)


def test_a_closed_callback_may_carry_nulls(app, client, key, order_no):
    fields = pf.body(order_no, status="CLOSED")
    assert fields["transaction_id"] is None and fields["paid_at"] is None and fields["channel"] is None
    assert pf.post(client, key, pf.raw(fields)).status_code == 200


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_contract_channel_is_accepted(app, client, key, channel):
    with app.app_context():
        number = pending_order(resident()).order_no
        db.session.commit()
    assert pf.post(client, key, pf.raw(pf.body(number, channel=channel))).status_code == 200
    with app.app_context():
        assert pf.order(number).channel == channel


def test_an_oversized_body_is_refused_unread(app, client, key):
    payload = b"{" + b" " * 70000 + b"}"
    assert_refused(pf.post(client, key, payload), 413)  # even signed: nobody checks an unread body
    assert outcomes(app) == []
    assert rejected(app) == [("invalid_body", len(payload), sha256(b""), "127.0.0.1")]  # the declared length


def test_a_declared_length_beyond_the_column_is_recorded_as_the_largest(app, client):
    answer = client.post(pf.NOTIFY_PATH, data=b"{}", environ_overrides={"CONTENT_LENGTH": str(10**12)})
    assert_refused(answer, 413)
    assert reasons(app) == ["invalid_body"] and rejected(app)[0][1] == 2**31 - 1


def test_an_oversized_chunked_body_is_refused_too(app, key):
    chunks = (b" " * 8192 for _ in range(10))  # no Content-Length: Transfer-Encoding chunked
    with serve(app) as base:
        answer = requests.post(base + pf.NOTIFY_PATH, data=chunks, headers=pf.signed(key, b"{}"), timeout=10)
    assert answer.status_code == 413 and answer.json()["code"] == "FAIL"
    assert outcomes(app) == []
    cut = b" " * (callback.MAX_BODY + 1)  # read up to one byte past the limit, then no further
    assert rejected(app) == [("invalid_body", len(cut), sha256(cut), "127.0.0.1")]


def test_the_endpoint_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"][pf.NOTIFY_PATH]["post"]
    assert {"200", "400", "401", "404", "409", "413", "429", "500"} <= set(operation["responses"])
    assert "Retry-After" in operation["responses"]["429"]["headers"]


# --- Real deliveries: the sandbox pays and calls a served app back over HTTP ----------------------


def sandbox_order(app, notify_url: str) -> str:
    """A pending order here and the same order at the sandbox tax bureau."""
    with app.app_context():
        order_no = pending_order(resident()).order_no
        db.session.commit()
        pf.tax_order(order_no, notify_url=notify_url)
        return order_no


def attempts(sandbox: str, out_order_no: str) -> list[dict]:
    return requests.get(f"{sandbox}/tax/control/deliveries", params={"out_order_no": out_order_no}, timeout=5).json()


def test_the_sandbox_callback_credits_once_even_when_delivered_twice(app, sandbox):
    with serve(app) as base:
        order_no = sandbox_order(app, base + pf.NOTIFY_PATH)
        requests.post(f"{sandbox}/tax/control/faults", json={"duplicate_next": 1}, timeout=5).raise_for_status()
        pf.pay_at(sandbox, order_no, "e_tax")
        found = wait_until(lambda: len(a := attempts(sandbox, order_no)) >= 2 and a)
    assert [(a["status"], a["duplicate"]) for a in found] == [(200, False), (200, True)]
    with app.app_context():
        order = pf.order(order_no)
        assert (order.status, order.channel) == ("paid", "e_tax") and len(pf.entries(order.id)) == 2
        assert [d.outcome for d in pf.inbox()] == ["credited", "duplicate"]


def test_a_payment_is_credited_in_four_statements_and_a_duplicate_in_two(app, client, key, order_no):
    """Each statement is a round trip of worker and database CPU: the order with its resident and the
    transaction check in one, the order marked paid with the account's closed check in one, the entries
    in one, the inbox row (after the nonce)."""
    payload = pf.raw(pf.body(order_no))
    with app.app_context():  # the engine's first connection sets up the dialect: not the callback's doing
        db.session.execute(db.select(1))
    with counted(app) as credited:
        assert pf.post(client, key, payload).status_code == 200
    with counted(app) as duplicate:
        assert pf.post(client, key, payload).status_code == 200
    assert outcomes(app) == ["credited", "duplicate"]
    with app.app_context():
        if db.engine.dialect.name == "postgresql":  # the resident first: the order every path locks in
            assert all("FOR UPDATE OF residents, orders" in s for s in (credited[-4], duplicate[-2])), credited
    credited, duplicate = (_touched(statements) for statements in (credited, duplicate))
    assert credited == [
        ("SELECT", "orders"),
        ("UPDATE", "orders"),
        ("INSERT", "ledger_entries"),
        ("INSERT", "callback_deliveries"),
    ]
    assert duplicate == [("SELECT", "orders"), ("INSERT", "callback_deliveries")]


def test_a_payments_entries_go_in_one_multi_row_insert(app, client, key, order_no):
    """Not an executemany of one row each, which psycopg sends as one INSERT per entry (pipelined): one
    statement with a row of VALUES per entry, one round trip."""
    with counted(app) as calls:
        assert pf.post(client, key, pf.raw(pf.body(order_no))).status_code == 200
    [entries] = [statement for statement in calls if statement.startswith("INSERT INTO ledger_entries")]
    assert entries.count("), (") == 1, entries  # the personal contribution and the government subsidy


def _touched(statements: list[str]) -> list[tuple[str, str]]:
    """(verb, first table) of each statement, the nonce store's left out (Redis in production)."""
    touched = [(s.split()[0], re.search(r"(?:FROM|INTO|UPDATE)\s+(\w+)", s).group(1)) for s in statements]
    return [(verb, table) for verb, table in touched if table != "seen_nonces"]
