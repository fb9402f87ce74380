"""A daughter in the city links her father, pays for him and looks him up; he sees who paid; either removes the link."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from integrations.sandbox import demo_data
from tests.screens.conftest import screen

pytestmark = pytest.mark.slow

CHILD = demo_data.by_key("child_1985")  # 王丽
PARENT = demo_data.by_key("parent_1958")  # 王建国: the registry lists her as his supporter


def log_in_verified(page: Page, key: str) -> None:
    page.locator(f'button[data-key="{key}"]').click()
    page.get_by_role("button", name="刷脸认证").click()
    expect(page.locator(".notice")).to_contain_text("实名认证成功")


def open_home(page: Page) -> None:
    page.goto(page.url.split("#")[0] + "#/home")
    expect(page.locator("#title")).to_have_text("补充养老保险")


def open_family(page: Page) -> None:
    open_home(page)
    page.get_by_role("button", name="亲情服务（帮家人缴费）").click()
    expect(page.locator("#title")).to_have_text("亲情服务")


def add_parent(page: Page, name: str) -> None:
    form = page.locator("#add-link")
    form.get_by_label("家人姓名").fill(name)
    form.get_by_label("家人身份证号码").fill(PARENT["id_number"])
    form.get_by_label("您是他（她）的").select_option("child")
    form.get_by_role("button", name="添加家人").click()


def remove_link(row) -> None:
    row.get_by_role("button", name="解除关联").click()
    row.get_by_role("button", name=re.compile("确认解除")).click()


def test_a_child_pays_for_her_father_who_sees_it_and_either_side_removes_the_link(servers, phone):
    child = phone(servers.api)
    log_in_verified(child, CHILD["key"])
    open_family(child)
    expect(child.locator("#as-supporter")).to_have_text("还没有关联家人。")

    add_parent(child, "王建军")  # the wrong name: the registry does not match
    expect(child.locator("#add-link .notice")).to_contain_text(re.compile("姓名和身份证号码对不上.*核对"))
    screen(child, "14-family-error")

    add_parent(child, PARENT["name"])
    expect(child.locator(".notice")).to_contain_text("已关联王*国，现在可以帮他（她）缴费了")
    row = child.locator("#as-supporter li")
    expect(row).to_contain_text("王*国（子女）")
    expect(row.locator(".status")).to_have_text("已关联")
    screen(child, "15-family-linked")

    open_home(child)
    expect(child.locator("main h2")).to_have_text("帮王*国办理")
    screen(child, "16-home-with-family")
    open_family(child)
    row.get_by_role("button", name="代缴费").click()
    expect(child.locator("#title")).to_have_text("为王*国缴费")
    expect(child.locator("#kinds")).to_contain_text("补缴往年")
    back_year = child.locator("#back-years .choice").first
    year = back_year.inner_text().strip()
    expect(child.locator("#back-years")).to_contain_text(re.compile(r"最多还可补缴 \d+ 年"))
    expect(child.locator("#tiers .sub").first).to_be_hidden()  # R6: back payments bring no subsidy
    screen(child, "17-pay-for-parent")
    child.locator("#tiers .choice").filter(has_text="500 元").first.click()
    child.get_by_role("button", name="去缴费").click()
    child.get_by_role("dialog").get_by_role("button", name=re.compile("确认支付")).click()
    paid = child.locator(".card.good")
    expect(paid).to_contain_text("缴费成功", timeout=20_000)
    expect(paid).to_contain_text("家人代缴")
    expect(paid).to_contain_text(year)
    screen(child, "18-paid-for-parent")
    child.get_by_role("button", name="查看账户").click()
    expect(child.locator("#title")).to_have_text("王*国的账户")
    expect(child.locator("#years .years")).to_contain_text(year)

    parent = phone(servers.api)
    log_in_verified(parent, PARENT["key"])
    open_family(parent)
    supporter = parent.locator("#as-parent li")
    expect(supporter).to_contain_text("王*（子女）")
    expect(supporter.locator(".paid-by")).to_have_text(f"替您缴了：{year}")
    screen(parent, "19-parent-sees-who-paid")
    open_home(parent)
    parent.get_by_role("button", name="缴费记录").click()
    expect(parent.locator("#ledger li").filter(has_text="个人缴费").first).to_contain_text("家人代缴")

    open_family(parent)
    remove_link(parent.locator("#as-parent li"))
    expect(parent.locator(".notice")).to_contain_text("已解除关联")
    expect(parent.locator("#as-parent")).to_have_text("没有家人帮您缴费。")

    open_family(child)  # she lost access at once; a new request now waits for his consent
    expect(child.locator("#as-supporter")).to_have_text("还没有关联家人。")
    add_parent(child, PARENT["name"])
    expect(child.locator(".notice")).to_contain_text("等对方同意")
    expect(child.locator("#as-supporter li .status")).to_have_text("等待对方同意")
    screen(child, "20-family-pending")

    open_family(parent)
    request = parent.locator("#as-parent li")
    expect(request.locator(".status")).to_have_text("等待对方同意")
    screen(parent, "21-parent-approves")
    request.get_by_role("button", name="同意").click()
    expect(parent.locator(".notice")).to_contain_text("已同意王*帮您缴费")
    expect(parent.locator("#as-parent li .status")).to_have_text("已关联")

    open_family(child)
    expect(child.locator("#as-supporter li .status")).to_have_text("已关联")
    remove_link(child.locator("#as-supporter li"))
    expect(child.locator("#as-supporter")).to_have_text("还没有关联家人。")
