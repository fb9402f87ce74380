"""IdentityClient over real HTTP: against the sandbox and against fakes of every failure mode."""

from __future__ import annotations

import pytest
from flask import request

from integrations.errors import UpstreamError
from integrations.identity import IdentityClient
from integrations.sandbox import demo_data
from tests.support.upstream import SHORT_TIMEOUT, TRANSPORT_FAILURES, full_text, sequence

WANG = demo_data.by_key("parent_1958")
UNENROLLED = demo_data.by_key("unenrolled_1992")


def client(base_url: str) -> IdentityClient:
    identity = IdentityClient(base_url, timeout=SHORT_TIMEOUT)
    identity.retry_pause = 0.01
    return identity


def failure(base_url: str) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        client(base_url).verify(WANG["id_number"], WANG["name"])
    assert (caught.value.code, caught.value.status) == ("identity_unavailable", 503)
    assert WANG["id_number"] not in full_text(caught.value)
    return caught.value


@pytest.mark.parametrize(
    "id_number, name, expected",
    [
        (WANG["id_number"], WANG["name"], "match"),
        (WANG["id_number"].lower(), WANG["name"], "match"),
        (demo_data.by_key("child_1985")["id_number"].lower(), "王丽", "match"),
        (WANG["id_number"], "王建军", "mismatch"),
        (UNENROLLED["id_number"], UNENROLLED["name"], "match"),
        (UNENROLLED["id_number"], "许文", "mismatch"),
        ("110101199003070035", "李四", "not_found"),
    ],
)
def test_sandbox_answers(sandbox_url, id_number, name, expected):
    assert client(f"{sandbox_url}/identity").verify(id_number, name) == expected


def test_every_demo_person_matches(sandbox_url):
    identity = client(f"{sandbox_url}/identity")
    people = demo_data.DEMO_RESIDENTS + demo_data.UNENROLLED
    assert {identity.verify(p["id_number"], p["name"]) for p in people} == {"match"}


def test_posts_the_documented_body(serve_fake):
    def answer():
        ok = request.path == "/v1/verify" and request.get_json() == {"id_number": "X1", "name": "N"}
        return {"result": "match" if ok else "not_found"}

    assert client(serve_fake(answer)).verify("X1", "N") == "match"


@pytest.mark.parametrize("mode", TRANSPORT_FAILURES)
def test_transport_failures(failing_url, mode):
    failure(failing_url(mode))


@pytest.mark.parametrize(
    "answer",
    [
        {"result": "maybe"},
        {"result": None},
        {"result": ["match"]},
        {"verdict": "match"},
        ({"error": "bad_request"}, 400),
        ({"result": "match"}, 404),
    ],
)
def test_unexpected_answers(serve_fake, answer):
    failure(serve_fake(lambda: answer))


@pytest.mark.parametrize("first", [("busy", 503), ("bad gateway", 502)])
def test_post_is_retried_after_a_gateway_error(serve_fake, first):
    answer = sequence(first, {"result": "mismatch"})
    assert client(serve_fake(answer)).verify(WANG["id_number"], "x") == "mismatch"
    assert len(answer.calls) == 2


def test_post_is_retried_after_a_lost_answer(serve_fake, release):
    calls = []

    def answer():
        calls.append(1)
        if len(calls) == 1:
            release.wait(5)  # beyond the read timeout: this answer is lost
        return {"result": "match"}

    assert client(serve_fake(answer)).verify(WANG["id_number"], WANG["name"]) == "match"
    assert len(calls) == 2


def test_retries_are_bounded(serve_fake):
    answer = sequence(("busy", 503))
    failure(serve_fake(answer))
    assert len(answer.calls) == 3
