"""Helpers of the upstream client tests (WeChat, identity, agency): fakes of every failure mode."""

from __future__ import annotations

import socket
import threading
import traceback
from collections.abc import Callable

from flask import Flask

APPID = "wx_test_app"
SECRET = "s3cr3t-do-not-leak-7f1e"
SANDBOX_TODAY = "2027-03-02"
SHORT_TIMEOUT = (1, 0.3)  # (connect, read) seconds
TRANSPORT_FAILURES = ["http_500", "always_503", "html_body", "json_array", "slow", "refused"]

Handler = Callable[[], object]


def fake_app(handler: Handler, methods: tuple[str, ...] = ("GET", "POST")) -> Flask:
    """A Flask app answering every path with `handler()`."""
    app = Flask(__name__)
    app.add_url_rule("/<path:path>", "any", lambda path: handler(), methods=list(methods))
    return app


def sequence(*answers: object) -> Handler:
    """A handler giving `answers` in turn, then repeating the last; counts calls in `.calls`."""
    lock, calls = threading.Lock(), []

    def handler():
        with lock:
            calls.append(1)
            return answers[min(len(calls), len(answers)) - 1]

    handler.calls = calls
    return handler


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def full_text(exc: BaseException) -> str:
    """The exception as a log line with traceback would show it, chained causes included."""
    return "".join(traceback.format_exception(exc))
