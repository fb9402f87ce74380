"""Other residents and states: the government pays, a lump sum, the window closed, a mistyped ID number, a
lapsed login, and every screen with the text twice as large."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from integrations.sandbox import demo_data
from tests.screens.conftest import PHONE, SHOTS, screen

pytestmark = pytest.mark.slow

DIBAO = demo_data.by_key("dibao_1972")  # 郑二虎, 低保: the county pays (R7)
READER = demo_data.by_key("ordinary_1985")  # 孙晓燕
ELDER = demo_data.by_key("elder_1950")  # 杨桂芝: 65+ in 2021 and receiving basic pension: lump sum (R6)
LATE = demo_data.by_key("ordinary_1966")  # 周保国, who comes after the 25th
WIDE = """w => [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > w)
  .map(e => `${e.tagName}.${e.className} ${e.textContent.trim().slice(0, 12)}`).slice(0, 8)"""
DOUBLE_TEXT = "html { font-size: 225% !important; }"  # twice the app's 18 px body text: 36 px


def test_a_hardship_resident_mistypes_his_id_number_then_sees_the_government_pays(servers, phone):
    page = phone(servers.api)
    page.locator(f'button[data-key="{DIBAO["key"]}"]').click()
    wrong = DIBAO["id_number"][:-1] + ("0" if DIBAO["id_number"][-1] != "0" else "1")
    page.get_by_label("身份证号码").fill(wrong)
    page.get_by_role("button", name="刷脸认证").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(re.compile("身份证号码不对，请对照身份证逐位核对后重新输入"))
    expect(page.locator("main")).not_to_contain_text(re.compile("invalid|error|{", re.IGNORECASE))
    screen(page, "22-error-id-number")

    page.get_by_label("身份证号码").fill(DIBAO["id_number"])
    page.get_by_role("button", name="刷脸认证").click()
    expect(page.locator("main")).to_contain_text("您好，郑*虎")
    page.get_by_role("button", name="缴费", exact=True).click()
    expect(page.locator("#government")).to_contain_text("政府代缴")
    expect(page.locator("#government")).to_contain_text("您不用自己缴费")
    expect(page.locator("#kinds")).not_to_contain_text("2027年缴费")  # this year is the county's; back years stay his
    screen(page, "23-paid-by-government")


def test_with_the_text_twice_as_large_every_screen_still_fits_the_phone(servers, phone):
    page = phone(servers.api, bypass_csp=True)  # only to add the larger text, as the phone's setting would
    page.add_style_tag(content=DOUBLE_TEXT)
    page.locator(f'button[data-key="{READER["key"]}"]').click()
    page.get_by_role("button", name="刷脸认证").click()
    expect(page.locator("main")).to_contain_text("您好，孙*燕")
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 36
    fits(page, "home")
    for tile, title in [("我的账户", "我的账户"), ("缴费", "缴费"), ("缴费记录", "缴费记录"), ("缴费证明", "缴费证明")]:
        page.get_by_role("button", name=tile, exact=True).click()
        expect(page.locator("#title")).to_have_text(title)
        fits(page, title)
        page.locator("#back").click()
    page.get_by_role("button", name="亲情服务（帮家人缴费）").click()
    fits(page, "亲情服务")
    page.screenshot(path=str(SHOTS / "24-large-text.png"), full_page=False)


def fits(page, name: str) -> None:
    expect(page.locator(".loading")).to_have_count(0)
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(WIDE, PHONE["viewport"]["width"])
    assert width <= PHONE["viewport"]["width"], f"{name}: {width} px wide at double text size: {wide}"


def log_in_verified(page, person) -> None:
    page.locator(f'button[data-key="{person["key"]}"]').click()
    page.get_by_role("button", name="刷脸认证").click()
    expect(page.locator("main")).to_contain_text("您好，")


def test_an_elder_may_pay_a_lump_sum_of_several_years(servers, phone):
    page = phone(servers.api)
    log_in_verified(page, ELDER)
    page.get_by_role("button", name="缴费", exact=True).click()
    expect(page.locator("#kinds")).to_have_text("缴费方式：一次性缴费")  # the only way open to her
    expect(page.get_by_label("一次性缴几年").locator("option")).to_have_count(15)
    expect(page.locator("#tiers .sub").first).to_be_hidden()  # R6: a lump sum brings no subsidy
    page.get_by_label("一次性缴几年").select_option("3")
    page.locator("#tiers .choice").filter(has_text="1,000 元").click()
    screen(page, "25-lump-sum")
    page.get_by_role("button", name="去缴费").click()
    expect(page.get_by_role("dialog")).to_contain_text("一次性缴费3年")
    expect(page.get_by_role("dialog")).to_contain_text("3,000 元")


def test_after_the_25th_the_pay_screen_tells_when_the_next_window_opens(servers, closed_api, phone):
    log_in_verified(phone(servers.api), LATE)  # the face check is timed by the sandbox clock (2 March)
    page = phone(closed_api)
    page.locator(f'button[data-key="{LATE["key"]}"]').click()
    page.get_by_role("button", name="缴费", exact=True).click()
    window = page.locator("#window")
    expect(window).to_contain_text("现在不在缴费期内")
    expect(window).to_contain_text("下次缴费期：2027年4月1日至2027年4月25日")
    expect(page.locator("#order-form")).to_have_count(0)
    screen(page, "26-window-closed")


def test_a_lapsed_login_leads_back_to_the_login_screen_with_a_sentence(servers, phone):
    page = phone(servers.api)
    # The login screen first signs out whatever was there: inject the stale token only once it is shown.
    expect(page.get_by_role("list", name="演示居民")).to_be_visible()
    page.evaluate("sessionStorage.setItem('pension.token', 'not-a-token')")
    page.goto(page.url.split("#")[0] + "#/home")
    expect(page.locator("#title")).to_have_text("登录")
    expect(page.get_by_role("alert")).to_have_text("您的登录已经失效，请重新登录。")
