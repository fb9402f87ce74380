"""Contribution rules R2–R8: may this payment be made now, and with which amounts.

Every check returns a `Decision`; refusals carry the API error `code` (API.md, Contributions) and,
for `not_allowed`, a `reason`. Checks run in one fixed order and the first refusal wins: request
validation (tier, lump-sum years), deceased, window, registration corrected today, year, age,
hardship, basic pension paid, already paid, pending order, back-payment cap (deceased and left the
province come right after the request validation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from policy.facts import ContributionHistory, ResidentFacts
from policy.kinds import ContributionKind
from policy.standard import Standard, Tier
from policy.window import WindowState, local_date, window_state
from policy.years import age_on, payable_year


class Code(StrEnum):
    WINDOW_CLOSED = "window_closed"
    INVALID_TIER = "invalid_tier"
    BASIC_PENSION_UNPAID = "basic_pension_unpaid"
    ALREADY_PAID = "already_paid"
    ORDER_PENDING = "order_pending"
    REGISTRATION_UPDATED_TODAY = "registration_updated_today"
    BACK_PAYMENT_LIMIT = "back_payment_limit"
    NOT_ALLOWED = "not_allowed"
    DECEASED = "deceased"


class Reason(StrEnum):
    """Sub-codes of `not_allowed`."""

    PAID_BY_GOVERNMENT = "paid_by_government"  # R7 hardship resident: the county pays this year
    NOT_CURRENT_YEAR = "not_current_year"  # a normal or proxy payment for a past year
    CURRENT_YEAR = "current_year"  # a back-payment for the current year (pay it normally)
    FUTURE_YEAR = "future_year"
    YEAR_BEFORE_SCHEME = "year_before_scheme"
    OVER_BENEFIT_AGE = "over_benefit_age"  # already 65 on 1 January of that year
    YEAR_ALREADY_PAID = "year_already_paid"  # back-payment for a year that has a contribution
    LUMP_SUM_NOT_ELIGIBLE = "lump_sum_not_eligible"
    INVALID_YEARS = "invalid_years"  # lump sum of fewer than one year
    NOT_HARDSHIP = "not_hardship"  # proxy payment for a resident in no hardship category
    LEFT_PROVINCE = "left_province"  # the registry no longer lists the person as enrolled in Shanxi


@dataclass(frozen=True)
class Quote:
    """What an allowed payment costs and brings: personal amount and the subsidies credited with it."""

    kind: ContributionKind
    amount_fen: int
    subsidy_fen: int = 0
    collective_subsidy_fen: int = 0
    years: int = 1


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: Code | None = None
    reason: Reason | None = None
    opens_at: dt.datetime | None = None  # with window_closed: the next opening
    quote: Quote | None = None

    @property
    def why(self) -> str | None:
        """The most specific refusal code (the reason of not_allowed), for `normal.reason`."""
        return self.reason or self.code


ALLOWED = Decision(True)


def _refuse(code: Code, reason: Reason | None = None) -> Decision:
    return Decision(False, code, reason)


def _first(*decisions: Decision | None) -> Decision | None:
    return next((d for d in decisions if d is not None), None)


# --- single checks: None when the check passes -------------------------------------------------


def _tier(standard: Standard, tier_fen: int) -> Decision | None:
    return None if standard.subsidy_for(tier_fen) is not None else _refuse(Code.INVALID_TIER)


def _alive(facts: ResidentFacts) -> Decision | None:
    return _refuse(Code.DECEASED) if facts.deceased_on is not None else None


def _enrolled(facts: ResidentFacts) -> Decision | None:
    return None if facts.enrolled else _refuse(Code.NOT_ALLOWED, Reason.LEFT_PROVINCE)


def _window(standard: Standard, now: dt.datetime) -> Decision | None:
    state = window_state(standard, now)
    return None if state.open else Decision(False, Code.WINDOW_CLOSED, opens_at=state.opens_at)


def _current_year(standard: Standard, year: int, today: dt.date) -> Decision | None:
    if year < standard.scheme_start.year:
        return _refuse(Code.NOT_ALLOWED, Reason.YEAR_BEFORE_SCHEME)
    if year != today.year:
        reason = Reason.FUTURE_YEAR if year > today.year else Reason.NOT_CURRENT_YEAR
        return _refuse(Code.NOT_ALLOWED, reason)
    return None


def _past_year(standard: Standard, year: int, today: dt.date) -> Decision | None:
    if year < standard.scheme_start.year:
        return _refuse(Code.NOT_ALLOWED, Reason.YEAR_BEFORE_SCHEME)
    if year >= today.year:
        reason = Reason.FUTURE_YEAR if year > today.year else Reason.CURRENT_YEAR
        return _refuse(Code.NOT_ALLOWED, reason)
    return None


def _age(standard: Standard, facts: ResidentFacts, year: int) -> Decision | None:
    if payable_year(standard, facts.birth_date, year):
        return None
    return _refuse(Code.NOT_ALLOWED, Reason.OVER_BENEFIT_AGE)


def _not_hardship(standard: Standard, facts: ResidentFacts) -> Decision | None:
    if is_hardship(standard, facts):
        return _refuse(Code.NOT_ALLOWED, Reason.PAID_BY_GOVERNMENT)
    return None


def _registration(facts: ResidentFacts, today: dt.date) -> Decision | None:
    """R2: data corrected today at the agency → pay from tomorrow."""
    updated = facts.registration_updated_on
    return _refuse(Code.REGISTRATION_UPDATED_TODAY) if updated and updated >= today else None


def _basic_pension(facts: ResidentFacts, year: int) -> Decision | None:
    """R2: the basic pension for the year is paid, or the resident already receives it."""
    if facts.receiving_basic_pension or year in facts.basic_pension_paid_years:
        return None
    return _refuse(Code.BASIC_PENSION_UNPAID)


def _normal_free(standard: Standard, history: ContributionHistory, year: int) -> Decision | None:
    paid = history.normal_paid.count(year)
    if year in history.back_paid_years | history.proxy_years or paid >= standard.payments_per_year:
        return _refuse(Code.ALREADY_PAID)
    return _refuse(Code.ORDER_PENDING) if year in history.normal_pending_years else None


def _back_free(history: ContributionHistory, year: int) -> Decision | None:
    if year in history.covered_years:
        return _refuse(Code.NOT_ALLOWED, Reason.YEAR_ALREADY_PAID)
    pending = history.back_pending_years | history.normal_pending_years
    return _refuse(Code.ORDER_PENDING) if year in pending else None


def _back_cap(standard: Standard, history: ContributionHistory, years: int) -> Decision | None:
    if history.back_years_committed + years > standard.back_payment_max_years:
        return _refuse(Code.BACK_PAYMENT_LIMIT)
    return None


# --- public rules --------------------------------------------------------------------------------


def is_hardship(standard: Standard, facts: ResidentFacts) -> bool:
    """R7: in 低保, 特困 or 重度残疾 (the standard's hardship categories)."""
    return bool(facts.categories & standard.hardship_categories)


def collective_subsidy(standard: Standard, facts: ResidentFacts, year: int, today: dt.date) -> int:
    """R8: the region's amount for the year, if aged 50–64 inclusive on the payment date."""
    youngest, oldest = standard.collective_subsidy_ages
    if not youngest <= age_on(facts.birth_date, today) <= oldest:
        return 0
    return standard.collective_subsidy_fen(facts.region_code, year)


def normal_status(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, year: int, now: dt.datetime
) -> Decision:
    """R2, R4, R5, R7 for a normal payment of `year`, whatever the tier."""
    today = local_date(standard, now)
    return (
        _first(
            _alive(facts),
            _enrolled(facts),
            _window(standard, now),
            _registration(facts, today),
            _current_year(standard, year, today),
            _age(standard, facts, year),
            _not_hardship(standard, facts),
            _basic_pension(facts, year),
            _normal_free(standard, history, year),
        )
        or ALLOWED
    )


def check_normal(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, year: int, tier_fen: int, now: dt.datetime
) -> Decision:
    """A normal payment (R5): the tier's subsidy (R3) and the collective subsidy (R8) come with it."""
    status = _tier(standard, tier_fen) or normal_status(standard, facts, history, year, now)
    if not status.allowed:
        return status
    # Several payments a year (payments_per_year > 1): each gets its tier's subsidy, the
    # collective subsidy (a yearly amount) only the first.
    first = history.normal_paid.count(year) == 0
    collective = collective_subsidy(standard, facts, year, local_date(standard, now)) if first else 0
    quote = Quote(ContributionKind.NORMAL, tier_fen, standard.subsidy_for(tier_fen) or 0, collective)
    return Decision(True, quote=quote)


def _back_year(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, year: int, today: dt.date
) -> Decision | None:
    """Whether `year` itself may be back-paid (R6, R2's basic-pension prerequisite for that year)."""
    return _first(
        _past_year(standard, year, today),
        _age(standard, facts, year),
        _basic_pension(facts, year),
        _back_free(history, year),
    )


def check_back_payment(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, year: int, tier_fen: int, now: dt.datetime
) -> Decision:
    """A back-payment (R6): one tier amount for one past year, no subsidy of any kind."""
    today = local_date(standard, now)
    return _first(
        _tier(standard, tier_fen),
        _alive(facts),
        _enrolled(facts),
        _window(standard, now),
        _registration(facts, today),
        _back_year(standard, facts, history, year, today),
        _back_cap(standard, history, 1),
    ) or Decision(True, quote=Quote(ContributionKind.BACK_PAYMENT, tier_fen))


def lump_sum_eligible(standard: Standard, facts: ResidentFacts) -> bool:
    """R6: aged 65 or over at scheme start and receiving basic pension."""
    old_enough = age_on(facts.birth_date, standard.scheme_start) >= standard.benefit_age
    return old_enough and facts.receiving_basic_pension


def _lump_sum(standard: Standard, facts: ResidentFacts, history: ContributionHistory, years: int) -> Decision | None:
    if years < 1:
        return _refuse(Code.NOT_ALLOWED, Reason.INVALID_YEARS)
    if not lump_sum_eligible(standard, facts):
        return _refuse(Code.NOT_ALLOWED, Reason.LUMP_SUM_NOT_ELIGIBLE)
    if history.lump_sum_years:
        return _refuse(Code.ALREADY_PAID)
    if history.lump_sum_pending_years:
        return _refuse(Code.ORDER_PENDING)
    return _refuse(Code.BACK_PAYMENT_LIMIT) if years > standard.lump_sum_max_years else None


def check_lump_sum(
    standard: Standard,
    facts: ResidentFacts,
    history: ContributionHistory,
    year: int,
    years: int,
    tier_fen: int,
    now: dt.datetime,
) -> Decision:
    """The one lump-sum back-payment (R6): tier × years, no subsidy, within the back-payment cap, recorded
    for the year it is paid in (`year` must be the current one)."""
    today = local_date(standard, now)
    return _first(
        _tier(standard, tier_fen),
        _alive(facts),
        _enrolled(facts),
        _window(standard, now),
        _registration(facts, today),
        _current_year(standard, year, today),
        _lump_sum(standard, facts, history, years),
        _back_cap(standard, history, years),
    ) or Decision(True, quote=Quote(ContributionKind.LUMP_SUM, tier_fen * years, years=years))


def check_proxy(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, year: int, now: dt.datetime
) -> Decision:
    """R7 government proxy payment: the proxy (lowest) tier with its subsidy, payer the county.

    R2's basic-pension and corrected-today prerequisites do not apply: the government pays by law
    (regulation art. 5) and the basic scheme proxy-pays the same groups, so a registry lag must not
    drop the most vulnerable residents from the yearly batch. Deceased, window and year rules apply.
    """
    today = local_date(standard, now)
    hardship = None if is_hardship(standard, facts) else _refuse(Code.NOT_ALLOWED, Reason.NOT_HARDSHIP)
    tier = standard.proxy_tier_fen
    return _first(
        _alive(facts),
        _enrolled(facts),
        _window(standard, now),
        _current_year(standard, year, today),
        _age(standard, facts, year),
        hardship,
        _normal_free(standard, history, year),
    ) or Decision(True, quote=Quote(ContributionKind.PROXY, tier, standard.subsidy_for(tier) or 0))


# --- what the mini-program offers ---------------------------------------------------------------


@dataclass(frozen=True)
class BackPaymentOption:
    years: tuple[int, ...]  # past years that may be back-paid now (window aside)
    remaining_years: int  # how many more years the 15-year cap allows


@dataclass(frozen=True)
class ContributionOptions:
    year: int
    window: WindowState
    tiers: tuple[Tier, ...]
    normal: Decision  # `normal.why` is the API's normal.reason
    back_payment: BackPaymentOption
    lump_sum_max_years: int  # 0 when no lump sum may be made
    paid_by_government: bool
    payments_per_year: int  # normal payments the standard allows a year (R5)
    normal_payments_left: int  # of those, how many this year still has (paid and pending ones count)


def remaining_back_years(standard: Standard, history: ContributionHistory) -> int:
    return max(0, standard.back_payment_max_years - history.back_years_committed)


def back_payment_years(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, today: dt.date
) -> tuple[int, ...]:
    """Past years the resident may back-pay (ignoring the window), empty once the cap is reached."""
    if facts.deceased_on is not None or not facts.enrolled or remaining_back_years(standard, history) == 0:
        return ()
    years = range(standard.scheme_start.year, today.year)
    return tuple(y for y in years if _back_year(standard, facts, history, y, today) is None)


def contribution_options(
    standard: Standard, facts: ResidentFacts, history: ContributionHistory, now: dt.datetime
) -> ContributionOptions:
    """Everything `GET /contribution-options` shows, for the current year."""
    today = local_date(standard, now)
    remaining = remaining_back_years(standard, history)
    lump_open = _lump_sum(standard, facts, history, 1) is None and _alive(facts) is None and facts.enrolled
    return ContributionOptions(
        year=today.year,
        window=window_state(standard, now),
        tiers=standard.tiers,
        normal=normal_status(standard, facts, history, today.year, now),
        back_payment=BackPaymentOption(back_payment_years(standard, facts, history, today), remaining),
        lump_sum_max_years=min(standard.lump_sum_max_years, remaining) if lump_open else 0,
        paid_by_government=is_hardship(standard, facts) or today.year in history.proxy_years,
        payments_per_year=standard.payments_per_year,
        normal_payments_left=normal_payments_left(standard, history, today.year),
    )


def normal_payments_left(standard: Standard, history: ContributionHistory, year: int) -> int:
    """R5: normal payments still possible in `year` (0 once a back-payment or proxy payment covers it)."""
    if year in history.back_paid_years | history.proxy_years:
        return 0
    pending = 1 if year in history.normal_pending_years else 0
    return max(0, standard.payments_per_year - history.normal_paid.count(year) - pending)
