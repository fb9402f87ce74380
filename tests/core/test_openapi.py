"""The OpenAPI document is exact (API.md conventions): problem responses with their codes, required fields,
open responses and closed requests, the Idempotency-Key header, binary downloads; and `flask openapi write`
writes what is served. (tests/core/test_schemathesis.py checks live answers against it.)"""

from __future__ import annotations

import json

import pytest

from miniapp_api.core.messages import MESSAGES
from miniapp_api.core.openapi import PROBLEM_JSON
from tests.core.test_messages import every_code

# Codes answered outside the documented operations, or never by design.
UNDOCUMENTED = {
    "internal_error",  # 500: a defect, never a contract
    "not_ready",  # GET /readyz, outside /api/v1
    "upstream_unavailable",  # the base class's default; every client names its own
    "error",  # the fallback of an unknown status
    # Generic answers of HTTP errors that no operation raises by design.
    "bad_request",
    "forbidden",
    "method_not_allowed",
    "not_acceptable",
    "conflict",
    "service_unavailable",
}


@pytest.fixture
def document(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def problems(document: dict):
    for label, operation in operations(document):
        for status, response in operation["responses"].items():
            if PROBLEM_JSON in response.get("content", {}):
                yield label, int(status), response["content"][PROBLEM_JSON]["schema"]["allOf"][1]["properties"]["code"]


def test_errors_are_problem_json_with_their_codes_and_no_catch_all(document):
    for label, operation in operations(document):
        assert "default" not in operation["responses"], label
        for status, response in operation["responses"].items():
            if int(status) >= 400 and "notify" not in label:
                assert list(response["content"]) == [PROBLEM_JSON], (label, status)
    found = list(problems(document))
    assert found and all(code["enum"] for _, _, code in found)


def test_every_documented_code_has_its_chinese_sentence(document):
    for label, status, code in problems(document):
        assert all(MESSAGES.get(value) for value in code["enum"]), (label, status, code)


def test_every_code_the_code_base_answers_is_documented_somewhere(document):
    documented = {value for _, _, code in problems(document) for value in code["enum"]}
    assert every_code() - UNDOCUMENTED <= documented, sorted(every_code() - UNDOCUMENTED - documented)


@pytest.mark.parametrize(
    ("label", "status", "codes"),
    [
        ("POST /api/v1/auth/login", 403, {"wechat_user_blocked"}),
        ("POST /api/v1/residents/{resident_id}/contributions", 409, {"window_closed", "order_pending", "deceased"}),
        ("POST /api/v1/residents/{resident_id}/contributions", 400, {"idempotency_key_required"}),
        ("GET /api/v1/residents/{resident_id}/account", 404, {"not_found"}),
        ("GET /api/v1/residents/{resident_id}/account", 401, {"unauthorized"}),
        ("POST /api/v1/family/links", 429, {"rate_limited"}),
        ("POST /api/v1/residents/{resident_id}/certificates", 409, {"not_yet_available"}),
    ],
)
def test_operations_list_the_codes_of_api_md(document, label, status, codes):
    found = {(where, code_status): set(code["enum"]) for where, code_status, code in problems(document)}
    assert codes <= found[(label, status)]


def test_public_operations_do_not_claim_a_login(document):
    paths = document["paths"]
    assert "401" not in paths["/api/v1/verify/{token}"]["get"]["responses"]
    assert "404" not in paths["/api/v1/verify/{token}"]["get"]["responses"]
    assert "401" not in paths["/api/v1/auth/login"]["post"]["responses"]


def test_responses_are_open_and_complete_requests_closed(document):
    schemas = document["components"]["schemas"]
    account = schemas["Account"]
    assert "additionalProperties" not in account and set(account["required"]) == set(account["properties"])
    assert schemas["Verification"]["required"] == ["valid"]  # a forged token: `{"valid": false}` alone
    assert schemas["Problem"]["required"] == ["type", "title", "status", "code", "detail"]
    contribution = schemas["Contribution"]
    assert contribution["additionalProperties"] is False and set(contribution["required"]) == {
        "year",
        "tier_fen",
        "kind",
    }


@pytest.mark.parametrize(
    ("schema", "field", "expected"),
    [
        ("Account", "status", {"enum": ["contributing", "eligible", "receiving", "closed"]}),
        ("Resident", "gender", {"enum": ["M", "F"]}),
        ("Resident", "birth_date", {"format": "date"}),
        ("Order", "paid_at", {"format": "date-time", "nullable": True}),
        ("Order", "status", {"enum": ["pending", "paid", "closed", "expired"]}),
        ("LedgerEntry", "booked_at", {"format": "date-time"}),
        ("Token", "token_type", {"enum": ["Bearer"]}),
    ],
)
def test_fields_carry_their_enums_and_formats(document, schema, field, expected):
    described = document["components"]["schemas"][schema]["properties"][field]
    assert expected.items() <= described.items(), described


def test_the_idempotency_key_header_and_binary_downloads_are_described(document):
    paths = document["paths"]
    create = paths["/api/v1/residents/{resident_id}/contributions"]["post"]
    header = next(p for p in create["parameters"] if p["in"] == "header")
    assert header["name"] == "Idempotency-Key" and header["required"] is True
    pdf = paths["/api/v1/certificates/{certificate_no}.pdf"]["get"]["responses"]["200"]["content"]
    png = paths["/api/v1/certificates/{certificate_no}/qr.png"]["get"]["responses"]["200"]["content"]
    assert pdf == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    assert png == {"image/png": {"schema": {"type": "string", "format": "binary"}}}


def test_flask_openapi_write_writes_the_served_document(app, document, tmp_path):
    target = tmp_path / "openapi.json"
    result = app.test_cli_runner().invoke(args=["openapi", "write", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text()) == document
