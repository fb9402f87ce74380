"""Fixtures for the client tests: the sandbox and small fakes, all served over real HTTP."""
from __future__ import annotations

import socket
import threading
import traceback
from typing import Callable, Iterator

import pytest
from flask import Flask, jsonify

from integrations.sandbox.app import create_sandbox_app
from tests.support.live_server import serve

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


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    """One sandbox for the run (its WeChat codes work once, so each test uses its own)."""
    app = create_sandbox_app({"SANDBOX_TODAY": SANDBOX_TODAY, "SANDBOX_WECHAT_APPID": APPID,
                              "SANDBOX_WECHAT_SECRET": SECRET})
    with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
def fake_server() -> Iterator[tuple[dict, str]]:
    """One server for all fakes (starting one per test is slow); each test installs its handler."""
    slot: dict[str, Handler] = {}
    with serve(fake_app(lambda: slot["handler"]())) as url:
        yield slot, url


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so that slow fake handlers still waiting finish at once."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def serve_fake(fake_server, release) -> Iterator[Callable[[Handler], str]]:
    """Answer every request with `handler()` for this test; returns the fake's base URL."""
    slot, url = fake_server

    def install(handler: Handler) -> str:
        slot["handler"] = handler
        return url
    yield install
    release.set()


@pytest.fixture
def failing_url(serve_fake, release) -> Callable[[str], str]:
    """The base URL of an upstream failing in the named way (TRANSPORT_FAILURES)."""
    def slow():
        release.wait(5)
        return jsonify({})

    handlers = {
        "http_500": lambda: ("internal error", 500),
        "always_503": lambda: ("unavailable", 503),
        "html_body": lambda: ("<html>gateway</html>", 200, {"Content-Type": "text/html"}),
        "json_array": lambda: jsonify([1, 2]),
        "slow": slow,
    }
    return lambda mode: closed_port_url() if mode == "refused" else serve_fake(handlers[mode])
