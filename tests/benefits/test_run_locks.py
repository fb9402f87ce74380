"""A benefits run never holds a row lock between its batches: order creation stays responsive (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests

from miniapp_api.benefits import monthly
from miniapp_api.core import batches
from miniapp_api.core.clock import clock
from models import Resident, db
from tests.support import factories
from tests.support.live_server import serve
from tests.support.miniapp import verified


@pytest.mark.postgres_only
def test_order_creation_is_answered_while_a_run_is_paused_between_batches(pg_app):
    headers, me = verified(pg_app.test_client(), "ordinary_1975")
    with pg_app.app_context():
        # The first batch starts this resident's benefits (an UPDATE of the row order creation locks).
        row = db.session.scalar(db.select(Resident).where(Resident.public_id == me["resident_id"]))
        row.birth_date, row.receiving_basic_pension = dt.date(1950, 1, 1), True
        for _ in range(3):
            factories.resident(birth_date=dt.date(1950, 1, 1), receiving_basic_pension=True)
        db.session.commit()
        month = dt.date(2027, 3, 1)
        run = monthly.Run(month, clock().now())
        ids = batches.id_batches(monthly.population(month), Resident.id, 1)
        running = batches.each_batch(batches.Summary("benefits run"), ids, lambda b: monthly.pay_batch(run, b))
        assert next(running)["started"] == 1  # paused after the first batch, which started `me`
        with serve(pg_app) as base:
            response = requests.post(
                f"{base}/api/v1/residents/{me['resident_id']}/contributions",
                json={"year": 2027, "tier_fen": 100000, "kind": "normal"},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                timeout=10,  # a lock held by the run would block this until the run ends
            )
        assert response.status_code == 201, response.text
        summary = list(running)[-1]
        assert (summary.batches, summary["started"]) == (4, 4)
