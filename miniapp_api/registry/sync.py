"""`registry sync`: apply the agency's change feed (INTEGRATIONS.md §3a) from the stored cursor.

One batch (`--batch-size` changes: feed pages of at most 1000, as many as make it up) is one
transaction: its residents are written set-based and the last page's cursor is stored in the same
transaction, so a crash loses at most the batch in flight and a rerun continues from the last
committed one. Applying a change is idempotent: each row keeps the seq of the change it holds and
only a later seq overwrites it (the `WHERE` of the upsert), so re-reading a page changes nothing.

Known residents are found by their blind index and keep their row, their public id, their ciphertext
and their WeChat binding. A reader process (registry/reader.py) reads the next batch and builds its rows
(blind index, encrypted ID number, masked one, public id) while the current one is applied, without a
database connection of its own; the apply writes them. On PostgreSQL a batch whose first few people are
all new is COPY'd into residents, any other batch upserted from a staging table, which says itself
which rows it inserted, updated or skipped (no lookup of everyone held first); on SQLite the held people
are looked up for the counts and the rows upserted. Departures (null records) are looked up themselves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from sqlalchemy import any_, func, or_, text
from sqlalchemy.dialects import postgresql

from integrations.agency import FEED_LIMIT_MAX
from miniapp_api.core.clock import clock
from miniapp_api.core.pii import cipher_keys
from miniapp_api.registry import reader
from miniapp_api.registry.reader import FeedSource, Prepared, StagedRow
from models import RegistryCursor, Resident, db
from models.base import dialect_insert

FEED = "agency"
FACT_COLUMNS = (
    "name", "gender", "birth_date", "region_code", "region_name", "categories", "supporter_capable",
    "receiving_basic_pension", "basic_pension_paid_years", "registration_updated_on", "deceased_on",
    "enrolled", "registry_seq", "registry_synced_at",
)  # fmt: skip


class ConcurrentSync(RuntimeError):
    """Another `registry sync` moved the stored cursor while this one ran."""


@dataclass(frozen=True)
class Known:
    """A resident row already holding this person (found by blind index)."""

    seq: int | None
    enrolled: bool


def stored_cursor() -> str | None:
    row = db.session.get(RegistryCursor, FEED)
    return None if row is None else row.cursor


@dataclass(frozen=True)
class Batch:
    """A batch the reader prepared, and the cursor it was read after (what the stored cursor must still be)."""

    after: str | None
    read: Prepared


def batches(source: FeedSource, size: int, dry_run: bool = False) -> Iterator[Batch]:
    """The feed from the stored cursor in batches of `size` changes: pages of at most FEED_LIMIT_MAX,
    as many as make up `size`, applied and committed together with the last page's cursor. The reader
    process prepares the next batch while the current one is applied; a read's failure surfaces when its
    batch is taken, after the batches before it committed. A dry run reads on from its own position
    while the stored cursor stays where it was."""
    start = after = stored_cursor()
    db.session.commit()  # no transaction stays open while waiting for the agency
    postgres = db.session.get_bind().dialect.name == "postgresql"
    job = reader.Job(source, size, FEED_LIMIT_MAX, cipher_keys(), clock(), as_copy=postgres)
    for read in reader.read_ahead(job, after):
        yield Batch(start if dry_run else after, read)
        after = read.cursor


def apply(batch: Batch) -> dict[str, int]:
    """Apply one batch and store its cursor (not committed); returns the batch's counts."""
    _claim_cursor(batch.after)
    read = batch.read
    counts = Counter(changes=read.changes, created=0, updated=0, departed=0, unchanged=0)
    counts.update(_write(read))  # the changes with a record
    counts.update(_depart(read.departures, clock().now()))
    _store_cursor(read.cursor, read.changes)
    return dict(counts)


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


def _newer(seq_column):
    """The database-side guard: only a later change overwrites a row."""
    return or_(Resident.registry_seq.is_(None), Resident.registry_seq < seq_column)


def _write(read: Prepared) -> Counter[str]:
    """Write the rows of the batch's changes with a record; created, updated and unchanged counts."""
    if not read.indexes:
        return Counter()
    if db.session.get_bind().dialect.name == "postgresql":
        return _write_postgres(read.indexes, read.copy)
    known = _known(list(read.indexes))
    counts = Counter(_record_outcome(row.registry_seq, known.get(row.id_number_index)) for row in read.rows)
    statement = dialect_insert(Resident.__table__)  # compiled once per run, sent as executemany
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["id_number_index"],
        set_={name: excluded[name] for name in FACT_COLUMNS},
        where=_newer(excluded.registry_seq),
    )
    db.session.execute(statement, [_parameters(row) for row in read.rows])
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


def _write_postgres(indexes: tuple[str, ...], rows: bytes) -> Counter[str]:
    """A batch of new people (a full load: none of a sample is held yet) is COPY'd straight into
    residents; should one of them be held after all, the unique blind index refuses the COPY, its
    savepoint is rolled back and the guarded upsert takes every row. The upsert's RETURNING says which
    rows it inserted (`xmax = 0`) and which it updated; the rows it skipped were stale."""
    if not _known(list(indexes[:NEW_PEOPLE_SAMPLE])):
        try:
            with db.session.begin_nested():
                _copy("residents", rows)
            return Counter(created=len(indexes))
        except psycopg.errors.UniqueViolation:
            pass
    db.session.execute(STAGING_TABLE)
    _copy("registry_staging", rows)
    inserted = db.session.execute(POSTGRES_UPSERT).scalars().all()
    created = sum(inserted)
    return Counter(created=created, updated=len(inserted) - created, unchanged=len(indexes) - len(inserted))


def _copy(table: str, rows: bytes) -> None:
    """COPY the rows (the reader's COPY text) into `table`'s staged columns."""
    connection = db.session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor:
        if connection.info.encoding != "utf-8":  # the reader's COPY text is UTF-8; back at the commit
            cursor.execute("SET LOCAL client_encoding = 'UTF8'")
        with cursor.copy(f"COPY {table} ({_STAGED}) FROM STDIN") as copy:
            copy.write(rows)


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
