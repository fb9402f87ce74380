"""R10 interest, R11 eligibility, status, monthly benefit and estimate, R12 death."""

from __future__ import annotations

import pytest

from policy.benefits import (
    Credited,
    account_status,
    benefit_start,
    eligibility,
    estimate_benefit,
    first_benefit_month,
    in_payment,
    low_income_supplement_applies,
    monthly_benefit,
    pension_of,
)
from policy.interest import yearly_interest

from .factories import NOW, D, at, history, resident

SEVEN = {"normal_paid": tuple(range(2021, 2028))}  # 2021–2027
BORN_1962 = {"birth_date": D("1962-03-01"), "receiving_basic_pension": True}  # required 7 years


@pytest.mark.parametrize(
    "balance, year, interest",
    [(1_000_000, 2027, 15_000), (333_333, 2027, 5_000), (66, 2027, 1), (100, 2027, 2), (33, 2027, 0), (0, 2027, 0)],
    ids=["round-sum", "4999.995-up", "0.99-up", "half-a-fen-up", "0.495-down", "empty"],
)
def test_yearly_interest_rounds_to_the_nearest_fen_half_up(shanxi, balance, year, interest):
    assert yearly_interest(shanxi, year, balance) == interest


def test_interest_rate_per_year_comes_from_the_data(tmp_path):
    from policy.data import load_standards

    extra = tmp_path / "rates.json"
    extra.write_text(
        '{"name": "shanxi-2021", "base": "shanxi-2021", "interest_rates_bp": {"default": 150, "2026": 210}}'
    )
    standard = load_standards(extra).named("shanxi-2021")
    assert yearly_interest(standard, 2026, 1_000_000) == 21_000
    assert yearly_interest(standard, 2027, 1_000_000) == 15_000


def test_negative_balance_is_a_bug(shanxi):
    with pytest.raises(ValueError):
        yearly_interest(shanxi, 2027, -1)


@pytest.mark.parametrize(
    "facts, past, on, reasons",
    [
        (BORN_1962, SEVEN, "2027-04-01", ()),
        (BORN_1962, SEVEN, "2027-03-31", ("under_age",)),
        (BORN_1962, {"normal_paid": tuple(range(2021, 2027))}, "2027-04-01", ("insufficient_years",)),
        (
            BORN_1962,
            {"normal_paid": (2021, 2022, 2023), "back_paid_years": {2024, 2025}, "proxy_years": {2026, 2027}},
            "2027-04-01",
            (),
        ),
        ({**BORN_1962, "receiving_basic_pension": False}, SEVEN, "2027-04-01", ("not_receiving_basic_pension",)),
        ({**BORN_1962, "deceased_on": D("2027-05-10")}, SEVEN, "2027-05-31", ()),
        ({**BORN_1962, "deceased_on": D("2027-05-10")}, SEVEN, "2027-06-01", ("deceased",)),
        ({"birth_date": D("1950-04-10"), "receiving_basic_pension": True}, {}, "2021-01-01", ()),
        ({"birth_date": D("1950-04-10"), "receiving_basic_pension": True}, {"lump_sum_years": 15}, "2027-03-02", ()),
        ({}, {}, "2027-03-02", ("under_age", "not_receiving_basic_pension", "insufficient_years")),
    ],
    ids=[
        "eligible-month-after-65th",
        "birthday-month",
        "six-of-seven-years",
        "years-of-every-kind",
        "not-receiving-basic-pension",
        "through-month-of-death",
        "month-after-death",
        "65-at-scheme-start-needs-nothing",
        "with-lump-sum",
        "young-contributor",
    ],
)
def test_eligibility(shanxi, facts, past, on, reasons):
    result = eligibility(shanxi, resident(**facts), history(**past), D(on))
    assert (result.eligible, result.reasons) == (not reasons, reasons)


@pytest.mark.parametrize(
    "birth, start",
    [("1962-03-01", "2027-04-01"), ("1960-02-29", "2025-04-01"), ("1950-04-10", "2021-01-01")],
    ids=["month-after-65th", "leap-born", "already-65-at-scheme-start"],
)
def test_benefit_start(shanxi, birth, start):
    assert benefit_start(shanxi, D(birth)) == D(start)


