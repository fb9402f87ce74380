"""Ages, required years (R11) and cumulative years."""

from __future__ import annotations

import datetime as dt

import pytest

from policy.years import age_on, month_after_birthday, payable_year, required_years

from .factories import D, history


@pytest.mark.parametrize(
    "birth, day, age",
    [
        ("1962-03-01", "2027-02-28", 64),
        ("1962-03-01", "2027-03-01", 65),
        ("1960-02-29", "2025-02-28", 64),
        ("1960-02-29", "2025-03-01", 65),
        ("1960-02-29", "2024-02-29", 64),
        ("1956-01-01", "2021-01-01", 65),
        ("1956-01-02", "2021-01-01", 64),
    ],
    ids=[
        "day-before-birthday",
        "on-birthday",
        "leap-born-28-feb-common-year",
        "leap-born-1-march-common-year",
        "leap-born-leap-year",
        "born-1-jan",
        "born-2-jan",
    ],
)
def test_age_on(birth, day, age):
    assert age_on(D(birth), D(day)) == age


@pytest.mark.parametrize(
    "birth, age, month",
    [
        ("1962-03-01", 65, "2027-04-01"),
        ("1962-12-31", 65, "2028-01-01"),
        ("1960-02-29", 65, "2025-04-01"),
        ("1947-05-20", 80, "2027-06-01"),
    ],
    ids=["march-birthday", "december-birthday-rolls-year", "leap-born-common-year", "80th"],
)
def test_month_after_birthday(birth, age, month):
    assert month_after_birthday(D(birth), age) == D(month)


@pytest.mark.parametrize(
    "birth, required",
    [
        ("1990-06-15", 15),
        ("1971-01-01", 15),
        ("1966-01-01", 10),
        ("1962-03-01", 7),
        ("1956-06-01", 1),
        ("1956-01-02", 1),
        ("1956-01-01", 0),
        ("1940-07-07", 0),
        ("1964-02-29", 9),
    ],
    ids=[
        "young",
        "exactly-50-at-start",
        "55-at-start",
        "58-at-start",
        "64-at-start",
        "64-born-2-jan",
        "65-born-1-jan",
        "81-at-start",
        "leap-born-56-at-start",
    ],
)
def test_required_years(shanxi, birth, required):
    assert required_years(shanxi, D(birth)) == required


@pytest.mark.parametrize(
    "birth, year, payable",
    [("1962-03-01", 2027, True), ("1962-03-01", 2028, False), ("1956-01-01", 2021, False), ("1956-01-02", 2021, True)],
    ids=["year-of-65th-birthday", "year-after", "65-on-1-jan", "64-on-1-jan"],
)
def test_payable_year(shanxi, birth, year, payable):
    assert payable_year(shanxi, D(birth), year) is payable


def test_required_years_equal_the_payable_years_until_65(shanxi):
    birth = D("1962-03-01")
    payable = [y for y in range(2021, 2040) if payable_year(shanxi, birth, y)]
    assert payable == list(range(2021, 2028)) and len(payable) == required_years(shanxi, birth)


@pytest.mark.parametrize(
    "kwargs, years",
    [
        ({}, 0),
        ({"normal_paid": (2021, 2022), "proxy_years": {2023}, "back_paid_years": {2024}}, 4),
        ({"normal_paid": (2023, 2023), "back_paid_years": {2021}}, 2),
        ({"lump_sum_years": 15}, 15),
        ({"normal_paid": (2027,), "normal_pending_years": {2026}, "back_pending_years": {2025}}, 1),
    ],
    ids=["nothing", "each-kind-once", "two-payments-one-year", "lump-sum", "pending-not-counted"],
)
def test_cumulative_years(kwargs, years):
    assert history(**kwargs).cumulative_years == years


@pytest.mark.parametrize("born_in", [1956, 1960, 1961])  # a common year, a leap year, the year after
def test_the_last_payable_year_is_where_the_benefit_age_on_1_january_begins(shanxi, born_in):
    """`payable_year` scans no years: it must say what the age on each 1 January says, for every birthday."""
    day, last = dt.date(born_in, 1, 1), dt.date(born_in, 12, 31)
    while day <= last:
        expected = [y for y in range(2015, 2035) if age_on(day, dt.date(y, 1, 1)) < shanxi.benefit_age]
        assert [y for y in range(2015, 2035) if payable_year(shanxi, day, y)] == expected, day
        day += dt.timedelta(days=1)
