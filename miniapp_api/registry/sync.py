"""`registry sync`: apply the agency's change feed (INTEGRATIONS.md §3a) from the stored cursor.

One batch (`--batch-size` changes: feed pages of at most 1000, as many as make it up) is one
transaction: its residents are written set-based and the last page's cursor is stored in the same
transaction, so a crash loses at most the batch in flight and a rerun continues from the last
committed one. Applying a change is idempotent: each row keeps the seq of the change it holds and
only a later seq overwrites it (the `WHERE` of the upsert), so re-reading a page changes nothing.

Known residents are found by their blind index and keep their row, their public id, their ciphertext
and their WeChat binding. A reader thread reads the next batch and builds its rows (blind index,
encrypted ID number, masked one, public id) while the current one is applied, without a database
connection of its own; the apply writes them. On PostgreSQL a batch whose first few people are all
new is COPY'd into residents, any other batch upserted from a staging table, which says itself which
rows it inserted, updated or skipped (no lookup of everyone held first); on SQLite the held people are
looked up for the counts and the rows upserted. Departures (null records) are looked up themselves.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import psycopg
from sqlalchemy import any_, func, or_, text
from sqlalchemy.dialects import postgresql

from integrations.agency import FEED_LIMIT_MAX, Change, ChangePage, RegistryRecord
from miniapp_api.core.clock import clock
from miniapp_api.core.pii import IdCipher, cipher
from models import RegistryCursor, Resident, db
from models.base import dialect_insert
from models.resident import new_public_ids
from policy.id_number import mask

FEED = "agency"
FACT_COLUMNS = (
    "name", "gender", "birth_date", "region_code", "region_name", "categories", "supporter_capable",
    "receiving_basic_pension", "basic_pension_paid_years", "registration_updated_on", "deceased_on",
    "enrolled", "registry_seq", "registry_synced_at",
)  # fmt: skip


class FeedSource(Protocol):
    """What the sync reads: the agency client (integrations/agency.py) or a local stand-in."""

    def changes(self, after: str | None = None, limit: int = ...) -> ChangePage: ...


class ConcurrentSync(RuntimeError):
    """Another `registry sync` moved the stored cursor while this one ran."""


@dataclass(frozen=True)
class Known:
    """A resident row already holding this person (found by blind index)."""

    seq: int | None
    enrolled: bool


class StagedRow(NamedTuple):
    """A new resident's row as COPY takes it (the staging table's columns, in order; the JSON columns
    already as text); a known resident's upsert takes only FACT_COLUMNS from it."""

    public_id: str
    id_number_index: str
    id_number_encrypted: str
    id_number_masked: str  # masked views never decrypt
    name: str
    gender: str
    birth_date: dt.date
    region_code: str
    region_name: str
    categories: str
    supporter_capable: bool
    receiving_basic_pension: bool
    basic_pension_paid_years: str
    registration_updated_on: dt.date | None
    deceased_on: dt.date | None
    enrolled: bool
    registry_seq: int
    registry_synced_at: dt.datetime


def stored_cursor() -> str | None:
    row = db.session.get(RegistryCursor, FEED)
    return None if row is None else row.cursor


@dataclass(frozen=True)
class Batch:
    """A feed page, the cursor it was read after (what the stored cursor must still be), and what the
    reader worked out ahead: each person's latest change, their blind index, and the row a change with
    a record writes (as a new resident's row: the upsert of a known one takes only its facts)."""

    after: str | None
    page: ChangePage
    latest: dict[str, Change]
    indexes: dict[str, str]
    rows: dict[str, StagedRow]


def batches(source: FeedSource, size: int, dry_run: bool = False) -> Iterator[Batch]:
    """The feed from the stored cursor in batches of `size` changes: pages of at most FEED_LIMIT_MAX,
    as many as make up `size`, applied and committed together with the last page's cursor. The next
    batch is read (and its blind indexes computed) by a reader thread while the current one is applied,
    so the agency's answers and their parse overlap the database's work; a read's failure surfaces when
    its batch is taken, after the batches before it committed. A dry run reads on from its own position
    while the stored cursor stays where it was."""
    start = after = stored_cursor()
    db.session.commit()  # no transaction stays open while waiting for the agency
    read = functools.partial(_read, source, size, cipher())
    with ThreadPoolExecutor(1, thread_name_prefix="registry-feed") as reader:
        pending = reader.submit(read, after, clock().now())
        while True:
            page, latest, indexes, rows = pending.result()
            last = not page.more or not page.changes
            if not last:
                pending = reader.submit(read, page.cursor, clock().now())
            yield Batch(start if dry_run else after, page, latest, indexes, rows)
            if last:
                return
            after = page.cursor


