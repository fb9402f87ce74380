"""R6 back-payments and the lump sum, R7 proxy payments, and the contribution options screen."""

from __future__ import annotations

import pytest

from policy.rules import (
    Quote,
    back_payment_years,
    check_back_payment,
    check_lump_sum,
    check_proxy,
    contribution_options,
)

from .factories import NOW, TODAY, D, at, history, resident

FOURTEEN = frozenset(range(2007, 2021))  # 14 back-paid years, as data (the cap counts years, not dates)
OLD = {"birth_date": D("1950-04-10"), "receiving_basic_pension": True}  # 70 at scheme start


@pytest.mark.parametrize(
    "facts, past, year, now, code, reason",
    [
        ({}, {}, 2027, NOW, "not_allowed", "current_year"),
        ({}, {}, 2028, NOW, "not_allowed", "future_year"),
        ({}, {}, 2020, NOW, "not_allowed", "year_before_scheme"),
        ({}, {"normal_paid": (2024,)}, 2024, NOW, "not_allowed", "year_already_paid"),
        ({}, {"back_paid_years": {2024}}, 2024, NOW, "not_allowed", "year_already_paid"),
        ({}, {"proxy_years": {2024}}, 2024, NOW, "not_allowed", "year_already_paid"),
        ({}, {"back_pending_years": {2024}}, 2024, NOW, "order_pending", None),
        (
            {},
            {"back_paid_years": set(range(2021, 2027)) - {2024}, "lump_sum_years": 10},
            2024,
            NOW,
            "back_payment_limit",
            None,
        ),
        (
            {},
            {"back_paid_years": {2021, 2022}, "back_pending_years": {2023}, "lump_sum_years": 12},
            2024,
            NOW,
            "back_payment_limit",
            None,
        ),
        ({"basic_pension_paid_years": {2025, 2026, 2027}}, {}, 2024, NOW, "basic_pension_unpaid", None),
        ({"registration_updated_on": TODAY}, {}, 2024, NOW, "registration_updated_today", None),
        ({"deceased_on": D("2026-12-01")}, {}, 2024, NOW, "deceased", None),
        ({}, {}, 2024, at("2027-08-01T10:00:00+08:00"), "window_closed", None),
        ({"birth_date": D("1950-04-10")}, {}, 2024, NOW, "not_allowed", "over_benefit_age"),
    ],
    ids=[
        "current-year",
        "future-year",
        "before-scheme",
        "normal-paid-year",
        "back-paid-year",
        "proxy-paid-year",
        "pending",
        "cap-reached-5-plus-lump-10",
        "cap-counts-pending",
        "basic-pension-unpaid-that-year",
        "registration-corrected-today",
        "deceased",
        "window-closed",
        "65-at-scheme-start-uses-lump-sum",
    ],
)
def test_back_payment_refusals(shanxi, facts, past, year, now, code, reason):
    decision = check_back_payment(shanxi, resident(**facts), history(**past), year, 50000, now)
    assert (decision.allowed, decision.code, decision.reason) == (False, code, reason)


def test_back_payment_has_no_subsidy_of_any_kind(with_collective):
    decision = check_back_payment(with_collective, resident(), history(), 2024, 500000, NOW)
    assert decision.allowed and decision.quote == Quote("back_payment", 500000, 0, 0)


def test_back_payment_needs_an_exact_tier(shanxi):
    assert check_back_payment(shanxi, resident(), history(), 2024, 12345, NOW).code == "invalid_tier"


def test_fifteenth_back_paid_year_is_allowed(shanxi):
    past = history(back_paid_years=set(range(2021, 2027)) - {2024}, lump_sum_years=9)
    assert check_back_payment(shanxi, resident(), past, 2024, 20000, NOW).allowed


