"""Deliveries whose signature does not verify cost a few hundred bytes at most, whatever their size, and
the notify path is throttled per client address (INTEGRATIONS.md §4, last rule).

The storage test goes over real HTTP (werkzeug parses the 50 headers of 4 KiB) from loopback source
addresses that each stay well inside the throttle (at most 150 requests), so it measures storage only.
"""

from __future__ import annotations

import base64
import os
import secrets

import pytest
import sqlalchemy as sa

from miniapp_api.payments import callback
from models import CallbackDelivery, RejectedDelivery, db
from tests.support import payments as pf
from tests.support.factories import pending_order, resident
from tests.support.live_server import serve
from tests.support.loopback import send

REQUESTS, WARM_UP = 300, 100
ONE_OFF = 4 * 8192  # PostgreSQL: the free-space map (3 pages) and the first index pages, once per table
BODY = 64 * 1024
PADDING = {f"X-Padding-{n:02d}": secrets.token_urlsafe(3072) for n in range(50)}  # 50 headers of 4 KiB
BYTES_PER_REQUEST = 300  # the bound: row data, and what the tables grow by


def unsigned(n: int) -> tuple[bytes, dict[str, str], str]:
    """The n-th forged delivery: a 64 KiB body (one byte more: oversized), big headers; and its reason."""
    body = os.urandom(BODY + (n % 4 == 3))
    tax_headers = {
        "Tax-Timestamp": str(pf.NOW_TS),
        "Tax-Nonce": secrets.token_hex(64),
        "Tax-Serial": pf.SERIAL,
        "Tax-Signature": base64.b64encode(os.urandom(3000)).decode(),
    }
    kind = n % 4
    if kind == 0:
        return body, {**PADDING, "Content-Type": "application/json"}, "missing_headers"
    if kind == 1:
        return body, {**PADDING, **tax_headers, "Tax-Serial": secrets.token_hex(2000)}, "unknown_serial"
    return body, {**PADDING, **tax_headers}, "bad_signature" if kind == 2 else "invalid_body"


def stored_bytes(app) -> int:
    """What the database holds for the inbox: the two tables' total relation size on PostgreSQL (heap,
    TOAST, indexes and their other forks), the database file's pages on SQLite."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            query = (
                "SELECT pg_total_relation_size('rejected_deliveries') + pg_total_relation_size('callback_deliveries')"
            )
            return db.session.execute(sa.text(query)).scalar_one()
        pages = db.session.execute(sa.text("PRAGMA page_count")).scalar_one()
        return pages * db.session.execute(sa.text("PRAGMA page_size")).scalar_one()


def row_bytes(app) -> list[int]:
    """The stored size of each `rejected_deliveries` row: `pg_column_size` of the row on PostgreSQL;
    on SQLite the length of each column's value, 8 bytes for each integer."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            query = "SELECT pg_column_size(r.*) FROM rejected_deliveries r ORDER BY id"
        else:
            columns = ("received_at", "client_address", "body_sha256", "reason")
            lengths = " + ".join(f"length(CAST({name} AS BLOB))" for name in columns)
            query = f"SELECT {lengths} + 16 FROM rejected_deliveries ORDER BY id"
        return list(db.session.execute(sa.text(query)).scalars())


def post_unsigned(base: str, numbers: range, sources: tuple[str, ...]) -> list[tuple[int, str, int, str]]:
    """Post the forged deliveries `numbers` over HTTP, each from the next source address in turn;
    (status, reason, body size, source) of each."""
    sent = []
    for n in numbers:
        body, headers, reason = unsigned(n)
        source = sources[n % len(sources)]
        answer = send(base, "POST", pf.NOTIFY_PATH, source=source, body=body, headers=headers)
        assert answer.json()["code"] == "FAIL" and answer.json()["message"]
        sent.append((answer.status, reason, len(body), source))
    return sent


def test_hundreds_of_big_unsigned_deliveries_grow_the_database_by_a_few_hundred_bytes_each(app):
    """300 deliveries of 64 KiB and 50 headers of 4 KiB each (264 KiB a request) cost ≤ 300 bytes each.

    Measured over the 300 after a warm-up of 100: a table's first pages (PostgreSQL: the heap's
    free-space map, 3 pages, and each index's first leaf) are allocated once, not per request; the
    warm-up's own growth is bounded too, by 300 bytes each plus those one-off pages.
    """
    start = stored_bytes(app)
    with serve(app) as base:
        warm_up = post_unsigned(base, range(WARM_UP), ("127.0.0.4",))
        before = stored_bytes(app)
        sent = post_unsigned(base, range(WARM_UP, WARM_UP + REQUESTS), ("127.0.0.2", "127.0.0.3"))
    grown, sizes = stored_bytes(app) - before, row_bytes(app)
    dialect = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
    print(
        f"\n{dialect}: {REQUESTS} unsigned deliveries of {BODY + sum(map(len, PADDING.values())):,} bytes each"
        f" grew the inbox by {grown:,} bytes ({grown / REQUESTS:.0f} per request; warm-up {before - start:,});"
        f" rows {min(sizes)}-{max(sizes)} bytes, mean {sum(sizes) / len(sizes):.0f}"
    )
    assert {status for status, *_ in warm_up + sent} == {400, 401, 413}
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(CallbackDelivery)).scalar_one() == 0
        rows = db.session.execute(sa.select(RejectedDelivery).order_by(RejectedDelivery.id)).scalars().all()
        assert [(row.reason, row.body_size, row.client_address) for row in rows] == [
            (reason, size, source) for _, reason, size, source in warm_up + sent
        ]
    assert len(sizes) == WARM_UP + REQUESTS and max(sizes) <= BYTES_PER_REQUEST
    assert grown <= REQUESTS * BYTES_PER_REQUEST
    assert before - start <= WARM_UP * BYTES_PER_REQUEST + ONE_OFF


