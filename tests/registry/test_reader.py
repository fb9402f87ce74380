"""The registry sync's reader process (registry/reader.py): batches handed over in order, its failures
raised where their batch is taken, and no reader left behind when the sync stops or dies."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import struct
import time
from pathlib import Path

import pytest

from integrations.agency import Change, ChangePage, RegistryRecord
from integrations.errors import UpstreamError
from miniapp_api.core.clock import Clock
from miniapp_api.core.pii import IdCipher
from miniapp_api.registry import reader
from policy.id_number import make
from tests.support.waiting import wait_until

KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes, URL-safe base64
NOW = dt.datetime(2027, 3, 2, 2, tzinfo=dt.timezone.utc)
PER_PAGE = 2


def person(i: int) -> str:
    return make("140105", dt.date(1960, 1, 1) + dt.timedelta(days=i), 1)


def change(i: int, name: str = "王建国") -> Change:
    number = person(i)
    record = RegistryRecord(
        id_number=number, name=name, gender="M", birth_date=dt.date(1960, 1, 1), region_code="140105",
        region_name="太原市小店区", paid_years=frozenset({2026, 2019}), receiving=False,
        categories=frozenset({"dibao"}), supporter_capable=True, supporters=(), registration_updated_on=None,
        deceased_on=None,
    )  # fmt: skip
    return Change(i + 1, number, None if i % 3 == 2 else record)


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("not this one")


AGENCY_DOWN = UpstreamError("agency_unavailable", "HTTP 502 for the change feed")
FAILURES = {"agency down": AGENCY_DOWN, "unpicklable": Unpicklable("boom")}


class Feed:
    """A picklable stand-in for the agency: `pages` pages of PER_PAGE changes, then `then` happens
    instead of the next page ("kill": the reader process kills itself; else FAILURES[then] is raised).
    Each call writes the reader's pid to `pid_file` (and its `after` to `log`, if given)."""

    def __init__(self, pages: int, pid_file: Path, then: str | None = None, log: Path | None = None):
        self.pages, self.pid_file, self.then, self.log = pages, pid_file, then, log

    def changes(self, after: str | None = None, limit: int = 500) -> ChangePage:
        if self.log is not None:
            with self.log.open("a") as log:
                log.write(f"{after}\n")
        written = self.pid_file.with_suffix(".new")  # replaced whole: the reader may be ended mid-write
        written.write_text(str(os.getpid()))
        written.replace(self.pid_file)
        done = 0 if after is None else int(after)
        if done == self.pages * PER_PAGE and self.then == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if done == self.pages * PER_PAGE and self.then is not None:
            raise FAILURES[self.then]
        stop = min(done + PER_PAGE, self.pages * PER_PAGE)
        more = stop < self.pages * PER_PAGE or self.then is not None
        return ChangePage(tuple(change(i) for i in range(done, stop)), str(stop), more)


class Recorded(reader.PROCESSES.Process):  # type: ignore[name-defined,misc]
    """A reader process whose terminations are counted (in the sync's process, where they are sent)."""

    terminated: list[str] = []

    def terminate(self) -> None:
        Recorded.terminated.append(self.name)
        super().terminate()


@pytest.fixture
def terminations(monkeypatch) -> list[str]:
    monkeypatch.setattr(reader.PROCESSES, "Process", Recorded)
    Recorded.terminated.clear()
    return Recorded.terminated


def job(feed: Feed, as_copy: bool = False) -> reader.Job:
    return reader.Job(feed, PER_PAGE, PER_PAGE, (KEY, ()), Clock(NOW), as_copy)