@pytest.mark.parametrize(
    "facts, past, on, started, status",
    [
        ({}, {}, "2027-03-02", None, "contributing"),
        (BORN_1962, SEVEN, "2027-04-10", None, "eligible"),
        (BORN_1962, SEVEN, "2027-05-10", "2027-05-01", "receiving"),
        (BORN_1962, SEVEN, "2027-04-10", "2027-05-01", "eligible"),
        ({**BORN_1962, "deceased_on": D("2027-06-02")}, SEVEN, "2027-06-10", "2027-05-01", "closed"),
        ({"deceased_on": D("2027-01-02")}, {}, "2027-03-02", None, "closed"),
    ],
    ids=[
        "contributing",
        "eligible",
        "receiving",
        "start-recorded-for-later",
        "deceased-receiver",
        "deceased-contributor",
    ],
)
def test_account_status(shanxi, facts, past, on, started, status):
    started, facts = D(started) if started else None, resident(**facts)
    eligible = eligibility(shanxi, facts, history(**past), D(on))
    assert account_status(facts, eligible, D(on), started) == status


OLD_80 = {"birth_date": D("1947-05-20"), "receiving_basic_pension": True}


@pytest.mark.parametrize(
    "facts, balance, month, pension, exit_subsidy, monthly",  # exit_subsidy here: with the supplements
    [
        (BORN_1962, 1_000_000, "2027-04-01", 8_333, 2_000, 10_333),
        (BORN_1962, 119, "2027-04-01", 0, 2_000, 2_000),
        (BORN_1962, 0, "2027-04-01", 0, 2_000, 2_000),
        (OLD_80, 240_000, "2027-05-31", 2_000, 2_000, 4_000),
        (OLD_80, 240_000, "2027-06-01", 2_000, 3_000, 5_000),
        (
            {**BORN_1962, "categories": {"low_income"}, "supporter_capable": False},
            1_200_000,
            "2027-04-01",
            10_000,
            22_000,
            32_000,
        ),
        ({**OLD_80, "categories": {"low_income"}, "supporter_capable": False}, 0, "2027-07-01", 0, 23_000, 23_000),
        (
            {**BORN_1962, "categories": {"low_income", "dibao"}, "supporter_capable": False},
            1_200_000,
            "2027-04-01",
            10_000,
            2_000,
            12_000,
        ),
        (
            {**BORN_1962, "categories": {"low_income", "tekun"}, "supporter_capable": False},
            0,
            "2027-04-01",
            0,
            2_000,
            2_000,
        ),
        (
            {**BORN_1962, "categories": {"low_income", "severe_disability"}, "supporter_capable": False},
            0,
            "2027-04-01",
            0,
            22_000,
            22_000,
        ),
        ({**BORN_1962, "categories": {"low_income"}, "supporter_capable": True}, 0, "2027-04-01", 0, 2_000, 2_000),
    ],
    ids=[
        "balance-over-120-rounded-down",
        "under-120-fen",
        "empty-account",
        "month-of-80th-birthday",
        "month-after-80th",
        "low-income-no-supporter",
        "low-income-and-80-plus",
        "not-with-dibao",
        "not-with-tekun",
        "combinable-with-severe-disability",
        "capable-supporter",
    ],
)
def test_monthly_benefit(shanxi, facts, balance, month, pension, exit_subsidy, monthly):
    benefit = monthly_benefit(shanxi, resident(**facts), balance, D(month))
    got = (benefit.account_pension_fen, benefit.exit_subsidy_fen + benefit.supplements_fen, benefit.monthly_fen)
    assert got == (pension, exit_subsidy, monthly)
    assert benefit.exit_subsidy_fen in (2_000, 3_000)  # 20 yuan, +10 from 80; the 200 is a supplement


def test_a_regions_collective_exit_subsidy_is_a_supplement(tmp_path):
    from policy.data import load_standards

    extra = tmp_path / "exit.json"
    extra.write_text(
        '{"name": "shanxi-2021", "base": "shanxi-2021", "collective_exit_subsidies_fen": {"140121": {"2027": 1500}}}'
    )
    standard = load_standards(extra).named("shanxi-2021")
    there = monthly_benefit(standard, resident(**{**BORN_1962, "region_code": "140121"}), 0, D("2027-04-01"))
    elsewhere = monthly_benefit(standard, resident(**BORN_1962), 0, D("2027-04-01"))
    next_year = monthly_benefit(standard, resident(**{**BORN_1962, "region_code": "140121"}), 0, D("2028-01-01"))
    assert (there.supplements_fen, there.monthly_fen) == (1_500, 3_500)
    assert (elsewhere.supplements_fen, next_year.supplements_fen) == (0, 0)


