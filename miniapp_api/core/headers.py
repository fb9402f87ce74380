"""Headers on every answer (API.md conventions): personal data is never cached and never sniffed.

API answers get `Cache-Control: no-store` unless a route chose its own (certificates say
`private, no-store`); every answer gets `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

from flask import Flask, Response, request

API_PREFIX = "/api/"


def init_app(app: Flask) -> None:
    app.after_request(_security_headers)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith(API_PREFIX) and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
