"""Benefits R11–R12: eligibility, account status, the monthly benefit and its estimate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from policy.facts import ContributionHistory, ResidentFacts
from policy.interest import percent_text, yearly_interest
from policy.rules import remaining_back_years
from policy.standard import Standard
from policy.window import local_date, window_state
from policy.years import first_of_next_month, last_payable_year, month_after_birthday, required_years


class Ineligible(StrEnum):
    DECEASED = "deceased"
    UNDER_AGE = "under_age"
    NOT_RECEIVING_BASIC_PENSION = "not_receiving_basic_pension"
    INSUFFICIENT_YEARS = "insufficient_years"


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[Ineligible, ...]


@dataclass(frozen=True)
class Benefit:
    account_pension_fen: int  # balance at the start of benefits ÷ 120, rounded down; fixed for life
    base_exit_subsidy_fen: int
    age_supplement_fen: int  # +10 yuan from the month after the 80th birthday
    low_income_supplement_fen: int  # +200 yuan
    collective_exit_subsidy_fen: int = 0  # the region's 集体补助出口补, where it sets one

    @property
    def exit_subsidy_fen(self) -> int:
        """出口补: 20 yuan, +10 from the month after the 80th birthday."""
        return self.base_exit_subsidy_fen + self.age_supplement_fen

    @property
    def supplements_fen(self) -> int:
        """The low-income supplement and the collective exit subsidy."""
        return self.low_income_supplement_fen + self.collective_exit_subsidy_fen

    @property
    def monthly_fen(self) -> int:
        return self.account_pension_fen + self.exit_subsidy_fen + self.supplements_fen


@dataclass(frozen=True)
class Estimate:
    benefit: Benefit
    starts_on: dt.date
    balance_at_start_fen: int
    assumptions: tuple[str, ...]


def benefit_start(standard: Standard, birth_date: dt.date) -> dt.date:
    """The first benefit month: the month after the 65th birthday, not before the scheme start."""
    return max(month_after_birthday(birth_date, standard.benefit_age), standard.scheme_start)


def eligibility(standard: Standard, facts: ResidentFacts, history: ContributionHistory, on: dt.date) -> Eligibility:
    """R11 on a date; a resident stays eligible through the month of death (R12)."""
    dead = facts.deceased_on is not None and on >= first_of_next_month(facts.deceased_on)
    failed = {
        Ineligible.DECEASED: dead,
        Ineligible.UNDER_AGE: on < benefit_start(standard, facts.birth_date),
        Ineligible.NOT_RECEIVING_BASIC_PENSION: not facts.receiving_basic_pension,
        Ineligible.INSUFFICIENT_YEARS: history.cumulative_years < required_years(standard, facts.birth_date),
    }
    reasons = tuple(code for code, bad in failed.items() if bad)
    return Eligibility(not reasons, reasons)


def account_status(
    facts: ResidentFacts, judged: Eligibility, on: dt.date, benefit_started_on: dt.date | None = None
) -> str:
    """closed: deceased (contributions and benefits stop, the balance goes to the heirs);
    receiving: the first benefit was paid (`benefit_started_on`, recorded by the benefits run);
    eligible: meets R11 (`judged`: the resident's `eligibility` on `on`) but not yet paid;
    contributing: everyone else."""
    if facts.deceased_on is not None:
        return "closed"
    if benefit_started_on is not None and benefit_started_on <= on:
        return "receiving"
    return "eligible" if judged.eligible else "contributing"


def low_income_supplement_applies(standard: Standard, facts: ResidentFacts) -> bool:
    """Low income, no capable supporter, and not in 低保 or 特困 (not combinable with them)."""
    return (
        standard.low_income_category in facts.categories
        and not facts.supporter_capable
        and not facts.categories & standard.low_income_excluded_categories
    )


def monthly_benefit(standard: Standard, facts: ResidentFacts, balance_at_start_fen: int, month: dt.date) -> Benefit:
    """The benefit for the month containing `month`, from the balance when benefits started."""
    if balance_at_start_fen < 0:
        raise ValueError("the balance cannot be negative")
    first = month.replace(day=1)
    age_extra = sum(
        s.amount_fen for s in standard.age_supplements if first >= month_after_birthday(facts.birth_date, s.from_age)
    )
    low_income = standard.low_income_supplement_fen if low_income_supplement_applies(standard, facts) else 0
    collective = standard.collective_exit_subsidy_fen(facts.region_code, first.year)
    return Benefit(
        pension_of(standard, balance_at_start_fen), standard.exit_subsidy_fen, age_extra, low_income, collective
    )


def pension_of(standard: Standard, amount_fen: int) -> int:
    """The account pension an amount buys: ÷ 120, rounded down (the start balance, or a contribution
    credited after the start, which raises the pension by this from the next month)."""
    return amount_fen // standard.annuity_divisor


@dataclass(frozen=True)
class Credited:
    """A paid contribution as the start month needs it: when it was credited, what it counts for."""

    credited_on: dt.date  # local date
    covered_year: int | None  # a normal, back- or proxy payment's year; None for the lump sum
    lump_sum_years: int = 0


def first_benefit_month(standard: Standard, facts: ResidentFacts, paid: list[Credited]) -> dt.date | None:
    """R11: the first month due — the month after the 65th birthday (not before the scheme start), or
    the month after the contribution that completed the required years; None while they are not."""
    start, required = benefit_start(standard, facts.birth_date), required_years(standard, facts.birth_date)
    if required == 0:
        return start
    covered: set[int] = set()
    lump = 0
    for credit in sorted(paid, key=lambda c: c.credited_on):
        covered |= {credit.covered_year} if credit.covered_year is not None else set()
        lump += credit.lump_sum_years
        if len(covered) + lump >= required:
            return max(start, first_of_next_month(credit.credited_on))
    return None


def estimate_benefit(
    standard: Standard,
    facts: ResidentFacts,
    history: ContributionHistory,
    balance_fen: int,
    now: dt.datetime,
    tier_fen: int | None = None,
) -> Estimate:
    """R11 estimate: the balance projected to the benefit start with `tier_fen` (+ its subsidy)
    paid every remaining payable year and the bookkeeping rate credited every 31 December.

    `tier_fen` is the resident's current tier; None or an amount that is no tier of this standard
    falls back to the highest tier not above it (the lowest tier if none).
    """
    today, start = local_date(standard, now), benefit_start(standard, facts.birth_date)
    if today >= start:
        benefit = monthly_benefit(standard, facts, balance_fen, today)
        return Estimate(benefit, start, balance_fen, (f"按当前账户余额{_yuan(balance_fen)}元计算",))
    tier = _tier_at_most(standard, tier_fen)
    years = _years_to_pay(standard, facts, history, now, start)
    balance = _project(standard, balance_fen, years, tier, today, start)
    assumptions = _assumptions(standard, facts, balance_fen, years, tier, start)
    shortfall = _shortfall(standard, facts, history, years, today)
    if shortfall is None:
        return Estimate(monthly_benefit(standard, facts, balance, start), start, balance, assumptions)
    text, reachable = shortfall
    benefit = monthly_benefit(standard, facts, balance, start) if reachable else Benefit(0, 0, 0, 0)
    return Estimate(benefit, start, balance, (*assumptions, text))


def in_payment(
    standard: Standard, facts: ResidentFacts, pension_fen: int, started_on: dt.date, today: dt.date
) -> Estimate:
    """The benefit actually paid this month: the account pension fixed at the start (with the raises of
    contributions credited since), the exit subsidy and the supplements of this month (R11)."""
    parts = monthly_benefit(standard, facts, 0, today)
    benefit = Benefit(
        pension_fen,
        parts.base_exit_subsidy_fen,
        parts.age_supplement_fen,
        parts.low_income_supplement_fen,
        parts.collective_exit_subsidy_fen,
    )
    assumptions = (
        f"{started_on.year}年{started_on.month}月起按月领取，个人账户养老金{_yuan(pension_fen)}元"
        f"（领取时账户余额 ÷ {standard.annuity_divisor}，此后补缴的款项另加其 ÷ {standard.annuity_divisor}），终身不变",
        "账户余额用完后，个人账户养老金由基金继续按月支付",
    )
    return Estimate(benefit, started_on, 0, assumptions)


def _shortfall(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, years: tuple[int, ...], today: dt.date
) -> tuple[str, bool] | None:
    """None when paying every remaining year reaches the required years; else what the resident is told,
    and whether back-payments can still close the gap (R6)."""
    required, reached = required_years(standard, facts.birth_date), history.cumulative_years + len(years)
    if reached >= required:
        return None
    missing = required - reached
    # Past years still open to a back-payment (their basic-pension prerequisite is checked when paying).
    open_years = _unpaid_payable_years(standard, facts, history, standard.scheme_start.year, today.year - 1)
    back = min(len(open_years), remaining_back_years(standard, history))
    if back >= missing:
        return f"按此缴费到65岁累计{reached}年，不足所需{required}年：须再补缴{missing}个年度才能按月领取", True
    return (
        f"按此缴费到65岁最多累计{reached + back}年（含可补缴的{back}个年度），"
        f"达不到所需{required}年，届时不能按月领取待遇",
        False,
    )


def _tier_at_most(standard: Standard, amount_fen: int | None) -> int:
    fitting = [a for a in standard.tier_amounts if amount_fen is not None and a <= amount_fen]
    return fitting[-1] if fitting else standard.tier_amounts[0]


def _years_to_pay(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, now: dt.datetime, start: dt.date
) -> tuple[int, ...]:
    """Unpaid payable years from this year (if its window is not over) to the benefit start."""
    this_year = local_date(standard, now).year
    first = this_year if window_state(standard, now).opens_at.year == this_year else this_year + 1
    return _unpaid_payable_years(standard, facts, history, first, start.year)


def _unpaid_payable_years(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, first: int, last: int
) -> tuple[int, ...]:
    """The payable years from `first` to `last` (both included) that no paid contribution covers."""
    covered, stop = history.covered_years, min(last, last_payable_year(standard, facts.birth_date)) + 1
    return tuple(y for y in range(first, stop) if y not in covered)


def _project(
    standard: Standard, balance_fen: int, years: tuple[int, ...], tier_fen: int, today: dt.date, start: dt.date
) -> int:
    balance, yearly = balance_fen, tier_fen + (standard.subsidy_for(tier_fen) or 0)
    for year in range(today.year, start.year + 1):
        balance += yearly if year in years else 0
        if year < start.year:  # its 31 December falls between today and the start
            balance += yearly_interest(standard, year, balance)
    return balance


def _assumptions(
    standard: Standard, facts: ResidentFacts, balance_fen: int, years: tuple[int, ...], tier_fen: int, start: dt.date
) -> tuple[str, ...]:
    return (
        f"当前账户余额{_yuan(balance_fen)}元",
        _paying(standard, years, tier_fen),
        f"记账利率按每年{percent_text(standard.default_interest_rate_bp)}%估算，每年12月31日计息",
        "未计集体补助和社会资助",
        f"{start.year}年{start.month}月起领取，个人账户养老金 = 领取时账户余额 ÷ "
        f"{standard.annuity_divisor}（向下取整到分）",
        f"须累计缴费满{required_years(standard, facts.birth_date)}年且已领取基本养老金",
    )


def _paying(standard: Standard, years: tuple[int, ...], tier_fen: int) -> str:
    if not years:
        return "此后不再缴费"
    span = f"{years[0]}年" if len(years) == 1 else f"{years[0]}—{years[-1]}年共{len(years)}个年度"
    return f"{span}每年按{_yuan(tier_fen)}元档次缴费，政府补贴{_yuan(standard.subsidy_for(tier_fen) or 0)}元"


def _yuan(fen: int) -> str:
    return f"{fen // 100}" if fen % 100 == 0 else f"{fen // 100}.{fen % 100:02d}"
