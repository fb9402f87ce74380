"""The reader of `registry sync`, in a process of its own: it reads the next batch of the agency's change
feed and builds its rows (blind index, encrypted ID number, masked one, public id; for PostgreSQL already
as COPY's text) while the sync applies the batch before.

Why a process and not a thread: reading and building a row is about 30 µs of Python. In a thread it
took turns with the apply under the one interpreter lock (17,000 records/s at 1,000,000 residents, on
two cores); handed ready rows, the apply and PostgreSQL alone do 46,000–60,000 (docs/performance.md).

The reader runs one batch ahead: its send blocks until the sync takes the batch, and only then does it
read the next. It never touches the database, so killing either process loses nothing committed, and a
rerun reads again from the stored cursor. When the sync is gone (killed), the reader's next send fails
and it ends. A failure of the reader (the agency unreachable, a malformed page) is sent on and raised
where its batch is taken, after the batches before it committed.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import multiprocessing
import pickle
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import NamedTuple, Protocol

from psycopg._copy_base import TextFormatter  # COPY's own row format, outside a connection
from psycopg.adapt import Transformer

from integrations.agency import Change, ChangePage, RegistryRecord
from miniapp_api.core.clock import Clock
from miniapp_api.core.pii import IdCipher
from models.resident import new_public_ids
from policy.id_number import mask

# A fresh interpreter forks the readers (not this process, whose database connections a fork would
# share); it imports this module once, so a reader starts in milliseconds.
PROCESSES = multiprocessing.get_context("forkserver")
PROCESSES.set_forkserver_preload([__name__])


class FeedSource(Protocol):
    """What the sync reads: the agency client (integrations/agency.py) or a local stand-in; the reader
    process gets a copy of it (pickled)."""

    def changes(self, after: str | None = None, limit: int = ...) -> ChangePage: ...


class ReaderStopped(RuntimeError):
    """The reader process ended without handing over a batch or a failure (killed, out of memory)."""


class StagedRow(NamedTuple):
    """A new resident's row as COPY takes it (the staging table's columns, in order; the JSON columns
    already as text); a known resident's upsert takes only the facts from it."""

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


@dataclass(frozen=True)
class Job:
    """What a reader needs: the feed, the batch size and page limit, the keys and the clock."""

    source: FeedSource
    size: int  # changes per batch
    limit: int  # changes per feed page
    keys: IdCipher
    clock: Clock
    as_copy: bool  # rows as COPY text (PostgreSQL), else as StagedRows


@dataclass(frozen=True)
class Prepared:
    """One batch as the reader hands it over: the cursor after its last page and whether more follow,
    how many changes it holds, its null records (blind index → seq), and the rows of its changes with a
    record: their blind indexes in order, and the rows themselves, as COPY text (`copy`, PostgreSQL) or
    as StagedRows (`rows`, SQLite)."""

    cursor: str | None
    more: bool
    changes: int
    departures: dict[str, int]
    indexes: tuple[str, ...]
    copy: bytes = b""
    rows: tuple[StagedRow, ...] = ()

    @property
    def last(self) -> bool:
        return not self.more or not self.changes


def read_ahead(job: Job, after: str | None) -> Iterator[Prepared]:
    """The feed after `after`, batch by batch, from a reader process started for it (ended when the
    iteration ends or is abandoned)."""
    received, sending = PROCESSES.Pipe(duplex=False)
    process = PROCESSES.Process(target=_serve, args=(job, after, sending), name="registry-feed", daemon=True)
    process.start()
    sending.close()  # the reader holds the only sending end: its end reads as EOF here
    try:
        yield from _received(received)
    finally:
        received.close()
        process.terminate()
        process.join()
        process.close()


def _received(received: Connection) -> Iterator[Prepared]:
    while True:
        try:
            sent = received.recv()
        except EOFError:
            raise ReaderStopped("the registry feed reader ended without handing over its batch") from None
        if isinstance(sent, BaseException):
            raise sent
        yield sent
        if sent.last:
            return


