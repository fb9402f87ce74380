"""Fixtures for the client tests: the sandbox and small fakes, all served over real HTTP (helpers:
tests/support/upstream.py, tests/support/tax.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from flask import jsonify

from integrations.sandbox.app import create_sandbox_app
from tests.support.live_server import serve
from tests.support.upstream import APPID, SANDBOX_TODAY, SECRET, Handler, closed_port_url, fake_app


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    """One sandbox for the run (its WeChat codes work once, so each test uses its own)."""
    app = create_sandbox_app(
        {"SANDBOX_TODAY": SANDBOX_TODAY, "SANDBOX_WECHAT_APPID": APPID, "SANDBOX_WECHAT_SECRET": SECRET}
    )
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