def test_a_bad_collective_exit_subsidy_is_refused(tmp_path):
    from policy.data import PolicyDataError, load_standards

    extra = tmp_path / "exit.json"
    extra.write_text('{"name": "shanxi-2021", "base": "shanxi-2021", "collective_exit_subsidies_fen": {"14": {}}}')
    with pytest.raises(PolicyDataError, match="collective_exit_subsidies_fen.14"):
        load_standards(extra)


@pytest.mark.parametrize(
    "birth, paid, first",
    [
        ("1950-03-10", [], "2021-01-01"),  # already 65 at the scheme start: nothing required
        ("1962-01-15", [(f"{y}-03-02", y, 0) for y in range(2021, 2027)] + [("2027-01-05", 2027, 0)], "2027-02-01"),
        ("1962-01-15", [(f"{y}-03-02", y, 0) for y in range(2021, 2027)], None),  # six of seven years
        # The seventh year back-paid after the 65th birthday: from the month after it was paid.
        ("1962-01-15", [(f"{y}-03-02", y, 0) for y in range(2021, 2027)] + [("2027-05-20", 2027, 0)], "2027-06-01"),
        # Paying one year twice counts once.
        ("1962-01-15", [(f"{y}-03-02", y, 0) for y in range(2021, 2027)] + [("2027-01-05", 2026, 0)], None),
        # 60 at the scheme start (5 years): four years and a lump sum are not the same year twice.
        ("1960-03-10", [("2021-03-02", 2021, 0), ("2021-04-02", None, 4)], "2025-04-01"),
    ],
    ids=["old", "seven-in-time", "six-of-seven", "late-back-payment", "same-year-twice", "lump-sum"],
)
def test_the_first_benefit_month(shanxi, birth, paid, first):
    credited = [Credited(D(on), year, lump) for on, year, lump in paid]
    got = first_benefit_month(shanxi, resident(birth_date=D(birth), receiving_basic_pension=True), credited)
    assert got == (D(first) if first else None)


@pytest.mark.parametrize("amount, pension", [(840_000, 7_000), (7_500_000, 62_500), (119, 0), (239, 1)])
def test_an_amount_buys_a_120th_rounded_down(shanxi, amount, pension):
    assert pension_of(shanxi, amount) == pension


def test_low_income_rule(shanxi):
    assert low_income_supplement_applies(shanxi, resident(categories={"low_income"}, supporter_capable=False))
    assert not low_income_supplement_applies(shanxi, resident(supporter_capable=False))


def test_estimate_projects_tier_subsidy_and_interest(shanxi):
    # 56 in 2027: pays 200 + 70 yuan for 2027–2035; interest each 31 Dec 2027–2034; starts June 2035.
    estimate = estimate_benefit(shanxi, resident(), history(normal_paid=range(2021, 2027)), 0, NOW, 20000)
    assert (estimate.starts_on, estimate.balance_at_start_fen) == (D("2035-06-01"), 258_102)
    assert (estimate.benefit.account_pension_fen, estimate.benefit.monthly_fen) == (2_150, 4_150)
    assert estimate.assumptions[:3] == (
        "当前账户余额0元",
        "2027—2035年共9个年度每年按200元档次缴费，政府补贴70元",
        "记账利率按每年1.50%估算，每年12月31日计息",
    )


def test_estimate_first_steps_by_hand(shanxi):
    # Born 1964-01-15: under 65 on 1 January of 2027, 2028 and 2029 (the required 9th year), so pays
    # those three; interest on 31 Dec 2027 and 2028; benefits from February 2029.
    facts = resident(birth_date=D("1964-01-15"))
    estimate = estimate_benefit(shanxi, facts, history(normal_paid=range(2021, 2027)), 100_000, NOW, 100000)
    after_2027 = ((100_000 + 120_000) * 10150 + 5000) // 10000  # 223_300
    after_2028 = ((after_2027 + 120_000) * 10150 + 5000) // 10000  # 348_450 (348_449.5 rounded half up)
    assert (after_2027, after_2028) == (223_300, 348_450)
    assert (estimate.starts_on, estimate.balance_at_start_fen) == (D("2029-02-01"), after_2028 + 120_000)
    assert estimate.benefit.account_pension_fen == 468_450 // 120 == 3_903