# --- The throttle -------------------------------------------------------------------------------


ATTACKER, NEIGHBOUR, TAX_BUREAU = "198.51.100.66", "198.51.100.67", "203.0.113.10"


@pytest.fixture
def order_no(app) -> str:
    with app.app_context():
        order = pending_order(resident())
        db.session.commit()
        return order.order_no


def post_from(client, address: str, payload: bytes, headers: dict[str, str]):
    return client.post(
        pf.NOTIFY_PATH,
        data=payload,
        headers=headers,
        content_type="application/json",
        environ_base={"REMOTE_ADDR": address},
    )


def forged() -> dict[str, str]:
    return {
        "Tax-Timestamp": str(pf.NOW_TS),
        "Tax-Nonce": secrets.token_hex(8),
        "Tax-Serial": pf.SERIAL,
        "Tax-Signature": "AAAA",
    }


def counts(app) -> tuple[int, int]:
    """(rejected_deliveries rows, callback_deliveries rows)."""
    with app.app_context():
        return tuple(
            db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (RejectedDelivery, CallbackDelivery)
        )


def test_the_notify_path_is_throttled_per_client_address(app, client, key, order_no):
    statuses = [post_from(client, ATTACKER, b"{}", forged()).status_code for _ in range(callback.NOTIFY_PER_MINUTE)]
    assert statuses == [401] * callback.NOTIFY_PER_MINUTE
    refused = post_from(client, ATTACKER, b"{}", forged())
    assert refused.status_code == 429 and refused.mimetype == "application/json"
    assert refused.get_json()["code"] == "FAIL" and refused.get_json()["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert counts(app) == (callback.NOTIFY_PER_MINUTE, 0)  # refused before anything was written
    assert post_from(client, ATTACKER, b"x" * (BODY + 1), forged()).status_code == 429  # oversized alike
    # Another address is served as before, and the tax bureau is never refused: not from its own
    # address, and not even from the attacker's (a shared NAT or proxy), since its deliveries verify.
    assert post_from(client, NEIGHBOUR, b"{}", forged()).status_code == 401
    with app.app_context():
        second = pending_order(resident()).order_no
        db.session.commit()
    for address, number in ((TAX_BUREAU, order_no), (ATTACKER, second)):
        payload = pf.raw(pf.body(number))
        answer = post_from(client, address, payload, pf.signed(key, payload))
        assert (answer.status_code, answer.get_json()) == (200, {"code": "SUCCESS"})
    assert counts(app) == (callback.NOTIFY_PER_MINUTE + 1, 2)
    with app.app_context():
        assert [row.client_address for row in db.session.execute(sa.select(RejectedDelivery)).scalars()][
            -1
        ] == NEIGHBOUR


def test_copies_of_a_signed_delivery_count_against_their_address_too(app, client, key, order_no, monkeypatch):
    """A replayed or stale copy of a real delivery is stored raw (it verifies), so it is throttled too."""
    monkeypatch.setattr(callback, "NOTIFY_PER_MINUTE", 3)
    payload = pf.raw(pf.body(order_no))
    captured, stale = pf.signed(key, payload), pf.signed(key, payload, timestamp=pf.NOW_TS - 3600)
    assert post_from(client, TAX_BUREAU, payload, captured).status_code == 200
    statuses = [post_from(client, ATTACKER, payload, headers).status_code for headers in (captured, stale, captured)]
    assert statuses == [409, 401, 409]
    assert post_from(client, ATTACKER, payload, captured).status_code == 429
    assert post_from(client, ATTACKER, payload, stale).status_code == 429
    assert post_from(client, ATTACKER, b"{}", forged()).status_code == 429  # one budget per address
    assert [d.outcome for d in _inbox(app)] == ["credited", "replayed_nonce", "stale_timestamp", "replayed_nonce"]
    assert post_from(client, NEIGHBOUR, payload, captured).status_code == 409


def test_fresh_signed_deliveries_are_never_counted(app, client, key, monkeypatch):
    monkeypatch.setattr(callback, "NOTIFY_PER_MINUTE", 2)
    with app.app_context():
        numbers = [pending_order(resident()).order_no for _ in range(5)]
        db.session.commit()
    for number in numbers:
        payload = pf.raw(pf.body(number, status="CLOSED"))
        assert post_from(client, TAX_BUREAU, payload, pf.signed(key, payload)).status_code == 200
    statuses = [post_from(client, TAX_BUREAU, b"{}", forged()).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_a_failure_before_the_signature_holds_leaves_only_a_small_record(app, client, key, order_no, monkeypatch):
    def broken(*_):
        raise RuntimeError("the verifier broke")

    monkeypatch.setattr(callback.tax_signature, "verify", broken)
    payload = pf.raw(pf.body(order_no))
    answer = post_from(client, ATTACKER, payload, pf.signed(key, payload))
    assert answer.status_code == 500 and answer.get_json()["code"] == "FAIL"
    assert counts(app) == (1, 0)
    with app.app_context():
        (row,) = db.session.execute(sa.select(RejectedDelivery)).scalars()
        assert (row.reason, row.body_size, row.client_address) == ("error", len(payload), ATTACKER)


def _inbox(app) -> list[CallbackDelivery]:
    with app.app_context():
        return pf.inbox()
