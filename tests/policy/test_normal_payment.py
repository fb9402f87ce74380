"""Normal payments: R2 prerequisites, R3 tiers and subsidy, R4 window, R5 once a year, R7, R8."""

from __future__ import annotations

import pytest

from policy.rules import Quote, check_normal, collective_subsidy, normal_status

from .factories import NOW, D, at, history, resident

REFUSALS = [
    # (resident overrides, history overrides, year, tier_fen, now, code, reason)
    ({}, {}, 2027, 30000, NOW, "invalid_tier", None),
    ({}, {}, 2027, 100001, NOW, "invalid_tier", None),
    ({}, {}, 2027, 100000, "2027-06-26T00:00:00+08:00", "window_closed", None),
    ({}, {}, 2027, 100000, "2027-03-25T16:30:00Z", "window_closed", None),
    ({"deceased_on": D("2027-01-05")}, {}, 2027, 100000, NOW, "deceased", None),
    ({"basic_pension_paid_years": {2025, 2026}}, {}, 2027, 100000, NOW, "basic_pension_unpaid", None),
    ({"registration_updated_on": D("2027-03-02")}, {}, 2027, 100000, NOW, "registration_updated_today", None),
    (
        {"registration_updated_on": D("2027-03-02")},
        {},
        2027,
        100000,
        "2027-03-01T16:30:00Z",
        "registration_updated_today",
        None,
    ),
    ({}, {}, 2026, 100000, NOW, "not_allowed", "not_current_year"),
    ({}, {}, 2028, 100000, NOW, "not_allowed", "future_year"),
    ({}, {}, 2020, 100000, NOW, "not_allowed", "year_before_scheme"),
    ({"birth_date": D("1962-01-01")}, {}, 2027, 100000, NOW, "not_allowed", "over_benefit_age"),
    ({"categories": {"dibao"}}, {}, 2027, 100000, NOW, "not_allowed", "paid_by_government"),
    ({"categories": {"tekun"}}, {}, 2027, 100000, NOW, "not_allowed", "paid_by_government"),
    ({"categories": {"severe_disability"}}, {}, 2027, 100000, NOW, "not_allowed", "paid_by_government"),
    ({}, {"normal_paid": (2027,)}, 2027, 100000, NOW, "already_paid", None),
    ({}, {"proxy_years": {2027}}, 2027, 100000, NOW, "already_paid", None),
    ({}, {"normal_pending_years": {2027}}, 2027, 100000, NOW, "order_pending", None),
]
REFUSAL_IDS = [
    "tier-300-yuan-not-offered",
    "tier-off-by-one-fen",
    "window-26-june",
    "window-26-march-beijing",
    "deceased",
    "basic-pension-2027-unpaid",
    "registration-corrected-today",
    "registration-corrected-today-seen-from-utc",
    "past-year",
    "future-year",
    "before-scheme",
    "65-on-1-january",
    "dibao",
    "tekun",
    "severe-disability",
    "one-per-year",
    "proxy-paid-year",
    "pending-order",
]


@pytest.mark.parametrize("facts, past, year, tier, now, code, reason", REFUSALS, ids=REFUSAL_IDS)
def test_normal_payment_refusals(shanxi, facts, past, year, tier, now, code, reason):
    now = at(now) if isinstance(now, str) else now
    decision = check_normal(shanxi, resident(**facts), history(**past), year, tier, now)
    assert (decision.allowed, decision.code, decision.reason, decision.quote) == (False, code, reason, None)


def test_window_refusal_says_when_it_opens(shanxi):
    decision = check_normal(shanxi, resident(), history(), 2027, 100000, at("2027-06-26T00:00:00+08:00"))
    assert decision.opens_at == at("2028-01-01T00:00:00+08:00")


@pytest.mark.parametrize(
    "tier, subsidy",
    [(20000, 7000), (50000, 12000), (100000, 20000), (200000, 36000), (500000, 60000)],
    ids=["200", "500", "1000", "2000", "5000"],
)
def test_each_tier_gets_its_subsidy(shanxi, tier, subsidy):
    decision = check_normal(shanxi, resident(), history(), 2027, tier, NOW)
    assert decision.allowed and decision.code is None
    assert decision.quote == Quote("normal", tier, subsidy, 0)


@pytest.mark.parametrize(
    "facts, now",
    [
        ({"registration_updated_on": D("2027-03-01")}, NOW),
        ({"basic_pension_paid_years": set(), "receiving_basic_pension": True}, NOW),
        ({"categories": {"low_income"}}, NOW),
        ({"birth_date": D("1962-03-01")}, NOW),
        ({}, "2027-06-25T23:59:59+08:00"),
        ({}, "2027-03-25T15:59:59Z"),
        ({"deceased_on": None}, NOW),
    ],
    ids=[
        "registration-corrected-yesterday",
        "receiving-basic-pension-instead",
        "low-income-pays-itself",
        "year-of-65th-birthday",
        "last-second-of-window",
        "utc-still-25th-in-beijing",
        "alive",
    ],
)
def test_normal_payment_allowed(shanxi, facts, now):
    now = at(now) if isinstance(now, str) else now
    assert check_normal(shanxi, resident(**facts), history(), 2027, 50000, now).allowed


@pytest.mark.parametrize(
    "birth, amount",
    [("1977-03-03", 0), ("1977-03-02", 5000), ("1962-03-03", 5000), ("1962-03-02", 0)],
    ids=["49-the-day-before-50th", "50-on-birthday", "64-the-day-before-65th", "65-on-birthday"],
)
def test_collective_subsidy_by_age_on_payment_date(with_collective, birth, amount):
    facts = resident(birth_date=D(birth))
    decision = check_normal(with_collective, facts, history(), 2027, 20000, NOW)
    assert decision.allowed and decision.quote.collective_subsidy_fen == amount
    assert collective_subsidy(with_collective, facts, 2027, NOW.date()) == amount


@pytest.mark.parametrize(
    "region, year, amount",
    [("140105", 2027, 5000), ("140106", 2027, 0), ("140105", 2026, 0)],
    ids=["region-and-year-listed", "other-region", "other-year"],
)
def test_collective_subsidy_is_per_region_and_year(with_collective, region, year, amount):
    assert collective_subsidy(with_collective, resident(region_code=region), year, NOW.date()) == amount


def test_normal_status_ignores_the_tier(shanxi):
    assert normal_status(shanxi, resident(), history(), 2027, NOW).allowed
    refused = normal_status(shanxi, resident(categories={"dibao"}), history(), 2027, NOW)
    assert (refused.code, refused.reason, refused.why) == ("not_allowed", "paid_by_government", "paid_by_government")
