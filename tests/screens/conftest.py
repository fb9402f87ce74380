"""The screens in Debian's Chromium at a phone's size, against the demo's processes (sandbox, API, API later)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import chromium
from tests.support.constants import ROOT
from tests.support.processes import (
    Urls,
    api_environment,
    base_environment,
    flask,
    running_servers,
    start,
    stop,
    wait_ready,
)
from tests.support.skipping import unavailable
from tests.support.waiting import free_port

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "screens"
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}
SERIOUS = ("serious", "critical")
CLOSED_NOW = "2027-03-28T10:00:00+08:00"  # between the March and April collection windows (1st to 25th)
MIN_TEXT_PX = 18
MIN_TARGET_PX = 48
# Visible text smaller than the minimum, and visible tap targets smaller than the minimum, as "what size".
SMALL_TEXT = """min => [...document.querySelectorAll('main *, header *, .sheet *')]
  .filter(e => e.checkVisibility() && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .filter(e => parseFloat(getComputedStyle(e).fontSize) < min)
  .map(e => `${e.textContent.trim().slice(0, 16)} ${getComputedStyle(e).fontSize}`)"""
TARGETS = "button, select, input:not([type=radio]):not([type=hidden]), .choice, a"
SMALL_TARGETS = """min => [...document.querySelectorAll('TARGETS')]
  .filter(e => e.checkVisibility())
  .map(e => [e.textContent.trim().slice(0, 16) || e.id, e.getBoundingClientRect()])
  .filter(([, r]) => r.height < min || r.width < min)
  .map(([t, r]) => `${t} ${Math.round(r.width)}x${Math.round(r.height)}`)""".replace("TARGETS", TARGETS)


@pytest.fixture(scope="session")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screens")


@pytest.fixture(scope="session")
def servers(folder) -> Iterator[Urls]:
    """Started once for every screen test: each journey uses its own demo people."""
    with running_servers(folder) as urls:
        yield urls


@pytest.fixture(scope="session")
def closed_api(folder, servers) -> Iterator[str]:
    """One more API on the same database and sandbox, its clock outside the collection window."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**api_environment(base_environment(folder), CLOSED_NOW, servers.api, servers.sandbox)}
    run = flask("run", "--host", "127.0.0.1", "--no-reload", "--no-debugger", "--with-threads", "--port", str(port))
    server = start("api-closed", run, env, folder)
    try:
        wait_ready(server, f"{base}/healthz")
        yield base
    finally:
        stop(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not AXE.is_file():
        unavailable("axe-core is not installed (run `npm ci` at the top of the checkout)")
    with chromium() as browser:
        yield browser


@pytest.fixture
def phone(browser):
    """A new phone (its own storage) for each person; every one opened is closed at the end."""
    contexts = []

    def open_phone(base: str, **options) -> Page:
        context = browser.new_context(**PHONE, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/app/")
        return page

    yield open_phone
    for context in contexts:
        context.close()


def violations(page: Page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in found
        if v["impact"] in SERIOUS
    ]


def screen(page: Page, name: str, *, full_page: bool = True) -> None:
    """Check the screen as it is now (axe-core, no sideways scrolling at 360 px) and keep its picture."""
    expect(page.locator(".loading")).to_have_count(0)
    bad = violations(page)
    assert not bad, f"{name}: {json.dumps(bad, ensure_ascii=False)}"
    if "/app/" in page.url:
        small_text, small_targets = page.evaluate(SMALL_TEXT, MIN_TEXT_PX), page.evaluate(SMALL_TARGETS, MIN_TARGET_PX)
        assert not small_text, f"{name}: text under {MIN_TEXT_PX} px: {small_text}"
        assert not small_targets, f"{name}: tap targets under {MIN_TARGET_PX} px: {small_targets}"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], f"{name}: {width} px wide"
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