def _serve(job: Job, after: str | None, out: Connection) -> None:
    """The reader process: prepare and send batch after batch until the last one or a failure."""
    try:
        while True:
            try:
                batch = prepare(job, after)
            except Exception as error:  # handed to the sync, which raises it
                out.send(_sendable(error))
                return
            out.send(batch)
            if batch.last:
                return
            after = batch.cursor
    except (BrokenPipeError, KeyboardInterrupt):  # the sync is gone or interrupted: nobody to hand over to
        return
    finally:
        out.close()


def _sendable(error: Exception) -> Exception:
    """The failure, with the reader's traceback as a note; a RuntimeError naming it if it cannot be sent."""
    error.add_note("in the registry feed reader:\n" + "".join(traceback.format_tb(error.__traceback__)))
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # any failure to pickle or rebuild it
        return RuntimeError(f"the registry feed reader failed: {type(error).__name__}: {error}")
    return error


def prepare(job: Job, after: str | None) -> Prepared:
    """One batch's pages as one, and every row built. Every ID number of a record is encrypted here:
    at 4 µs, that costs less than asking the database which ones it holds; a known resident's row keeps
    the ciphertext it has."""
    page = _pages(job.source, after, job.size, job.limit)
    latest = _latest_per_person(page.changes)
    indexes = {id_number: job.keys.blind_index(id_number) for id_number in latest}
    rows = _rows(job, latest, indexes)
    departures = {indexes[n]: change.seq for n, change in latest.items() if change.record is None}
    built = (copy_text(rows), ()) if job.as_copy else (b"", tuple(rows))
    return Prepared(
        page.cursor, page.more, len(page.changes), departures, tuple(row.id_number_index for row in rows), *built
    )


def _rows(job: Job, latest: dict[str, Change], indexes: dict[str, str]) -> list[StagedRow]:
    """The row of each person's latest change with a record, their ID numbers encrypted in one go."""
    recorded = [(id_number, change) for id_number, change in latest.items() if change.record is not None]
    tokens = job.keys.encrypt_many([id_number for id_number, _ in recorded])
    now = job.clock.now()
    return [
        _row(change, indexes[id_number], token, public_id, now)
        for (id_number, change), token, public_id in zip(recorded, tokens, new_public_ids(len(recorded)), strict=True)
    ]


def _pages(source: FeedSource, after: str | None, size: int, limit: int) -> ChangePage:
    """Pages from `after` until `size` changes or the end of the feed, joined (the last one's cursor)."""
    joined = ChangePage((), after, True)
    while len(joined.changes) < size and joined.more:
        page = source.changes(joined.cursor, min(size - len(joined.changes), limit))
        if not page.changes:  # the end: an empty page's cursor adds nothing
            return page if not joined.changes else ChangePage(joined.changes, joined.cursor, False)
        joined = ChangePage(joined.changes + page.changes, page.cursor, page.more)
    return joined


def _latest_per_person(changes: tuple[Change, ...]) -> dict[str, Change]:
    """A later seq supersedes an earlier one for the same person (§3a)."""
    latest: dict[str, Change] = {}
    for change in changes:
        if change.id_number not in latest or latest[change.id_number].seq < change.seq:
            latest[change.id_number] = change
    return latest


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


# A page's categories and paid years repeat from person to person: each set is sorted and dumped once.
@functools.lru_cache(maxsize=4096)
def _json(values: frozenset) -> str:
    return json.dumps(sorted(values))


def copy_text(rows: list[StagedRow]) -> bytes:
    """The rows in COPY's text format, as psycopg's own `Copy.write_row` writes them (its formatter is
    not public API: pinned psycopg, and a test compares with what `write_row` sends)."""
    formatter = TextFormatter(Transformer())
    return b"".join([*(formatter.write_row(row) for row in rows), formatter.end()])
