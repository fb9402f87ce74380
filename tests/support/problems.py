"""The one check of an RFC 9457 problem response (API.md conventions)."""

from __future__ import annotations


def assert_problem(response, status: int, code: str) -> dict:
    """Assert `response` is an `application/problem+json` problem with this status and `code`; its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json", response.content_type  # no parameters either
    body = response.get_json(force=True)
    assert body["status"] == status and body["code"] == code, body
    assert {"type", "title", "detail"} <= body.keys(), body
    return body