@pytest.mark.parametrize(
    "now, past, balance, tier, first_line",
    [
        ("2027-08-01T00:00:00+08:00", {}, 227_687, 20000, "2028—2035年共8个年度每年按200元档次缴费，政府补贴70元"),
        (
            "2027-03-02T10:00:00+08:00",
            {"normal_paid": (2027,)},
            227_687,
            20000,
            "2028—2035年共8个年度每年按200元档次缴费，政府补贴70元",
        ),
        ("2027-03-02T10:00:00+08:00", {}, 258_102, None, "2027—2035年共9个年度每年按200元档次缴费，政府补贴70元"),
        ("2027-03-02T10:00:00+08:00", {}, 258_102, 30000, "2027—2035年共9个年度每年按200元档次缴费，政府补贴70元"),
    ],
    ids=["window-over-this-year", "this-year-paid", "no-tier-means-lowest", "unknown-tier-falls-back"],
)
def test_estimate_years_paid(shanxi, now, past, balance, tier, first_line):
    estimate = estimate_benefit(shanxi, resident(), history(**past), 0, at(now), tier)
    assert (estimate.balance_at_start_fen, estimate.assumptions[1]) == (balance, first_line)


def test_estimate_for_someone_past_the_start_uses_the_balance(shanxi):
    estimate = estimate_benefit(shanxi, resident(**OLD_80), history(), 240_000, NOW, 20000)
    assert (estimate.balance_at_start_fen, estimate.benefit.monthly_fen) == (240_000, 4_000)
    assert estimate.assumptions == ("按当前账户余额2400元计算",)


def test_estimate_with_no_year_left_to_pay(shanxi):
    # Born 1962-04-01: 2027 is the last payable year (64 on 1 January) and it is paid.
    facts = resident(birth_date=D("1962-04-01"))
    estimate = estimate_benefit(shanxi, facts, history(normal_paid=(2027,)), 100_000, NOW, 100000)
    assert estimate.assumptions[1] == "此后不再缴费"
    assert estimate.starts_on == D("2027-05-01") and estimate.balance_at_start_fen == 100_000


@pytest.mark.parametrize(
    "now, past, says, monthly",
    [
        # Born 1962-09-01: 7 years required (2021–2027), 65 in September 2027.
        ("2027-03-02T10:00:00+08:00", {"normal_paid": tuple(range(2021, 2027))}, None, 2_000),
        ("2027-03-02T10:00:00+08:00", {}, "须再补缴6个年度才能按月领取", 2_000),
        # The 2027 window is over: at most the six past years, never the seven required.
        ("2027-08-01T10:00:00+08:00", {}, "最多累计6年（含可补缴的6个年度），达不到所需7年", 0),
    ],
    ids=["reached-by-paying", "reached-only-by-back-payments", "cannot-be-reached"],
)
def test_the_estimate_says_when_the_required_years_are_not_reached(shanxi, now, past, says, monthly):
    facts = resident(birth_date=D("1962-09-01"), receiving_basic_pension=True)
    estimate = estimate_benefit(shanxi, facts, history(**past), 0, at(now), 100000)
    told = next((line for line in estimate.assumptions if "所需" in line), None)
    assert told is None if says is None else says in told
    # Reachable: the projected pension plus the exit subsidy; not reachable: nothing is promised.
    assert estimate.benefit.monthly_fen - estimate.benefit.account_pension_fen == monthly
    assert (estimate.benefit.account_pension_fen > 0) == (monthly > 0)


def test_the_benefit_in_payment_is_the_fixed_pension_with_this_months_parts(shanxi):
    facts = resident(birth_date=D("1947-05-10"), categories={"low_income"}, supporter_capable=False)
    paid = in_payment(shanxi, facts, 7_000, D("2021-01-01"), D("2027-06-15"))
    assert (paid.benefit.account_pension_fen, paid.benefit.exit_subsidy_fen, paid.benefit.monthly_fen) == (
        7_000,
        3_000,
        7_000 + 3_000 + 20_000,
    )
    assert paid.starts_on == D("2021-01-01") and "终身不变" in paid.assumptions[0]
