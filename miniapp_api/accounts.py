"""Reading the individual account: balance by source, paid years and ledger pages, in a few queries."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func

from models import LedgerEntry, Order, Resident, db

from .clock import rfc3339

SOURCES = {  # API `by_source` field → ledger entry kinds
    "personal_fen": ("personal",),
    "government_subsidy_fen": ("government_subsidy",),
    "collective_subsidy_fen": ("collective_subsidy",),
    "sponsor_fen": ("sponsorship",),
    "interest_fen": ("interest",),
    "paid_out_fen": ("benefit_payout", "inheritance_payout"),
}
PAGE_SIZE = 20


@dataclass(frozen=True)
class AccountTotals:
    by_source: dict[str, int]
    balance_fen: int


def totals(resident: Resident) -> AccountTotals:
    """Sums per entry kind in one grouped query (payouts are stored as negative amounts)."""
    rows = dict(db.session.execute(
        db.select(LedgerEntry.kind, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.resident_id == resident.id).group_by(LedgerEntry.kind)).all())
    by_source = {field: sum(int(rows.get(kind) or 0) for kind in kinds) for field, kinds in SOURCES.items()}
    by_source["paid_out_fen"] = -by_source["paid_out_fen"]
    return AccountTotals(by_source, sum(int(value or 0) for value in rows.values()))


def paid_orders(resident: Resident) -> list[Order]:
    return list(db.session.scalars(
        db.select(Order).where(Order.resident_id == resident.id, Order.status == "paid").order_by(Order.year)))


def ledger_page(resident: Resident, year: int | None, page: int) -> tuple[list[dict], int | None]:
    """One page of entries, newest first, and the next page number (None on the last page)."""
    query = (db.select(LedgerEntry, Order.order_no).outerjoin(Order, LedgerEntry.order_id == Order.id)
             .where(LedgerEntry.resident_id == resident.id)
             .order_by(LedgerEntry.booked_at.desc(), LedgerEntry.id.desc())
             .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE))
    if year is not None:
        query = query.where(LedgerEntry.year == year)
    rows = db.session.execute(query).all()
    items = [_entry(entry, order_no) for entry, order_no in rows[:PAGE_SIZE]]
    return items, page + 1 if len(rows) > PAGE_SIZE else None


def _entry(entry: LedgerEntry, order_no: str | None) -> dict:
    return {"entry_id": entry.id, "year": entry.year, "kind": entry.kind, "amount_fen": entry.amount_fen,
            "funder": entry.funder, "payer": entry.payer, "order_no": order_no,
            "booked_at": rfc3339(entry.booked_at)}


def latest_tier(resident: Resident) -> int | None:
    """The tier of the latest paid normal contribution (the basis of the benefit estimate)."""
    return db.session.scalar(
        db.select(Order.tier_fen).where(Order.resident_id == resident.id, Order.status == "paid",
                                        Order.kind == "normal").order_by(Order.year.desc()).limit(1))
