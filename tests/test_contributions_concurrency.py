"""Two phones (parent and child, or two of the parent's) pressing "pay" at the same instant (PostgreSQL)."""
import threading
import uuid

import pytest
import requests
import sqlalchemy as sa

from models import Order, db
from tests.helpers import verified
from tests.support.live_server import serve


@pytest.fixture
def pg_app(make_app, database_url):
    assert database_url.startswith("postgresql"), "mark the test postgres_only"
    return make_app()


def _fire_together(url: str, headers: dict, body: dict, count: int) -> list[int]:
    barrier, statuses = threading.Barrier(count), []

    def one():
        barrier.wait()
        response = requests.post(url, json=body, timeout=30,
                                 headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
        statuses.append((response.status_code, response.json().get("code")))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.postgres_only
@pytest.mark.parametrize("count", [2, 8])
def test_simultaneous_orders_create_exactly_one(pg_app, count):
    headers, me = verified(pg_app.test_client(), "ordinary_1975")
    with serve(pg_app) as base:
        statuses = _fire_together(f"{base}/api/v1/residents/{me['resident_id']}/contributions", headers,
                                  {"year": 2027, "tier_fen": 100000, "kind": "normal"}, count)
    assert sorted(statuses) == [(201, None)] + [(409, "order_pending")] * (count - 1)
    with pg_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1


def test_the_database_refuses_a_second_live_order_without_the_lock(app):
    """The unique partial index holds even if application code forgets the row lock (both databases)."""
    from tests import factories
    with app.app_context():
        resident = factories.resident()
        factories.paid_order(resident, year=2027)
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            factories.paid_order(resident, year=2027)
        db.session.rollback()
