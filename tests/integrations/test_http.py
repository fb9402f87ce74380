"""The one retry layer of every client (integrations/http.py): what is repeated, how often, within what deadline,
and what each call carries from the request being served (integrations/outbound.py)."""

from __future__ import annotations

import threading
import time

import pytest
from flask import jsonify, request

from integrations import outbound
from integrations.errors import UpstreamError
from integrations.http import RETRIES, HttpClient
from tests.support.upstream import closed_port_url, sequence


def client(base_url: str, deadline: float = 10.0) -> HttpClient:
    http = HttpClient(base_url, timeout=(1, 0.3))
    http.retry_pause, http.deadline = 0.01, deadline
    return http


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_read_is_tried_once_more_per_retry_and_no_more(serve_fake, method):
    answer = sequence(("busy", 503))
    response = client(serve_fake(answer)).request(method, "/thing")
    assert response.status_code == 503  # the last answer is the caller's to judge
    assert len(answer.calls) == 1 + RETRIES  # not RETRIES² (no second layer underneath)


def test_a_post_is_sent_once_unless_the_caller_says_it_may_be_repeated(serve_fake):
    answer = sequence(("bad gateway", 502), ("bad gateway", 502), {"ok": True})
    base = serve_fake(answer)
    assert client(base).request("POST", "/thing", json={}).status_code == 502
    assert len(answer.calls) == 1
    assert client(base).request("POST", "/thing", repeatable=True, json={}).status_code == 200
    assert len(answer.calls) == 3


def test_a_get_that_is_not_repeatable_is_sent_once(serve_fake):
    answer = sequence(("busy", 503))
    client(serve_fake(answer)).request("GET", "/thing", repeatable=False)
    assert len(answer.calls) == 1


def test_a_refused_connection_is_tried_again_then_reported_as_unavailable():
    with pytest.raises(UpstreamError) as caught:
        client(closed_port_url()).request("GET", "/thing")
    assert (caught.value.code, caught.value.status) == ("upstream_unavailable", 503)


def test_slow_answers_stop_at_the_calls_deadline(serve_fake, release):
    calls = []

    def slow():
        calls.append(time.monotonic())
        release.wait(5)
        return jsonify({})

    started = time.monotonic()
    with pytest.raises(UpstreamError):
        client(serve_fake(slow), deadline=1.0).request("GET", "/thing")
    # Each attempt waits its 0.3 s read timeout; a third would not fit in the 1 s and is not started.
    assert len(calls) < 1 + RETRIES
    assert time.monotonic() - started < 1.0


def test_the_request_budget_shortens_every_call_inside_it(serve_fake):
    answer = sequence({"ok": True})
    token = outbound.begin("req-1", time.monotonic() + 0.1)  # less than one attempt's minimum
    try:
        with pytest.raises(UpstreamError) as caught:
            client(serve_fake(answer)).request("GET", "/thing")
    finally:
        outbound.end(token)
    assert "deadline" in str(caught.value)
    assert answer.calls == []  # nothing was sent that could not finish in time


def test_the_request_id_travels_with_every_call(serve_fake):
    seen: list[str | None] = []
    lock = threading.Lock()

    def record():
        with lock:
            seen.append(request.headers.get("X-Request-ID"))
        return jsonify({})

    base = serve_fake(record)
    client(base).request("GET", "/outside-a-request")
    token = outbound.begin("4f1c2a", None)
    try:
        client(base).request("GET", "/inside-a-request")
    finally:
        outbound.end(token)
    assert seen == [None, "4f1c2a"]
