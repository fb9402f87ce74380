"""A new standard is data only: a Ningxia-style file (6 tiers, two payments a year) drives the same rules."""

from __future__ import annotations

import pytest

from policy.benefits import estimate_benefit
from policy.data import load_standards
from policy.interest import yearly_interest
from policy.rules import Quote, check_normal, check_proxy, contribution_options
from policy.window import window_state

from .factories import NINGXIA, at, history, resident

AUGUST = at("2027-08-10T10:00:00+08:00")  # closed under Shanxi 2021, open under this standard


@pytest.fixture(scope="module")
def book():
    return load_standards([NINGXIA])


@pytest.fixture(scope="module")
def ningxia(book):
    return book.standard_for(AUGUST.date())


def test_the_extra_file_takes_over_from_its_effective_date(book, ningxia):
    assert ningxia.name == "ningxia-style-2023-example"
    assert book.standard_for(at("2022-03-01T00:00:00+08:00").date()).name == "shanxi-2021"
    assert window_state(ningxia, AUGUST).open and not window_state(book.named("shanxi-2021"), AUGUST).open


def test_six_tiers_offered(ningxia):
    options = contribution_options(ningxia, resident(), history(), AUGUST)
    assert [t.amount_fen for t in options.tiers] == [20000, 50000, 100000, 150000, 200000, 300000]
    assert options.normal.allowed


@pytest.mark.parametrize(
    "paid, allowed, code",
    [((), True, None), ((2027,), True, None), ((2027, 2027), False, "already_paid")],
    ids=["first-payment", "second-payment-same-year", "third-refused"],
)
def test_two_payments_a_year(ningxia, paid, allowed, code):
    decision = check_normal(ningxia, resident(), history(normal_paid=paid), 2027, 300000, AUGUST)
    assert (decision.allowed, decision.code) == (allowed, code)
    if allowed:
        assert (decision.quote.amount_fen, decision.quote.subsidy_fen) == (300000, 32000)


@pytest.mark.parametrize("paid, collective", [((), 8000), ((2027,), 0)], ids=["first", "second"])
def test_collective_subsidy_once_a_year(ningxia, paid, collective):
    facts = resident(region_code="640104")
    decision = check_normal(ningxia, facts, history(normal_paid=paid), 2027, 20000, AUGUST)
    assert decision.quote.collective_subsidy_fen == collective


def test_tier_of_the_old_standard_is_refused(ningxia):
    assert check_normal(ningxia, resident(), history(), 2027, 500000, AUGUST).code == "invalid_tier"


def test_proxy_tier_and_rates_follow_the_data(ningxia):
    decision = check_proxy(ningxia, resident(categories={"dibao"}), history(), 2027, AUGUST)
    assert decision.quote == Quote("proxy", 20000, 3000, 0)
    assert (yearly_interest(ningxia, 2023, 100_000), yearly_interest(ningxia, 2027, 100_000)) == (2_000, 1_750)
    estimate = estimate_benefit(ningxia, resident(), history(), 0, AUGUST, 300000)
    assert "每年按3000元档次缴费，政府补贴320元" in estimate.assumptions[1]
    assert "1.75%" in estimate.assumptions[2]
