"""RFC 9457 problem details for every error, with a stable `code` the mini-program switches on."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, g, json
from werkzeug.exceptions import HTTPException

from integrations.errors import UpstreamError
from miniapp_api.core import messages

log = logging.getLogger(__name__)

PROBLEM_TYPE = "about:blank"
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An expected failure: status, stable code and any extra problem members. `message` is for developers
    and logs only; the response's `detail` is the resident's sentence for `code` (core/messages.py)."""

    def __init__(self, status: int, code: str, message: str = "", *, headers: dict | None = None, **extra):
        super().__init__(message or code)
        self.status, self.code = status, code
        self.headers = headers or {}
        self.extra = extra


def problem(status: int, code: str, headers: dict | None = None, **extra) -> Response:
    """The problem response for `code`: `title` is the status's reason phrase, `detail` the code's sentence."""
    body = {
        "type": PROBLEM_TYPE,
        "title": _reason(status),
        "status": status,
        "code": code,
        "detail": messages.detail(code),
        **extra,
    }
    response = Response(json.dumps(body), status, mimetype="application/problem+json")
    response.headers.update(headers or {})
    return response


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # not a registered status
        return "Error"


def handle_api_error(error: ApiError) -> Response:
    return problem(error.status, error.code, error.headers, **error.extra)


def handle_upstream_error(error: UpstreamError) -> Response:
    log.warning("upstream failure: %s (%s)", error.code, error.detail)
    return problem(error.status, error.code)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if status >= 500:
        return handle_unexpected(error)
    data = getattr(error, "data", None) or {}
    extra = {"errors": _field_errors(data["messages"])} if "messages" in data else {}
    headers = dict(error.get_headers()) if status in (405, 429) else {}
    headers.pop("Content-Type", None)
    return problem(status, HTTP_CODES.get(status, "error"), headers, **extra)


def _field_errors(messages: dict) -> dict:
    """webargs nests errors by location (`json`, `query`); the API shows `{field: [messages]}`."""
    flat: dict = {}
    for location_errors in messages.values():
        flat.update(location_errors if isinstance(location_errors, dict) else {"_schema": location_errors})
    return flat


def handle_unexpected(error: Exception) -> Response:
    request_id = g.get("request_id", "-")
    log.exception("unhandled error, request %s", request_id)
    return problem(500, "internal_error", request_id=request_id)


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(UpstreamError, handle_upstream_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
