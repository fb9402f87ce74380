"""The county's proxy payments for hardship residents (R7): everyone the registry's change feed lists in
a hardship category, whether or not they ever used the mini-program, once a year.

Three steps, each in committed batches (core/batches.py), none holding a lock across an outbound call:

1. orders: keyset batches of residents without a live proxy order for the year; the batch's hardship
   residents are locked for the batch's short transaction, checked by `rules.check_proxy` on the facts
   `registry sync` stored, and their orders inserted with ON CONFLICT DO NOTHING on the live-order
   index, so the database keeps it to one live proxy order per resident and year, however often it runs;
2. registration: the year's proxy orders the tax bureau does not know yet are registered there (the
   same `out_order_no` gives the same order, so a rerun completes what a failure left); the calls come
   first, the row updates after them, then the commit;
3. report: the hardship residents whose proxy order for the year is still unpaid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from sqlalchemy import func, text
from sqlalchemy.orm import joinedload

from integrations.errors import UpstreamError
from miniapp_api.contributions import orders, service
from miniapp_api.core import batches, rulebook
from miniapp_api.core.clock import clock
from models import ContributionKind, Order, OrderStatus, Payer, Resident, db, insert_skipping_conflicts
from models.order import LIVE_YEARLY
from policy import rules
from policy.facts import ResidentFacts

COUNTS = dict.fromkeys(("created", "created_fen", "registered", "registration_failed"), 0)  # always reported


def _proxy_orders(year: int):
    return (Order.kind == ContributionKind.PROXY, Order.year == year)


def without_live_proxy(year: int):
    """Resident ids with no live (pending or paid) proxy order for `year`."""
    has_order = db.select(Order.id).where(
        Order.resident_id == Resident.id, *_proxy_orders(year), Order.status.in_(OrderStatus.live())
    )
    return db.select(Resident.id).where(~has_order.exists())


def create_orders(resident_ids: list[int], year: int) -> Counter[str]:
    """The batch's proxy orders (not committed): counts of created and skipped-by-reason."""
    standard, now = rulebook.standard(), clock().now()
    hardship = _hardship(standard, resident_ids)
    counts: Counter[str] = Counter()
    if not hardship:
        return counts
    locked = db.session.scalars(
        db.select(Resident).where(Resident.id.in_(hardship)).order_by(Resident.id).with_for_update()
        .execution_options(populate_existing=True)
    ).all()  # fmt: skip
    histories = rulebook.histories(hardship)
    rows = []
    for resident in locked:
        decision = rules.check_proxy(
            standard, rulebook.facts_from_snapshot(resident), histories[resident.id], year, now
        )
        if decision.allowed and decision.quote is not None:
            rows.append(_order_row(resident, decision.quote, year))
        else:
            counts[f"skipped_{decision.why}"] += 1
    created = _insert(rows)
    counts.update(created=len(created), created_fen=sum(created))
    return counts


def _hardship(standard, resident_ids: list[int]) -> list[int]:
    """The batch's residents in a hardship category, read as four columns (no ORM object for the rest)."""
    query = db.select(Resident.id, Resident.birth_date, Resident.region_code, Resident.categories).where(
        Resident.id.in_(resident_ids)
    )
    return [
        row.id
        for row in db.session.execute(query)
        if rules.is_hardship(standard, ResidentFacts(row.birth_date, row.region_code, categories=row.categories))
    ]


def _order_row(resident: Resident, quote: rules.Quote, year: int) -> dict:
    now = clock().now()
    return {
        "order_no": orders.new_order_no(now),
        "resident_id": resident.id,
        "year": year,
        "kind": ContributionKind.PROXY,
        "slot": 1,
        "tier_fen": quote.amount_fen,
        "years": 1,
        "amount_fen": quote.amount_fen,
        "subsidy_fen": quote.subsidy_fen,
        "collective_subsidy_fen": 0,
        "payer": Payer.GOVERNMENT,
        "status": OrderStatus.PENDING,
        "created_at": now,
        "expires_at": now + orders.PROXY_LIFETIME,
    }


def _insert(rows: list[dict]) -> list[int]:
    """Insert what the live-order index allows; the amounts of the rows inserted."""
    if not rows:
        return []
    statement = insert_skipping_conflicts(
        Order, ["resident_id", "year", "kind", "slot"], index_where=text(LIVE_YEARLY)
    ).values(rows)
    return list(db.session.scalars(statement.returning(Order.amount_fen)))


def unregistered(year: int):
    """The year's pending proxy orders the tax bureau has not confirmed yet."""
    return db.select(Order.id).where(
        *_proxy_orders(year), Order.status == OrderStatus.PENDING, Order.tax_order_no.is_(None)
    )


def register(order_ids: list[int]) -> Counter[str]:
    """Register the orders with the tax bureau; rows are written only after every call (no lock held)."""
    counts: Counter[str] = Counter()
    found = db.session.scalars(
        db.select(Order).options(joinedload(Order.resident)).where(Order.id.in_(order_ids)).order_by(Order.id)
    ).all()  # a plain read: no row lock is held during the calls
    with db.session.no_autoflush:
        for order in found:
            try:
                service.register_with_tax_bureau(order, order.resident)
                counts["registered"] += 1
            except UpstreamError:
                counts["registration_failed"] += 1  # left unregistered: the next run tries again
    return counts


def unpaid(year: int) -> tuple[int, int, list[str]]:
    """(count, fen, public ids) of the residents whose proxy order for `year` is still pending."""
    pending = (*_proxy_orders(year), Order.status == OrderStatus.PENDING)
    count, fen = db.session.execute(
        db.select(func.count(Order.id), func.coalesce(func.sum(Order.amount_fen), 0)).where(*pending)
    ).one()
    ids = db.session.scalars(
        db.select(Resident.public_id)
        .join(Order, Order.resident_id == Resident.id)
        .where(*pending)
        .order_by(Resident.id)
    )
    return int(count), int(fen), list(ids)  # PostgreSQL sums as Decimal


def steps(summary: batches.Summary, year: int, batch_size: int) -> Iterator[batches.Summary]:
    """Steps 1 and 2 into `summary`, one committed batch at a time (a dry run calls nobody)."""
    residents = batches.id_batches(without_live_proxy(year), Resident.id, batch_size)
    yield from batches.each_batch(summary, residents, lambda ids: create_orders(ids, year))
    if not summary.dry_run:
        yield from batches.each_batch(summary, batches.id_batches(unregistered(year), Order.id, batch_size), register)