@pytest.mark.parametrize(
    "facts, past, years",
    [
        ({}, {}, (2021, 2022, 2023, 2024, 2025, 2026)),
        ({}, {"normal_paid": (2021, 2027), "proxy_years": {2022}, "back_paid_years": {2023}}, (2024, 2025, 2026)),
        ({}, {"back_pending_years": {2025}, "normal_pending_years": {2027}}, (2021, 2022, 2023, 2024, 2026)),
        ({"basic_pension_paid_years": {2022, 2023, 2027}}, {}, (2022, 2023)),
        (
            {"basic_pension_paid_years": set(), "receiving_basic_pension": True, "birth_date": D("1962-03-01")},
            {},
            (2021, 2022, 2023, 2024, 2025, 2026),
        ),
        ({"birth_date": D("1958-06-01")}, {}, (2021, 2022, 2023)),
        ({}, {"lump_sum_years": 15}, ()),
        ({"deceased_on": D("2027-01-01")}, {}, ()),
    ],
    ids=[
        "all-missed-years",
        "covered-years-left-out",
        "pending-left-out",
        "only-years-with-basic-pension",
        "receiving-basic-pension",
        "stops-at-65",
        "cap-reached",
        "deceased",
    ],
)
def test_back_payment_years(shanxi, facts, past, years):
    assert back_payment_years(shanxi, resident(**facts), history(**past), TODAY) == years


@pytest.mark.parametrize(
    "facts, past, years, code, reason",
    [
        (
            {"birth_date": D("1956-01-02"), "receiving_basic_pension": True},
            {},
            5,
            "not_allowed",
            "lump_sum_not_eligible",
        ),
        ({"birth_date": D("1950-04-10")}, {}, 5, "not_allowed", "lump_sum_not_eligible"),
        (OLD, {"lump_sum_years": 3}, 2, "already_paid", None),
        (OLD, {"lump_sum_pending_years": 3}, 2, "order_pending", None),
        (OLD, {}, 16, "back_payment_limit", None),
        (OLD, {}, 0, "not_allowed", "invalid_years"),
        (OLD, {"back_paid_years": FOURTEEN}, 2, "back_payment_limit", None),
        ({**OLD, "deceased_on": D("2027-02-01")}, {}, 5, "deceased", None),
        ({**OLD, "registration_updated_on": TODAY}, {}, 5, "registration_updated_today", None),
    ],
    ids=[
        "64-at-scheme-start",
        "65-but-not-receiving",
        "only-once",
        "pending",
        "more-than-15",
        "zero-years",
        "14-back-paid-plus-2",
        "deceased",
        "registration-corrected-today",
    ],
)
def test_lump_sum_refusals(shanxi, facts, past, years, code, reason):
    decision = check_lump_sum(shanxi, resident(**facts), history(**past), NOW.year, years, 100000, NOW)
    assert (decision.allowed, decision.code, decision.reason) == (False, code, reason)


@pytest.mark.parametrize(
    "facts, past, years, amount",
    [
        (OLD, {}, 15, 1500000),
        (OLD, {}, 1, 100000),
        ({"birth_date": D("1956-01-01"), "receiving_basic_pension": True}, {}, 10, 1000000),
        (OLD, {"back_paid_years": FOURTEEN}, 1, 100000),
    ],
    ids=["15-years", "1-year", "65-on-scheme-start-day", "14-back-paid-plus-1-reaches-15"],
)
def test_lump_sum_allowed(shanxi, facts, past, years, amount):
    decision = check_lump_sum(shanxi, resident(**facts), history(**past), NOW.year, years, 100000, NOW)
    assert decision.allowed and decision.quote == Quote("lump_sum", amount, 0, 0, years=years)


def test_lump_sum_window_applies(shanxi):
    decision = check_lump_sum(shanxi, resident(**OLD), history(), 2027, 5, 100000, at("2027-09-01T00:00:00+08:00"))
    assert (decision.code, decision.opens_at) == ("window_closed", at("2028-01-01T00:00:00+08:00"))


@pytest.mark.parametrize(
    "year, reason",
    [(2000, "year_before_scheme"), (2021, "not_current_year"), (2026, "not_current_year"), (2028, "future_year")],
)
def test_a_lump_sum_is_recorded_for_the_current_year_only(shanxi, year, reason):
    decision = check_lump_sum(shanxi, resident(**OLD), history(), year, 5, 100000, NOW)
    assert (decision.allowed, decision.code, decision.reason) == (False, "not_allowed", reason)
    assert check_lump_sum(shanxi, resident(**OLD), history(), NOW.year, 5, 100000, NOW).allowed


