"""`/readyz` (database, schema at the migrations' head, Redis) and `/metrics` (Prometheus text format)."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from models import ReviewItem, db
from tests.support.constants import NOTIFY_PATH

ACCOUNT_RULE = "/api/v1/residents/<resident_id>/account"


def scrape(client, **kwargs) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# /readyz


def test_readyz_is_ready_when_the_database_is_migrated(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}


def test_readyz_reports_an_unreachable_database(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing-dir/x.sqlite3")
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert body["code"] == "not_ready" and {"database", "schema"} <= set(body["failed"])


def test_readyz_reports_a_database_never_migrated(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/empty.sqlite3")
    body = app.test_client().get("/readyz").get_json()
    assert body["status"] == 503 and body["code"] == "not_ready"
    assert set(body["failed"]) == {"schema"} and body["checks"]["database"] == "ok"
    assert "never migrated" in body["failed"]["schema"]


def test_readyz_reports_an_unreachable_redis(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    body = app.test_client().get("/readyz").get_json()
    assert body["status"] == 503 and body["code"] == "not_ready" and set(body["failed"]) == {"redis"}


def test_readyz_and_metrics_stay_out_of_the_api_document(client):
    paths = set(client.get("/api/v1/openapi.json").get_json()["paths"])
    assert not paths & {"/healthz", "/readyz", "/metrics"}


# /metrics


def test_requests_are_counted_by_route_not_path(client):
    before = scrape(client)
    statuses = {client.get(f"/api/v1/residents/{someone}/account").status_code for someone in ("r_one", "r_two")}
    assert len(statuses) == 1
    status = str(statuses.pop())
    samples = scrape(client)
    counted = value(samples, "http_requests_total", route=ACCOUNT_RULE, method="GET", status=status)
    assert counted - value(before, "http_requests_total", route=ACCOUNT_RULE, method="GET", status=status) == 2
    observed = value(samples, "http_request_duration_seconds_count", route=ACCOUNT_RULE, method="GET")
    assert observed - value(before, "http_request_duration_seconds_count", route=ACCOUNT_RULE, method="GET") == 2
    assert value(samples, "http_request_duration_seconds_bucket", route=ACCOUNT_RULE, method="GET", le="+Inf") >= 2
    assert not any("r_one" in str(labels) for _, labels in samples)


def test_callbacks_are_counted_by_outcome(client):
    before = value(scrape(client), "payment_callbacks_total", outcome="missing_headers")
    response = client.post(NOTIFY_PATH, data=b"{}", content_type="application/json")
    assert response.status_code >= 400
    assert value(scrape(client), "payment_callbacks_total", outcome="missing_headers") == before + 1


def test_open_review_items_are_counted_at_scrape(app, client):
    assert value(scrape(client), "review_items_open") == 0
    with app.app_context():
        db.session.add(
            ReviewItem(
                dedupe_key="amount_mismatch:o1:t1",
                kind="amount_mismatch",
                source="callback",
                out_order_no="o1",
                transaction_id="t1",
                detail={},
                created_at=dt.datetime(2027, 3, 2, tzinfo=dt.UTC),
            )
        )
        db.session.commit()
    assert value(scrape(client), "review_items_open") == 1


def test_a_batch_job_records_its_last_success(app, client):
    before = value(scrape(client), "batch_job_last_success_timestamp_seconds", job="payments_settle")
    result = app.test_cli_runner().invoke(args=["payments", "settle"])
    assert result.exit_code == 0, result.output
    samples = scrape(client)
    last = value(samples, "batch_job_last_success_timestamp_seconds", job="payments_settle")
    assert last > before and last > dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp()
    assert value(samples, "batch_job_duration_seconds", job="payments_settle") >= 0


def test_a_failed_batch_job_is_not_a_success(app, client):
    before = value(scrape(client), "batch_job_last_success_timestamp_seconds", job="benefits_run")
    result = app.test_cli_runner().invoke(args=["benefits", "run", "--month", "2099-01"])
    assert result.exit_code != 0
    assert value(scrape(client), "batch_job_last_success_timestamp_seconds", job="benefits_run") == before


# who may read /metrics


def test_without_a_token_only_loopback_reads_metrics(client):
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


@pytest.mark.parametrize("remote", ["127.0.0.1", "203.0.113.9"])
def test_with_a_token_metrics_require_it(make_app, remote):
    client = make_app(METRICS_TOKEN="s3cret-metrics-token").test_client()
    environ = {"REMOTE_ADDR": remote}
    assert client.get("/metrics", environ_base=environ).status_code == 404
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/metrics", headers=wrong, environ_base=environ).status_code == 404
    right = {"Authorization": "Bearer s3cret-metrics-token"}
    scrape(client, headers=right, environ_base=environ)
