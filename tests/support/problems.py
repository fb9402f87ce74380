"""The one check of an RFC 9457 problem response (API.md conventions)."""

from __future__ import annotations

from http import HTTPStatus

from miniapp_api.core.messages import MESSAGES


def assert_problem(response, status: int, code: str) -> dict:
    """Assert `response` is an `application/problem+json` problem with this status and `code`, titled with the
    status's reason phrase and with the code's Chinese `detail` from core/messages.py; its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json", response.content_type  # no parameters either
    body = response.get_json(force=True)
    assert body["status"] == status and body["code"] == code, body
    assert {"type", "title", "detail"} <= body.keys(), body
    assert body["title"] == HTTPStatus(status).phrase, body
    assert body["detail"] == MESSAGES[code], body
    return body
