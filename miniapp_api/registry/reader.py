"""The reader of `registry sync`, in a process of its own: it reads the next batch of the agency's change
feed and builds its rows (blind index, encrypted ID number, masked one, public id; for PostgreSQL already
as COPY's text) while the sync applies the batch before.

Why a process and not a thread: reading and building a row is about 30 µs of Python. In a thread it
took turns with the apply under the one interpreter lock (17,000 records/s at 1,000,000 residents, on
two cores); handed ready rows, the apply and PostgreSQL alone do 46,000–60,000 (docs/performance.md).

The reader runs one batch ahead: it hands a batch over and waits for the sync's word that it took it,
then reads the next. It never touches the database, so killing either process loses nothing committed,
and a rerun reads again from the stored cursor. When the sync is gone (killed), the reader's next wait
or send fails and it ends. A failure of the reader (the agency unreachable, a malformed page) is sent
on and raised where its batch is taken, after the batches before it committed.

Starting the first reader of a process takes about a second (the forkserver imports the app), each
later one about 0.1 s. Like every multiprocessing child, a reader re-imports its parent's main script:
a script that runs a sync itself needs the `if __name__ == "__main__":` guard (`flask` has it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import multiprocessing
import pickle
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import NamedTuple, Protocol, TypeVar

from psycopg._copy_base import TextFormatter  # COPY's own row format, outside a connection
from psycopg.adapt import Transformer

from integrations.agency import Change, ChangePage, RegistryRecord
from miniapp_api.core.clock import Clock
from miniapp_api.core.pii import IdCipher
from models.resident import new_public_ids
from policy.id_number import mask

# A fresh interpreter forks the readers (not this process, whose database connections a fork would
# share); it imports this module once, so a reader starts in about 0.1 s. (The preload list is the
# forkserver's, shared by whatever else in this process starts forkserver processes: nothing does.)
PROCESSES = multiprocessing.get_context("forkserver")
PROCESSES.set_forkserver_preload([__name__])
READER_NAME = "registry-feed"
T = TypeVar("T")
TAKEN = b"taken"  # the sync's answer to each batch it takes
ENDING_SECONDS = 5.0  # for a reader that handed over its last batch or its failure to exit


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
    """What a reader needs: the feed, the batch size and page limit, the ID keys (`pii.cipher_keys()`:
    the reader builds its own cipher), the clock, and whether the rows go as COPY text (PostgreSQL) or
    as StagedRows (SQLite)."""

    source: FeedSource
    size: int  # changes per batch
    limit: int  # changes per feed page
    keys: tuple[str, tuple[str, ...]]
    clock: Clock
    as_copy: bool


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
    iteration ends or is closed)."""
    here, there = PROCESSES.Pipe()
    process = PROCESSES.Process(target=_serve, args=(job, after, there), name=READER_NAME, daemon=True)
    process.start()
    there.close()  # the reader holds the only other end: its end reads as EOF here
    try:
        yield from _received(here)
    except GeneratorExit:  # closed early: the reader may be in the middle of a read
        process.terminate()
        raise
    finally:
        here.close()
        _ended(process)


def _ended(process: BaseProcess) -> None:
    """Wait for a reader that handed over its last batch or its failure to end by itself (signalling
    it while it exits would kill it mid-exit); one that does not is terminated."""
    process.join(ENDING_SECONDS)
    if process.exitcode is None:
        process.terminate()
        process.join()
    process.close()


def _received(here: Connection) -> Iterator[Prepared]:
    while True:
        sent = _exchange(here.recv)
        if isinstance(sent, BaseException):
            raise sent
        if not sent.last:
            with contextlib.suppress(OSError):  # a reader gone meanwhile: the next receive says so
                here.send(TAKEN)  # the reader reads the next batch while this one is applied
        yield sent
        if sent.last:
            return


def _exchange(step: Callable[[], T]) -> T:
    try:
        return step()
    except (EOFError, OSError):  # ended before or in the middle of its message
        raise ReaderStopped("the registry feed reader ended without handing over its batch") from None


def _serve(job: Job, after: str | None, there: Connection) -> None:
    """The reader process: hand over batch after batch until the last one or a failure."""
    try:
        _hand_over(job, after, there)
    except (EOFError, OSError, KeyboardInterrupt):  # the sync is gone or interrupted: nobody to hand over to
        return
    finally:
        there.close()


def _hand_over(job: Job, after: str | None, there: Connection) -> None:
    """Prepare a batch, send it, and once the sync took it read the next; a failure is sent instead."""
    keys: IdCipher | None = None
    while True:
        try:
            keys = keys or IdCipher(*job.keys)
            batch = prepare(job, keys, after)
        except Exception as error:  # handed to the sync, which raises it
            there.send(_sendable(error))
            return
        there.send(batch)
        if batch.last:
            return
        there.recv()  # taken
        after = batch.cursor


def _sendable(error: Exception) -> Exception:
    """The failure, with the reader's traceback as a note; a RuntimeError naming its type (never its
    message: an unknown exception's may hold an ID number) if it cannot be sent."""
    error.add_note("in the registry feed reader:\n" + "".join(traceback.format_tb(error.__traceback__)))
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # any failure to pickle or rebuild it
        return RuntimeError(f"the registry feed reader failed: {type(error).__name__}")
    return error


def prepare(job: Job, keys: IdCipher, after: str | None) -> Prepared:
    """One batch's pages as one, and every row built. Every ID number of a record is encrypted here:
    at 4 µs, that costs less than asking the database which ones it holds; a known resident's row keeps
    the ciphertext it has."""
    page = _pages(job.source, after, job.size, job.limit)
    latest = _latest_per_person(page.changes)
    indexes = {id_number: keys.blind_index(id_number) for id_number in latest}
    rows = _rows(keys, job.clock.now(), latest, indexes)
    departures = {indexes[n]: change.seq for n, change in latest.items() if change.record is None}
    built = (copy_text(rows), ()) if job.as_copy else (b"", tuple(rows))
    return Prepared(
        page.cursor, page.more, len(page.changes), departures, tuple(row.id_number_index for row in rows), *built
    )


def _rows(keys: IdCipher, now: dt.datetime, latest: dict[str, Change], indexes: dict[str, str]) -> list[StagedRow]:
    """The row of each person's latest change with a record, their ID numbers encrypted in one go."""
    recorded = [(id_number, change) for id_number, change in latest.items() if change.record is not None]
    tokens = keys.encrypt_many([id_number for id_number, _ in recorded])
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
    """The rows in COPY's text format, UTF-8, as psycopg's own `Copy.write_row` writes them on a UTF-8
    connection (its formatter is not public API: psycopg is pinned, and a test COPYs the same rows both
    ways and compares what the tables hold)."""
    formatter = TextFormatter(Transformer())
    return b"".join([*(formatter.write_row(row) for row in rows), formatter.end()])
