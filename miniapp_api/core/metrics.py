"""`GET /metrics` (Prometheus text format) and the metrics the app and its batch jobs record.

Labels are bounded: a request is labelled by its URL rule (`/api/v1/residents/<resident_id>/account`),
never its path, so no personal data and no unbounded label values reach the scrape.

With `PROMETHEUS_MULTIPROC_DIR` set in the environment *before the process starts* (prometheus_client
reads it on import), every process (each gunicorn worker, each `flask ...` batch command) writes its
samples to files in that folder and a scrape adds them up (prometheus_client's multiprocess mode; see
gunicorn.conf.py). Without it, a scrape shows the default registry of the answering process only, and a
batch command's gauges end with its process.

Access: with `METRICS_TOKEN` set, only `Authorization: Bearer <token>`; without it, only loopback
addresses. Anyone else gets 404 not_found, as if there were no such page.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from miniapp_api.core.errors import ApiError

bp = Blueprint("metrics", __name__)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"  # no URL rule matched (a 404): the raw path is never a label

REQUESTS = Counter("http_requests_total", "HTTP requests answered.", ["route", "method", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Time to answer an HTTP request.", ["route", "method"])
CALLBACKS = Counter("payment_callbacks_total", "Tax bureau payment callbacks by outcome.", ["outcome"])
JOB_LAST_SUCCESS = Gauge(
    "batch_job_last_success_timestamp_seconds",
    "When each batch job last finished successfully (Unix time).",
    ["job"],
    multiprocess_mode="max",
)
JOB_DURATION = Gauge(
    "batch_job_duration_seconds",
    "How long the last successful run of each batch job took.",
    ["job"],
    multiprocess_mode="mostrecent",
)


def init_app(app: Flask) -> None:
    app.before_request(_started)
    app.after_request(_answered)
    app.register_blueprint(bp)


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _answered(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "OTHER"
    REQUESTS.labels(route, method, str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(route, method).observe(time.perf_counter() - started)
    return response


def count_callback(outcome: str) -> None:
    """One tax bureau callback answered, with its outcome (payments/outcomes.py: a bounded set)."""
    CALLBACKS.labels(str(outcome)).inc()


F = TypeVar("F", bound=Callable[..., Any])


def batch_job(job: str, *, success_codes: tuple[int, ...] = (0,)) -> Callable[[F], F]:
    """Record the job's last success and its duration when the command ends normally (or exits with one of
    `success_codes`: a run that completed and reports findings through its exit status)."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.time()
            try:
                result = command(*args, **kwargs)
            except SystemExit as exited:
                if _exit_code(exited.code) in success_codes:
                    _succeeded(job, started)
                raise
            except click.exceptions.Exit as exited:
                if exited.exit_code in success_codes:
                    _succeeded(job, started)
                raise
            _succeeded(job, started)
            return result

        return run  # type: ignore[return-value]

    return decorate


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _succeeded(job: str, started: float) -> None:
    finished = time.time()
    JOB_DURATION.labels(job).set(finished - started)
    JOB_LAST_SUCCESS.labels(job).set(finished)


class _Forward(Collector):
    """The process's default registry, inside the scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _ReviewItems(Collector):
    """`review_items_open`: counted in the database at scrape time (every item stays open until handled)."""

    def __init__(self, count: int):
        self.count = count

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("review_items_open", "Review items waiting for a person.", value=self.count)


def _open_review_items() -> int:
    from sqlalchemy import func, select

    from models import db
    from models.payment import ReviewItem

    return db.session.execute(select(func.count()).select_from(ReviewItem)).scalar_one()


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format; see the module's docstring for who may read it."""
    if not _allowed():
        raise ApiError(404, "not_found")
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward())
    registry.register(_ReviewItems(_open_review_items()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
