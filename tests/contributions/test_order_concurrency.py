"""Two phones (parent and child, or two of the parent's) pressing "pay" at the same instant (PostgreSQL)."""

import uuid

import pytest
import requests
import sqlalchemy as sa

from models import Order, db
from tests.support import factories
from tests.support.concurrency import at_once
from tests.support.live_server import serve
from tests.support.miniapp import verified


def _fire_together(url: str, headers: dict, body: dict, count: int) -> list[tuple[int, str | None]]:
    def one():
        response = requests.post(url, json=body, timeout=30, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
        return response.status_code, response.json().get("code")

    return at_once([one] * count)


@pytest.mark.postgres_only
@pytest.mark.parametrize("count", [2, 8])
def test_simultaneous_orders_create_exactly_one(pg_app, count):
    headers, me = verified(pg_app.test_client(), "ordinary_1975")
    with serve(pg_app) as base:
        statuses = _fire_together(
            f"{base}/api/v1/residents/{me['resident_id']}/contributions",
            headers,
            {"year": 2027, "tier_fen": 100000, "kind": "normal"},
            count,
        )
    assert sorted(statuses) == [(201, None)] + [(409, "order_pending")] * (count - 1)
    with pg_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1


def test_the_database_refuses_a_second_live_order_without_the_lock(app):
    """The unique partial index holds even if application code forgets the row lock (both databases)."""
    with app.app_context():
        resident = factories.resident()
        factories.paid_order(resident, year=2027)
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            factories.paid_order(resident, year=2027)
        db.session.rollback()