def _read(source: FeedSource, size: int, keys: IdCipher, after: str | None, now: dt.datetime) -> tuple:
    """One batch's pages as one page, and the work that needs neither the database nor an app context.
    Every ID number of a record is encrypted here: at 4 µs, that costs less than asking the database
    which ones it holds; a known resident's row keeps the ciphertext it has."""
    page = _pages(source, after, size)
    latest = _latest_per_person(page.changes)
    indexes = {id_number: keys.blind_index(id_number) for id_number in latest}
    recorded = [(id_number, change) for id_number, change in latest.items() if change.record is not None]
    tokens = keys.encrypt_many([id_number for id_number, _ in recorded])
    public_ids = new_public_ids(len(recorded))
    rows = {
        id_number: _row(change, indexes[id_number], token, public_id, now)
        for (id_number, change), token, public_id in zip(recorded, tokens, public_ids, strict=True)
    }
    return page, latest, indexes, rows


def _pages(source: FeedSource, after: str | None, size: int) -> ChangePage:
    """Pages from `after` until `size` changes or the end of the feed, joined (the last one's cursor)."""
    joined = ChangePage((), after, True)
    while len(joined.changes) < size and joined.more:
        page = source.changes(joined.cursor, min(size - len(joined.changes), FEED_LIMIT_MAX))
        if not page.changes:  # the end: an empty page's cursor adds nothing
            return page if not joined.changes else ChangePage(joined.changes, joined.cursor, False)
        joined = ChangePage(joined.changes + page.changes, page.cursor, page.more)
    return joined


def apply(batch: Batch) -> dict[str, int]:
    """Apply one batch and store its cursor (not committed); returns the batch's counts."""
    _claim_cursor(batch.after)
    counts = Counter(changes=len(batch.page.changes), created=0, updated=0, departed=0, unchanged=0)
    counts.update(_write(list(batch.rows.values())))  # the changes with a record
    departures = {batch.indexes[n]: change.seq for n, change in batch.latest.items() if change.record is None}
    counts.update(_depart(departures, clock().now()))
    _store_cursor(batch.page.cursor, len(batch.page.changes))
    return dict(counts)


def _latest_per_person(changes: tuple[Change, ...]) -> dict[str, Change]:
    """A later seq supersedes an earlier one for the same person (§3a)."""
    latest: dict[str, Change] = {}
    for change in changes:
        if change.id_number not in latest or latest[change.id_number].seq < change.seq:
            latest[change.id_number] = change
    return latest


def _known(indexes: list[str]) -> dict[str, Known]:
    residents = Resident.__table__.c  # plain rows: ORM rows of the same columns cost twice the CPU here
    if db.session.get_bind().dialect.name == "postgresql":  # one text parameter, split by the server
        matches = residents.id_number_index == any_(func.string_to_array(",".join(indexes), ","))
    else:
        matches = residents.id_number_index.in_(indexes)
    query = db.select(residents.id_number_index, residents.registry_seq, residents.enrolled).where(matches)
    return {index: Known(seq, enrolled) for index, seq, enrolled in db.session.execute(query)}


def _stale(seq: int, found: Known | None) -> bool:
    """The row already holds this change or a later one."""
    return found is not None and found.seq is not None and found.seq >= seq


def _record_outcome(seq: int, found: Known | None) -> str:
    """What applying a change with a record does: created, updated, or unchanged (stale)."""
    if _stale(seq, found):
        return "unchanged"
    return "created" if found is None else "updated"


def _departure_outcome(seq: int, found: Known | None) -> str:
    """What a null record does: departed, or unchanged (stale, never known, or already gone)."""
    return "departed" if found is not None and found.enrolled and not _stale(seq, found) else "unchanged"


def _row(change: Change, index: str, encrypted: str, public_id: str, now: dt.datetime) -> StagedRow:
    record: RegistryRecord = change.record  # type: ignore[assignment]
    return StagedRow(
        public_id=public_id,
        id_number_index=index,
        id_number_encrypted=encrypted,
        id_number_masked=mask(change.id_number),
        name=record.name,
        gender=record.gender,
        birth_date=record.birth_date,
        region_code=record.region_code,
        region_name=record.region_name,
        categories=_json(record.categories),
        supporter_capable=record.supporter_capable,
        receiving_basic_pension=record.receiving,
        basic_pension_paid_years=_json(record.paid_years),
        registration_updated_on=record.registration_updated_on,
        deceased_on=record.deceased_on,
        enrolled=True,
        registry_seq=change.seq,
        registry_synced_at=now,
    )


def _newer(seq_column):
    """The database-side guard: only a later change overwrites a row."""
    return or_(Resident.registry_seq.is_(None), Resident.registry_seq < seq_column)


