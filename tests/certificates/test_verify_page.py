"""The verification page the QR code opens, in headless Chromium (Playwright) against the real app over HTTP."""

from __future__ import annotations

import pytest

from tests.support.browser import chromium
from tests.support.certificates import issued, seed, token_of
from tests.support.live_server import serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def open_page(browser):
    """Open a URL in a phone-sized page; returns the page and every URL it requested."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    requested: list[str] = []

    def open_(url: str):
        page = context.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.goto(url)
        page.wait_for_selector("#verdict:not(.pending)")  # the page's CSP forbids string evaluation
        return page, requested

    yield open_
    context.close()


def test_a_genuine_certificate_shows_valid_with_masked_facts(app, open_page):
    world = seed(app)
    token = token_of(issued(app, app.test_client(), world))
    with serve(app) as base:
        page, requested = open_page(f"{base}/verify/{token}")
        verdict, facts = page.inner_text("#verdict"), page.inner_text("#facts")
        color = page.eval_on_selector("#verdict-text", "e => getComputedStyle(e).color")
    assert "真实有效" in verdict and color == "rgb(26, 127, 55)"
    for expected in ["王*国", "1401**********0017", "2027年度", "1,000.00 元", "2027年3月2日", "2027年3月9日"]:
        assert expected in facts, expected
    assert "王建国" not in page_text(verdict, facts) and "140105195809120017" not in page_text(verdict, facts)
    assert all(url.startswith(base) for url in requested), requested


def test_an_altered_token_shows_invalid_and_no_facts(app, open_page):
    world = seed(app)
    token = token_of(issued(app, app.test_client(), world))
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with serve(app) as base:
        page, _ = open_page(f"{base}/verify/{altered}")
        verdict = page.inner_text("#verdict")
        facts_visible = page.is_visible("#facts")
        color = page.eval_on_selector("#verdict-text", "e => getComputedStyle(e).color")
    assert "无效" in verdict and "真实有效" not in verdict and color == "rgb(207, 34, 46)"
    assert not facts_visible


def test_a_revoked_certificate_shows_revoked(app, open_page):
    world = seed(app)
    certificate = issued(app, app.test_client(), world)
    app.test_cli_runner().invoke(args=["certificates", "revoke", certificate["certificate_no"], "--reason", "test"])
    with serve(app) as base:
        page, _ = open_page(f"{base}/verify/{token_of(certificate)}")
        verdict, facts = page.inner_text("#verdict"), page.inner_text("#facts")
    assert "已撤销" in verdict and "真实有效" not in verdict
    assert certificate["certificate_no"] in facts


def page_text(*parts: str) -> str:
    return "\n".join(parts)
