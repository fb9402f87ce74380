"""Hostile request bodies (API.md conventions): 413 `payload_too_large` over 64 KiB on every route,
422 `invalid_body` for JSON that is malformed, not UTF-8, nested deeper than 32 levels or carrying a
number outside ±2^53, 415 `unsupported_media_type` for a body that is not JSON; never a 500.

The JSON cases run on every operation of the OpenAPI document that reads a JSON body (the lists below
are checked against the document), each limit next to the value just inside it, which the JSON layer
lets through to the route's schema (422 `validation_error`). The tax bureau callback answers in its
own format: see the end. Each test runs all its cases and reports every one that went wrong.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from miniapp_api.core.bodies import MAX_BODY
from models import db
from tests.support import factories
from tests.support.constants import NOTIFY_PATH
from tests.support.live_server import serve
from tests.support.problems import assert_problem

# The operations that read a JSON body, and the others; test_the_route_lists_are_the_documented_ones
# keeps both complete.
JSON_ROUTES = [
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/real-name",
    "POST /api/v1/family/links",
    "POST /api/v1/residents/{resident_id}/contributions",
    "POST /api/v1/residents/{resident_id}/certificates",
]
OTHER_ROUTES = [
    "GET /api/v1/me",
    "GET /api/v1/residents/{resident_id}/account",
    "GET /api/v1/residents/{resident_id}/ledger",
    "GET /api/v1/residents/{resident_id}/benefits",
    "GET /api/v1/residents/{resident_id}/contribution-options",
    "GET /api/v1/orders/{order_no}",
    "GET /api/v1/family/links",
    "POST /api/v1/family/links/{link_id}/approve",
    "DELETE /api/v1/family/links/{link_id}",
    "GET /api/v1/certificates/{certificate_no}.pdf",
    "GET /api/v1/certificates/{certificate_no}/qr.png",
    "GET /api/v1/verify/{token}",
    "GET /api/v1/messages",
]
SELF_LIMITED = [f"POST {NOTIFY_PATH}"]  # the tax bureau callback: its own format and limit
UNDOCUMENTED = [
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /api/v1/openapi.json",
    "GET /api/v1/docs",
    "PUT /api/v1/no-such-route",
]
SAFE = 2**53
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def padded(size: int) -> bytes:
    """A JSON array of exactly `size` bytes (well-formed, but no route's body is an array)."""
    return b"[" + b" " * (size - 2) + b"]"


def mismatch(response, status: int, code: str) -> str | None:
    """None if `response` is this problem (with the code's Chinese detail), else what it was."""
    try:
        body = assert_problem(response, status, code)
    except AssertionError as error:
        return str(error).splitlines()[0][:300]
    if code in ("payload_too_large", "invalid_body", "unsupported_media_type") and not CHINESE.search(body["detail"]):
        return f"detail not in Chinese: {body['detail']!r}"
    return None


def assert_all(results: dict[str, str | None]) -> None:
    failed = {case: why for case, why in results.items() if why is not None}
    assert not failed, "\n".join(f"{case}: {why}" for case, why in failed.items())


@pytest.fixture
def caller(app):
    """`call(route, body, content_type)`: the route's request as a verified resident acting for themself."""
    with app.app_context():
        owner = factories.resident()
        headers = {**factories.auth_header(factories.user(owner)), "Idempotency-Key": "inputs-1"}
        resident_id = owner.public_id
        db.session.commit()
    client = app.test_client()

    def call(route: str, body: bytes | None, content_type: str | None = "application/json"):
        method, template = route.split(" ")
        path = re.sub(r"\{(\w+)\}", lambda m: resident_id if m.group(1) == "resident_id" else "x1", template)
        kwargs: dict = {"data": body} if body is not None else {}
        if content_type is not None:
            kwargs["content_type"] = content_type
        return client.open(path, method=method, headers=headers, **kwargs)

    return call


def test_the_route_lists_are_the_documented_ones(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operations = {
        f"{method.upper()} {path}": operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }
    reading_json = {label for label, operation in operations.items() if "requestBody" in operation}
    assert reading_json - set(SELF_LIMITED) == set(JSON_ROUTES)
    assert set(operations) - reading_json == set(OTHER_ROUTES)


# --- Size: every route ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", JSON_ROUTES + OTHER_ROUTES + UNDOCUMENTED)
def test_a_body_over_64_kib_is_413_on_every_route(caller, route):
    sizes = {"64 KiB + 1": MAX_BODY + 1, "65 KiB": 65 * 1024, "1 MiB": 1024 * 1024}
    assert_all({name: mismatch(caller(route, padded(size)), 413, "payload_too_large") for name, size in sizes.items()})


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_a_body_of_64_kib_is_read(caller, route):
    sizes = {"64 KiB - 1": MAX_BODY - 1, "64 KiB": MAX_BODY}
    assert_all({name: mismatch(caller(route, padded(size)), 422, "validation_error") for name, size in sizes.items()})


@pytest.mark.parametrize("route", OTHER_ROUTES)
def test_a_body_of_64_kib_is_no_error_where_none_is_read(caller, route):
    assert caller(route, padded(MAX_BODY)).status_code < 500


def _chunks(size: int, piece: int = 8192):
    """`size` bytes of a JSON array in pieces: requests sends them chunked, without Content-Length."""
    body = padded(size)
    return (body[start : start + piece] for start in range(0, size, piece))


def test_a_chunked_body_without_content_length_is_bounded_too(app):
    with app.app_context():
        owner = factories.resident()
        headers = {**factories.auth_header(factories.user(owner)), "Content-Type": "application/json"}
        resident_id = owner.public_id
        db.session.commit()
    cases = {
        f"{size} bytes to {path}": (path.replace("{resident_id}", resident_id), size, status, code)
        for path in ("/api/v1/auth/login", "/api/v1/residents/{resident_id}/certificates", "/api/v1/me")
        for size, status, code in ((MAX_BODY + 1, 413, "payload_too_large"), (2 * MAX_BODY, 413, "payload_too_large"))
    }
    cases["a chunked 64 KiB body is read"] = ("/api/v1/auth/login", MAX_BODY, 422, "validation_error")
    results = {}
    with serve(app) as base:
        for case, (path, size, status, code) in cases.items():
            response = requests.post(base + path, data=_chunks(size), headers=headers, timeout=10)
            assert "Content-Length" not in response.request.headers and response.request.headers["Transfer-Encoding"]
            results[case] = _http_mismatch(response, status, code)
    assert_all(results)


class _Unread:
    """A server's input stream that must not be read."""

    def read(self, *args):
        raise AssertionError("the body of a request without Content-Length or Transfer-Encoding was read")

    readline = read


def test_a_request_without_length_or_chunks_has_no_body_to_read(client):
    """gunicorn marks every request's stream as ended (`wsgi.input_terminated`), a GET's too: only a
    chunked one carries a body then (RFC 9112 §6.3), and no other is read before the view."""
    response = client.get("/healthz", environ_overrides={"wsgi.input_terminated": True, "wsgi.input": _Unread()})
    assert response.status_code == 200


def _http_mismatch(response: requests.Response, status: int, code: str) -> str | None:
    content_type = response.headers.get("Content-Type")
    if response.status_code != status or content_type != "application/problem+json":
        return f"{response.status_code} {content_type}: {response.text[:200]}"
    body = response.json()
    return None if body["status"] == status and body["code"] == code else str(body)


# --- JSON: every route that reads it ---------------------------------------------------------------

INVALID = {
    "nested 33 deep": nested(33),
    "objects nested 33 deep": b'{"a":' * 33 + b"1" + b"}" * 33,
    "[ x 65536": b"[" * MAX_BODY,
    "{ x 65536": b"{" * MAX_BODY,
    '[{"a": x 10000': b'[{"a":' * 10000,
    "2^53+1": b"[%d]" % (SAFE + 1),
    "-(2^53+1)": b"[%d]" % -(SAFE + 1),
    "2^53+1 as a float": b"[9007199254740993.0]",
    "1e16": b"[1e16]",
    "-1e400": b"[-1e400]",
    "5000 digits": b'{"year": ' + b"7" * 5000 + b"}",
    "5000 digits, negative": b'{"year": -' + b"7" * 5000 + b"}",
    "5000 digits, a float": b"[0." + b"1" * 5000 + b"e99]",
    "NaN": b'{"year": NaN}',
    "Infinity": b"[Infinity]",
    "-Infinity": b"[-Infinity]",
    "not UTF-8": b'{"code": "\xff\xfe"}',
    "UTF-16": '{"code": "x"}'.encode("utf-16"),
    "Latin-1": '{"name": "Müller"}'.encode("latin-1"),
    "a lone surrogate": b'{"name": "\\ud800"}',
    "a lone surrogate as a key": b'{"\\udfff": 1}',
    "malformed": b"{not json",
    "truncated": b"[1, 2",
    "trailing garbage": b"{} []",
    "a BOM": b'\xef\xbb\xbf{"code": "x"}',
    "only whitespace": b"   ",
    "single quotes": b"{'code': 'x'}",
}
WITHIN = {
    "nested 32 deep": nested(32),
    "objects nested 32 deep": b'{"a":' * 32 + b"1" + b"}" * 32,
    "2^53": b"[%d]" % SAFE,
    "-2^53": b"[%d]" % -SAFE,
    "2^53 as a float": b"[9007199254740992.0, 1e-400]",
    "a 60 000-character string": b'["' + b"x" * 60000 + b'"]',
    "60 000 tiny numbers": b"[" + b"0," * 30000 + b"0]",
    "a NUL character": b'["\\u0000"]',
    "JSON null": b"null",
}


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_invalid_json_is_422_invalid_body(caller, route):
    assert_all({case: mismatch(caller(route, raw), 422, "invalid_body") for case, raw in INVALID.items()})


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_json_within_the_limits_reaches_the_schema(caller, route):
    assert_all({case: mismatch(caller(route, raw), 422, "validation_error") for case, raw in WITHIN.items()})


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_a_body_that_is_not_json_is_415(caller, route):
    types = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "text/json", None]
    body = b'{"code": "x"}'
    assert_all({str(kind): mismatch(caller(route, body, kind), 415, "unsupported_media_type") for kind in types})


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_no_body_is_each_required_field_missing(caller, route):
    assert_all(
        {
            "no body": mismatch(caller(route, None, content_type=None), 422, "validation_error"),
            "an empty JSON body": mismatch(caller(route, b""), 422, "validation_error"),
        }
    )


def test_every_json_content_type_is_read_with_the_limits(caller):
    types = ["application/json; charset=utf-8", "application/merge-patch+json"]
    route = "POST /api/v1/auth/login"
    assert_all({kind: mismatch(caller(route, nested(33), kind), 422, "invalid_body") for kind in types})


def test_numbers_in_an_otherwise_valid_body_are_bounded_too(caller):
    route = "POST /api/v1/residents/{resident_id}/contributions"
    body = b'{"year": 2027, "tier_fen": %d, "kind": "normal"}'
    assert_problem(caller(route, body % (SAFE + 1)), 422, "invalid_body")
    within = caller(route, body % SAFE)  # past the JSON layer: the order is refused further on
    assert 400 <= within.status_code < 500 and within.get_json()["code"] != "invalid_body"


def test_integers_in_a_query_string_are_bounded(caller):
    route = "GET /api/v1/residents/{resident_id}/ledger?page="
    pages = {"2^53+1": str(SAFE + 1), "5000 digits": "9" * 5000, "-10^30": "-" + "9" * 30}
    assert_all(
        {case: mismatch(caller(route + page, None, None), 422, "validation_error") for case, page in pages.items()}
    )


# Strings may hold U+0000 (valid JSON and UTF-8); nothing downstream (PostgreSQL text included) may 500.
NUL_BODIES = {
    "POST /api/v1/auth/login": {"code": "test:ordinary_1975\u0000"},
    "POST /api/v1/auth/real-name": {"id_number": "14010519700501001\u0000", "name": "王\u0000", "verify_result": "\0"},
    "POST /api/v1/family/links": {"parent_id_number": "\u0000", "parent_name": "王\u0000", "relation": "child"},
    "POST /api/v1/residents/{resident_id}/contributions": {"year": 2027, "tier_fen": 10000, "kind": "normal\u0000"},
    "POST /api/v1/residents/{resident_id}/certificates": {"year": 2027, "\u0000": 1},
}


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_nul_characters_are_no_server_error(caller, route):
    assert caller(route, json.dumps(NUL_BODIES[route]).encode()).status_code < 500


# --- The tax bureau callback keeps its own format and its own limit --------------------------------


def test_the_callback_answers_oversized_and_garbage_bodies_in_its_own_format(client):
    bodies = {
        "64 KiB + 1": padded(MAX_BODY + 1),
        "nested 33 deep": nested(33),
        "[ x 65536": b"[" * MAX_BODY,
        "2^53+1": b"[%d]" % (SAFE + 1),
        "not UTF-8": b"\xff",
        "NaN": b"[NaN]",
    }
    results = {}
    for case, raw in bodies.items():
        response = client.post(NOTIFY_PATH, data=raw, content_type="application/json")
        answer = response.get_json(silent=True) or {}
        fine = 400 <= response.status_code < 500 and response.content_type == "application/json"
        results[case] = None if fine and answer.get("code") == "FAIL" else f"{response.status_code} {answer}"
    assert_all(results)
    oversized = client.post(NOTIFY_PATH, data=padded(MAX_BODY + 1), content_type="application/json")
    assert oversized.status_code == 413 and oversized.get_json()["code"] == "FAIL"