def _write(rows: list[StagedRow]) -> Counter[str]:
    """Write the rows of the batch's changes with a record; created, updated and unchanged counts."""
    if not rows:
        return Counter()
    if db.session.get_bind().dialect.name == "postgresql":
        return _write_postgres(rows)
    known = _known([row.id_number_index for row in rows])
    counts = Counter(_record_outcome(row.registry_seq, known.get(row.id_number_index)) for row in rows)
    statement = dialect_insert(Resident.__table__)  # compiled once per run, sent as executemany
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["id_number_index"],
        set_={name: excluded[name] for name in FACT_COLUMNS},
        where=_newer(excluded.registry_seq),
    )
    db.session.execute(statement, [_parameters(row) for row in rows])
    return counts


def _parameters(row: StagedRow) -> dict:
    """A staged row as the ORM's insert takes it (its JSON columns as values, not text)."""
    return row._asdict() | {name: json.loads(getattr(row, name)) for name in JSON_COLUMNS}


# PostgreSQL: the page is COPY'd into a temporary staging table (emptied at commit) and moved into
# residents by one INSERT … SELECT … ON CONFLICT: COPY's rows are dumped in C, where array parameters
# were quoted element by element in Python (half the Python time of a page), and the upsert is one
# statement whatever the page size.
# The staging table's columns: StagedRow's fields, in its order, of their residents column's type.
STAGED_TYPES = {
    name: Resident.__table__.c[name].type.compile(dialect=postgresql.dialect()) for name in StagedRow._fields
}
JSON_COLUMNS = ("categories", "basic_pension_paid_years")
_STAGED = ", ".join(STAGED_TYPES)
STAGING_TABLE = text(
    "CREATE TEMPORARY TABLE IF NOT EXISTS registry_staging "
    f"({', '.join(f'{name} {kind}' for name, kind in STAGED_TYPES.items())}) ON COMMIT DELETE ROWS"
)
POSTGRES_UPSERT = text(
    f"INSERT INTO residents ({_STAGED}) SELECT {_STAGED} FROM registry_staging "
    "ON CONFLICT (id_number_index) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in FACT_COLUMNS)
    + " WHERE residents.registry_seq IS NULL OR residents.registry_seq < excluded.registry_seq"
    " RETURNING (xmax = 0)"  # true for an inserted row, false for an updated one
)
NEW_PEOPLE_SAMPLE = 16  # rows of a batch looked up to guess whether it is all new people


def _write_postgres(rows: list[StagedRow]) -> Counter[str]:
    """A batch of new people (a full load: none of a sample is held yet) is COPY'd straight into
    residents; should one of them be held after all, the unique blind index refuses the COPY, its
    savepoint is rolled back and the guarded upsert takes every row. The upsert's RETURNING says which
    rows it inserted (`xmax = 0`) and which it updated; the rows it skipped were stale."""
    if not _known([row.id_number_index for row in rows[:NEW_PEOPLE_SAMPLE]]):
        try:
            with db.session.begin_nested():
                _copy("residents", rows)
            return Counter(created=len(rows))
        except psycopg.errors.UniqueViolation:
            pass
    db.session.execute(STAGING_TABLE)
    _copy("registry_staging", rows)
    inserted = db.session.execute(POSTGRES_UPSERT).scalars().all()
    created = sum(inserted)
    return Counter(created=created, updated=len(inserted) - created, unchanged=len(rows) - len(inserted))


def _copy(table: str, rows: list[StagedRow]) -> None:
    connection = db.session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({_STAGED}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# A page's categories and paid years repeat from person to person: each set is sorted and dumped once.
@functools.lru_cache(maxsize=4096)
def _json(values: frozenset) -> str:
    return json.dumps(sorted(values))


def _depart(departures: dict[str, int], now: dt.datetime) -> Counter[str]:
    """Null records: no longer enrolled (the rest of the row stays, for the account and the heirs)."""
    known = _known(list(departures)) if departures else {}
    outcomes = {index: _departure_outcome(seq, known.get(index)) for index, seq in departures.items()}
    for index in (index for index, outcome in outcomes.items() if outcome == "departed"):
        seq = departures[index]
        db.session.execute(
            db.update(Resident)
            .where(Resident.id_number_index == index, _newer(seq))
            .values(enrolled=False, registry_seq=seq, registry_synced_at=now)
        )
    return Counter(outcomes.values())


def _claim_cursor(after: str | None) -> None:
    """Lock the cursor row for this batch; another run having moved it meanwhile stops this one."""
    row = db.session.get(RegistryCursor, FEED, with_for_update=True)
    if row is None:
        db.session.add(RegistryCursor(feed=FEED, cursor=None, changes_applied=0, updated_at=clock().now()))
        db.session.flush()
        row = db.session.get(RegistryCursor, FEED, with_for_update=True)
    if row is not None and row.cursor != after:
        raise ConcurrentSync(f"the stored cursor moved from {after!r} to {row.cursor!r} during this run")


def _store_cursor(cursor: str | None, applied: int) -> None:
    row = db.session.get(RegistryCursor, FEED)
    if row is not None and cursor is not None:
        row.cursor, row.changes_applied, row.updated_at = cursor, row.changes_applied + applied, clock().now()
