"""A resident on their phone: log in, real name with the face check, account, pay, ledger, certificate."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from integrations.sandbox import demo_data
from tests.certificates.test_qr import decode
from tests.screens.conftest import screen

pytestmark = pytest.mark.slow

RESIDENT = demo_data.by_key("ordinary_1975")  # 赵志强, 小店区, basic pension paid 2019-2027


def log_in(page: Page, key: str) -> None:
    page.locator(f'button[data-key="{key}"]').click()


def test_a_resident_logs_in_verifies_pays_and_gets_a_certificate(servers, phone):
    page = phone(servers.api)
    expect(page.locator("#title")).to_have_text("登录")
    expect(page.locator(f'button[data-key="{RESIDENT["key"]}"]')).to_contain_text(RESIDENT["name"])
    screen(page, "01-login")

    log_in(page, RESIDENT["key"])
    expect(page.locator("#title")).to_have_text("实名认证")
    expect(page.locator("#name")).to_have_value(RESIDENT["name"])
    screen(page, "02-real-name")

    page.get_by_role("button", name="刷脸认证").click()
    expect(page.locator("#title")).to_have_text("补充养老保险")
    expect(page.locator(".notice")).to_contain_text("实名认证成功")
    expect(page.locator("main")).to_contain_text("您好，赵*强")
    screen(page, "03-home")

    page.get_by_role("button", name="我的账户").click()
    expect(page.locator("#title")).to_have_text("我的账户")
    expect(page.locator("#balance")).to_have_text("0 元")
    expect(page.locator("#status")).to_have_text("状态：缴费中")
    expect(page.locator("#years")).to_contain_text("累计缴费 0 年")
    screen(page, "04-account-empty")

    page.locator("#back").click()
    page.get_by_role("button", name="缴费", exact=True).click()
    expect(page.locator("#title")).to_have_text("缴费")
    expect(page.locator("#window")).to_contain_text("2027年缴费期内")
    expect(page.locator("#window")).to_contain_text("截止到2027年3月25日")
    tiers = page.locator("#tiers .choice")
    expect(tiers).to_have_count(5)
    screen(page, "05-pay-options")

    tiers.filter(has_text="1,000 元").click()
    page.get_by_role("button", name="去缴费").click()
    sheet = page.get_by_role("dialog")
    expect(sheet).to_contain_text("1,000 元")
    screen(page, "06-pay-sheet", full_page=False)
    sheet.get_by_role("button", name=re.compile("确认支付")).click()
    expect(page.locator(".card.good")).to_contain_text("缴费成功", timeout=20_000)
    expect(page.locator(".card.good")).to_contain_text("微信支付")
    screen(page, "07-paid")

    page.get_by_role("button", name="缴费记录").click()
    expect(page.locator("#title")).to_have_text("缴费记录")
    expect(page.locator("#ledger li").first).to_contain_text("2027年")
    expect(page.locator("#ledger")).to_contain_text("+1,000 元")
    personal = page.locator("#ledger li").filter(has_text="个人缴费")
    expect(personal).to_contain_text("本人缴费")
    expect(page.locator("#ledger li").filter(has_text="政府补贴")).to_contain_text("+200 元")
    screen(page, "08-ledger")

    page.locator("#back").click()
    page.locator("#back").click()
    page.get_by_role("button", name="我的账户").click()
    expect(page.locator("#balance")).to_have_text("1,200 元")
    expect(page.locator("#by-source")).to_contain_text("1,000 元")
    expect(page.locator("#years .years")).to_have_text("2027年")
    expect(page.locator(".chart svg")).to_have_attribute("aria-label", re.compile("2027年 1,200 元"))
    screen(page, "09-account")

    page.locator("#back").click()
    page.get_by_role("button", name="缴费证明").click()
    expect(page.locator("#year")).to_have_value("2027")
    page.get_by_role("button", name="开具缴费证明").click()
    expect(page.locator("#available-from")).to_contain_text("2027年3月9日起可以开具")
    screen(page, "10-certificate-not-yet")

    later = phone(servers.later)  # the same database, its clock on the 5th working day: she is known
    log_in(later, RESIDENT["key"])
    expect(later.locator("main")).to_contain_text("您好，赵*强")
    later.get_by_role("button", name="缴费证明").click()
    later.get_by_role("button", name="开具缴费证明").click()
    card = later.locator("#certificate .card.good")
    expect(card).to_contain_text("已开具")
    expect(card).to_contain_text("2027年3月9日")
    expect(card.locator("img.qr")).to_have_js_property("complete", True)
    screen(later, "11-certificate")

    with later.context.expect_page() as opened:
        later.get_by_role("button", name="打开证明（PDF）").click()
    assert opened.value.url.startswith("blob:")
    opened.value.close()

    (verify_url,) = decode(Image.open(io.BytesIO(card.locator("img.qr").screenshot())))
    assert "/verify/" in verify_url
    later.get_by_role("button", name="扫码核验一张证明").click()
    later.get_by_role("dialog").get_by_label("二维码链接").fill(verify_url)
    screen(later, "12-scan", full_page=False)
    later.get_by_role("dialog").get_by_role("button", name="确定").click()
    expect(later.locator("#verdict-text")).to_have_text("真实有效")
    expect(later.locator("#facts")).to_contain_text("赵*强")
    screen(later, "13-verify-page")
