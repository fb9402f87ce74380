"""Every error code the API can answer has a Chinese sentence in the one table (core/messages.py), every
problem's `title` is its status's reason phrase, and the table is served to the screens."""

from __future__ import annotations

import re
from http import HTTPStatus
from pathlib import Path

import pytest

from miniapp_api.core import errors
from miniapp_api.core.messages import MESSAGES
from policy.rules import Code

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("miniapp_api", "integrations")
# ApiError(status, "code", ...) (and a subclass's super().__init__), UpstreamError("code", ...), over line
# breaks; class attributes naming the code a client's failures map to.
RAISED = re.compile(r'(?:\bApiError\(\s*\d+\s*,\s*|super\(\)\.__init__\(\s*\d+\s*,\s*|\bUpstreamError\(\s*)"([a-z_]+)"')
UNAVAILABLE = re.compile(r'\bunavailable_code\s*=\s*"([a-z_]+)"')
REFUSAL = re.compile(r'\(\s*"([a-z_]+)"\s*,\s*\d{3}\s*\)')  # ("code", status) in a table of refusals
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_LETTER = re.compile(r"[A-Za-z]")


def raised_codes() -> set[str]:
    found: set[str] = set()
    for package in SCANNED:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            found |= set(RAISED.findall(text)) | set(UNAVAILABLE.findall(text)) | set(REFUSAL.findall(text))
    return found


def every_code() -> set[str]:
    """Literal codes raised anywhere, the codes of HTTP errors and their fallback, the rules' refusals."""
    return raised_codes() | set(errors.HTTP_CODES.values()) | {"error"} | {str(code) for code in Code}


def test_the_scan_finds_the_codes_raised_across_the_code_base():
    found = raised_codes()
    assert {"not_found", "already_bound", "too_many_links", "face_verification_required", "invalid_body"} <= found
    assert {"invalid_wechat_code", "wechat_user_blocked", "wechat_unavailable", "tax_bureau_unavailable"} <= found
    assert "not_ready" in found


@pytest.mark.parametrize("code", sorted(every_code()))
def test_every_code_has_a_chinese_sentence(code):
    sentence = MESSAGES.get(code)
    assert sentence, f"{code!r} has no entry in miniapp_api/core/messages.py"
    assert CJK.search(sentence) and not ASCII_LETTER.search(sentence), (code, sentence)
    assert sentence.endswith("。"), (code, sentence)


def test_every_sentence_in_the_table_is_chinese():
    bad = {code: text for code, text in MESSAGES.items() if not CJK.search(text) or ASCII_LETTER.search(text)}
    assert not bad


@pytest.mark.parametrize("status", sorted(errors.HTTP_CODES))
def test_title_is_the_reason_phrase_and_detail_the_codes_sentence(app, status):
    with app.test_request_context():
        body = errors.problem(status, errors.HTTP_CODES[status]).get_json(force=True)
    assert body["title"] == HTTPStatus(status).phrase
    assert body["detail"] == MESSAGES[errors.HTTP_CODES[status]]


def test_the_developer_message_never_reaches_detail(app):
    error = errors.ApiError(409, "already_paid", "This year is already paid.")
    with app.test_request_context():
        body = errors.handle_api_error(error).get_json(force=True)
    assert body["detail"] == MESSAGES["already_paid"] and str(error) == "This year is already paid."


def test_the_table_is_served_publicly_and_documented(client):
    response = client.get("/api/v1/messages")
    assert response.status_code == 200 and response.get_json() == MESSAGES
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/messages"]["get"]
    assert operation["security"] == [] and operation["summary"]