def gone(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (ProcessLookupError, PermissionError):  # ended (or its pid since taken by another user's)
        return True
    return False


def test_batches_come_in_feed_order_built_in_another_process(tmp_path):
    pid_file = tmp_path / "pid"
    batches = list(reader.read_ahead(job(Feed(3, pid_file)), None))
    assert [(batch.cursor, batch.more, batch.changes) for batch in batches] == [
        ("2", True, 2),
        ("4", True, 2),
        ("6", False, 2),
    ]
    keys = IdCipher(KEY)
    rows = [row for batch in batches for row in batch.rows]
    assert [row.id_number_index for row in rows] == [keys.blind_index(person(i)) for i in (0, 1, 3, 4)]
    assert [keys.decrypt(row.id_number_encrypted) for row in rows] == [person(i) for i in (0, 1, 3, 4)]
    assert batches[1].departures == {keys.blind_index(person(2)): 3} and batches[2].departures == {
        keys.blind_index(person(5)): 6
    }
    assert {row.registry_synced_at for row in rows} == {NOW} and int(pid_file.read_text()) != os.getpid()
    assert gone(pid_file)


def test_a_batch_for_postgres_holds_its_rows_as_the_copy_text_psycopg_writes(tmp_path):
    (first,) = list(reader.read_ahead(job(Feed(1, tmp_path / "pid"), as_copy=True), None))
    keys = IdCipher(KEY)
    lines = first.copy.decode().splitlines()
    assert first.rows == () and len(lines) == 2 and first.copy.endswith(b"\n")
    fields = lines[0].split("\t")
    assert fields[1:2] + fields[4:] == [
        keys.blind_index(person(0)), "王建国", "M", "1960-01-01", "140105", "太原市小店区", '["dibao"]', "t", "f",
        "[2019, 2026]", r"\N", r"\N", "t", "1", "2027-03-02 02:00:00+00:00",
    ]  # fmt: skip
    assert keys.decrypt(fields[2]) == person(0) and fields[3] == person(0)[:4] + "*" * 10 + person(0)[-4:]


@pytest.mark.parametrize("name", ["王\t建国", "王\\N", "王\n建国", "\\.", "王\r国"])
def test_copy_text_escapes_what_copy_would_read_as_a_separator_or_a_null(name):
    """COPY's text format: tab, newline, carriage return and backslash escaped, so a field stays one field."""
    row = reader._row(change(0, name), "i", "e", "p", NOW)
    (line,) = reader.copy_text([row]).decode().split("\n")[:-1]
    escaped = name.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    assert line.split("\t")[4] == escaped and len(line.split("\t")) == len(reader.StagedRow._fields)


def test_the_readers_failure_is_raised_where_its_batch_is_taken_after_the_ones_before(tmp_path):
    batches = reader.read_ahead(job(Feed(1, tmp_path / "pid", then="agency down")), None)
    assert next(batches).cursor == "2"
    with pytest.raises(UpstreamError) as raised:
        next(batches)
    failure = raised.value
    assert (failure.code, failure.detail, failure.status) == ("agency_unavailable", AGENCY_DOWN.detail, 503)
    assert any("in the registry feed reader" in note for note in failure.__notes__)


def test_a_failure_that_cannot_cross_the_pipe_arrives_as_a_runtime_error_naming_its_type_only(tmp_path):
    with pytest.raises(RuntimeError, match="failed: Unpicklable$"):  # its message might hold an ID number
        list(reader.read_ahead(job(Feed(1, tmp_path / "pid", then="unpicklable")), None))


def test_a_reader_ended_in_the_middle_of_its_message_is_reader_stopped():
    here, there = multiprocessing.Pipe()
    os.write(there.fileno(), struct.pack("!i", 100_000) + b"part of a batch")  # a message's length, then less
    there.close()
    with pytest.raises(reader.ReaderStopped):
        next(reader._received(here))


def test_a_reader_killed_mid_feed_stops_the_sync_with_reader_stopped(tmp_path):
    batches = reader.read_ahead(job(Feed(1, tmp_path / "pid", then="kill")), None)
    assert next(batches).changes == PER_PAGE
    with pytest.raises(reader.ReaderStopped):
        next(batches)


def test_a_sync_that_stops_taking_batches_ends_its_reader(tmp_path, terminations):
    pid_file = tmp_path / "pid"
    batches = reader.read_ahead(job(Feed(50, pid_file)), None)
    next(batches)
    wait_until(pid_file.exists, what="the reader's first read")
    batches.close()
    assert gone(pid_file) and terminations == [reader.READER_NAME]


def test_a_reader_that_handed_over_its_last_batch_or_its_failure_ends_unsignalled(tmp_path, terminations):
    assert len(list(reader.read_ahead(job(Feed(3, tmp_path / "pid")), None))) == 3
    with pytest.raises(UpstreamError):
        list(reader.read_ahead(job(Feed(1, tmp_path / "pid", then="agency down")), None))
    assert terminations == []


def test_a_reader_reads_a_batch_ahead_of_the_sync_not_more(tmp_path):
    """Batches small enough to pile up in the pipe still wait for the sync to take the one before."""
    pid_file, reads = tmp_path / "pid", tmp_path / "reads"
    batches = reader.read_ahead(job(Feed(20, pid_file, log=reads)), None)
    next(batches)
    wait_until(lambda: len(reads.read_text().split()) == 2, what="the read of the second batch")
    time.sleep(0.5)  # time enough to read many more, were it not waiting
    assert reads.read_text().split() == ["None", "2"]
    batches.close()
