"""Reading the individual account: balance by source, paid years, benefit and ledger pages, in a few queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func

from miniapp_api.benefits import monthly
from miniapp_api.core import rulebook
from miniapp_api.core.clock import clock
from miniapp_api.core.stacked import Record
from models import ContributionKind, EntryKind, LedgerEntry, Order, OrderStatus, Resident, db
from policy import benefits, years
from policy.facts import ContributionHistory, ResidentFacts
from policy.standard import Standard

SOURCES = {  # API `by_source` field → ledger entry kinds
    "personal_fen": (EntryKind.PERSONAL,),
    "government_subsidy_fen": (EntryKind.GOVERNMENT_SUBSIDY,),
    "collective_subsidy_fen": (EntryKind.COLLECTIVE_SUBSIDY,),
    "sponsor_fen": (EntryKind.SPONSORSHIP,),
    "interest_fen": (EntryKind.INTEREST,),
    "paid_out_fen": (EntryKind.BENEFIT_PAYOUT, EntryKind.RECOVERY, EntryKind.INHERITANCE_PAYOUT),
}
PAGE_SIZE = 20


@dataclass(frozen=True)
class AccountTotals:
    by_source: dict[str, int]
    balance_fen: int


@dataclass(frozen=True)
class Account:
    """What `GET /residents/{id}/account` shows."""

    resident: Resident
    totals: AccountTotals
    cumulative_years: int
    required_years: int
    paid_years: list[int]
    status: str
    eligibility: benefits.Eligibility
    benefit: benefits.Estimate

    @property
    def balance_fen(self) -> int:
        return self.totals.balance_fen

    @property
    def by_source(self) -> dict[str, int]:
        return self.totals.by_source


@dataclass(frozen=True)
class LedgerPage:
    items: list[Record]  # entries with their order's number (`LEDGER_COLUMNS`)
    next_page: int | None


# The account is read on every visit: plain rows of prepared Core statements cost a third of ORM objects.
_ENTRIES, _ORDERS = LedgerEntry.__table__, Order.__table__
LEDGER_COLUMNS = [
    *(_ENTRIES.c[name] for name in ("id", "year", "kind", "amount_fen", "funder", "payer", "booked_at")),
    _ORDERS.c.order_no,
]


def account_reads(resident_id: ColumnElement) -> dict[str, Select]:
    """What an account read needs besides the resident (`identity.access.reads_with_resident`): their
    live orders (rulebook's columns) and one row per entry kind with its sum."""
    sums = (
        db.select(_ENTRIES.c.kind, func.sum(_ENTRIES.c.amount_fen).label("amount_fen"))
        .where(_ENTRIES.c.resident_id == resident_id)
        .group_by(_ENTRIES.c.kind)
    )
    return {"orders": rulebook.live_orders_of(resident_id), "sums": sums}


def ledger_reads(by_year: bool) -> Callable[[ColumnElement], dict[str, Select]]:
    """A ledger page's read besides the resident (`identity.access.reads_with_resident`): a page of
    entries with their order's number, newest first, one more than a page (so the next is known);
    bind parameters `offset` and, `by_year`, `year` (`page_params`)."""

    def parts(resident_id: ColumnElement) -> dict[str, Select]:
        entries = _ENTRIES.outerjoin(_ORDERS, _ORDERS.c.id == _ENTRIES.c.order_id)
        query = db.select(*LEDGER_COLUMNS).select_from(entries).where(_ENTRIES.c.resident_id == resident_id)
        if by_year:
            query = query.where(_ENTRIES.c.year == db.bindparam("year"))
        page = query.order_by(*_NEWEST_FIRST).limit(PAGE_SIZE + 1).offset(db.bindparam("offset")).subquery("page")
        return {"entries": db.select(*page.c)}  # a stacked part has no ORDER BY or LIMIT of its own

    return parts


_NEWEST_FIRST = (_ENTRIES.c.booked_at.desc(), _ENTRIES.c.id.desc())


def account(resident: Resident | Record, rows: dict[str, list[Record]]) -> Account:
    """The account from the resident and the rows of `account_reads`: balance by source, paid years,
    status, eligibility and the benefit estimate."""
    standard, facts = rulebook.standard(), rulebook.facts_from_snapshot(resident)
    orders, sums = rows["orders"], totals({row.kind: row.amount_fen for row in rows["sums"]})
    now, today = clock().now(), clock().today()
    history = rulebook.history_of(orders, now)
    estimate = benefit(resident, standard, facts, history, sums.balance_fen, latest_tier(orders), now, today)
    eligible = benefits.eligibility(standard, facts, history, today)
    return Account(
        resident=resident,
        totals=sums,
        cumulative_years=history.cumulative_years,
        required_years=years.required_years(standard, resident.birth_date),
        paid_years=sorted(history.covered_years),
        status=benefits.account_status(facts, eligible, today, benefit_started_on=resident.benefit_started_on),
        eligibility=eligible,
        benefit=estimate,
    )


def benefit(
    resident: Resident,
    standard: Standard,
    facts: ResidentFacts,
    history: ContributionHistory,
    balance_fen: int,
    tier_fen: int | None,
    now: dt.datetime,
    today: dt.date,
) -> benefits.Estimate:
    """The benefit in payment once it started (R11: fixed, with its raises); before that, the estimate
    projecting the balance with the current tier to 65, saying when the required years cannot be reached
    (`now` and its local `today`: the account's one reading of the clock)."""
    if resident.benefit_started_on is not None:
        pension = monthly.pension_in_payment(resident, today.replace(day=1))
        return benefits.in_payment(standard, facts, pension, resident.benefit_started_on, today)
    return benefits.estimate_benefit(standard, facts, history, balance_fen, now, tier_fen)


def totals(rows: dict[str, int | None]) -> AccountTotals:
    """The account's sums by source from the sums per entry kind (payouts are stored as negative amounts)."""
    by_source = {field: sum(int(rows.get(kind) or 0) for kind in kinds) for field, kinds in SOURCES.items()}
    by_source["paid_out_fen"] = -by_source["paid_out_fen"]
    return AccountTotals(by_source, sum(int(value or 0) for value in rows.values()))


def page_params(year: int | None, page: int) -> dict[str, int]:
    """The bind parameters of `ledger_reads` for one page, filtered by `year` when given."""
    return {"offset": (page - 1) * PAGE_SIZE} | ({} if year is None else {"year": year})


def ledger_page(entries: list[Record], page: int) -> LedgerPage:
    """The page from the rows of `ledger_reads` (a union's rows come in no set order: sorted here, newest
    first as the page's read chose them) and the next page number (None on the last)."""
    rows = sorted(entries, key=lambda entry: (entry.booked_at, entry.id), reverse=True)
    return LedgerPage(rows[:PAGE_SIZE], page + 1 if len(rows) > PAGE_SIZE else None)


def latest_tier(orders: Sequence[Record]) -> int | None:
    """The tier of the latest paid normal contribution (the basis of the benefit estimate), of `live_orders`."""
    paid = [o for o in orders if o.status == OrderStatus.PAID and o.kind == ContributionKind.NORMAL]
    return max(paid, key=lambda order: order.year).tier_fen if paid else None