@pytest.mark.parametrize("category", ["dibao", "tekun", "severe_disability"])
def test_proxy_payment_for_each_hardship_category(with_collective, category):
    # R2 prerequisites do not hold back the government's payment (no basic pension record, corrected today).
    facts = resident(categories={category}, basic_pension_paid_years=set(), registration_updated_on=TODAY)
    decision = check_proxy(with_collective, facts, history(), 2027, NOW)
    assert decision.allowed and decision.quote == Quote("proxy", 20000, 7000, 0)


@pytest.mark.parametrize(
    "facts, past, year, now, code, reason",
    [
        ({"categories": {"low_income"}}, {}, 2027, NOW, "not_allowed", "not_hardship"),
        ({"categories": set()}, {}, 2027, NOW, "not_allowed", "not_hardship"),
        ({}, {"proxy_years": {2027}}, 2027, NOW, "already_paid", None),
        ({}, {"normal_paid": (2027,)}, 2027, NOW, "already_paid", None),
        ({}, {}, 2026, NOW, "not_allowed", "not_current_year"),
        ({"deceased_on": D("2027-01-10")}, {}, 2027, NOW, "deceased", None),
        ({"birth_date": D("1950-04-10")}, {}, 2027, NOW, "not_allowed", "over_benefit_age"),
        ({}, {}, 2027, at("2027-07-01T09:00:00+08:00"), "window_closed", None),
    ],
    ids=[
        "low-income-is-not-hardship",
        "no-category",
        "done-already",
        "paid-by-resident-before",
        "past-year",
        "deceased",
        "over-65",
        "window-closed",
    ],
)
def test_proxy_payment_refusals(shanxi, facts, past, year, now, code, reason):
    facts = resident(**{"categories": {"dibao"}, **facts})
    decision = check_proxy(shanxi, facts, history(**past), year, now)
    assert (decision.allowed, decision.code, decision.reason) == (False, code, reason)


def test_options_for_a_regular_resident(shanxi):
    options = contribution_options(shanxi, resident(), history(normal_paid=(2021, 2022)), NOW)
    assert options.year == 2027 and options.window.open
    assert [(t.amount_fen, t.subsidy_fen) for t in options.tiers][0] == (20000, 7000)
    assert (options.normal.allowed, options.normal.why) == (True, None)
    assert options.back_payment.years == (2023, 2024, 2025, 2026)
    assert options.back_payment.remaining_years == 15
    assert (options.lump_sum_max_years, options.paid_by_government) == (0, False)


@pytest.mark.parametrize(
    "facts, past, now, why, government",
    [
        ({"categories": {"tekun"}}, {}, NOW, "paid_by_government", True),
        ({}, {"proxy_years": {2027}}, NOW, "already_paid", True),
        ({}, {"normal_paid": (2027,)}, NOW, "already_paid", False),
        ({}, {}, at("2027-06-30T12:00:00+08:00"), "window_closed", False),
        ({"basic_pension_paid_years": {2026}}, {}, NOW, "basic_pension_unpaid", False),
    ],
    ids=["hardship", "proxy-paid-this-year", "paid", "window-closed", "basic-pension-unpaid"],
)
def test_options_normal_reason(shanxi, facts, past, now, why, government):
    options = contribution_options(shanxi, resident(**facts), history(**past), now)
    assert (options.normal.allowed, options.normal.why, options.paid_by_government) == (False, why, government)


@pytest.mark.parametrize(
    "facts, past, remaining, lump",
    [
        (OLD, {}, 15, 15),
        (OLD, {"back_paid_years": {2019, 2020}}, 13, 13),
        (OLD, {"lump_sum_years": 4}, 11, 0),
        ({"birth_date": D("1950-04-10")}, {}, 15, 0),
    ],
    ids=["eligible", "cap-shrinks-it", "already-made", "not-receiving"],
)
def test_options_lump_sum(shanxi, facts, past, remaining, lump):
    options = contribution_options(shanxi, resident(**facts), history(**past), NOW)
    assert (options.back_payment.years, options.back_payment.remaining_years) == ((), remaining)
    assert options.lump_sum_max_years == lump
