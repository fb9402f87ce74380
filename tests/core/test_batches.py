"""core/batches.py: keyset batches with a commit each, resumable, `--dry-run`, progress, one JSON line."""

from __future__ import annotations

import datetime as dt
import io
import json

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from prometheus_client import REGISTRY

from miniapp_api.core import batches
from models import EntryKind, Funder, LedgerEntry, Resident, db, insert_skipping_conflicts
from tests.support import factories

BOOKED = dt.datetime(2027, 12, 31, 15, 59, 59, tzinfo=dt.timezone.utc)


def _credit(ids: list[int], fail_on: int | None = None) -> dict[str, int]:
    """Idempotent per row: one interest entry of 100 fen per resident (the unique interest index)."""
    rows = [
        dict(
            resident_id=i,
            year=2027,
            kind=EntryKind.INTEREST,
            amount_fen=100,
            funder=Funder.BOOKKEEPING_INTEREST,
            booked_at=BOOKED,
        )
        for i in ids
    ]
    statement = insert_skipping_conflicts(LedgerEntry, ["resident_id", "year"], sa.text("kind = 'interest'"))
    new = len(db.session.execute(statement.returning(LedgerEntry.id), rows).all())
    if fail_on in ids:
        raise RuntimeError("crash in the middle of a batch")
    return {"credited": new, "amount_fen": 100 * new}


def _residents(count: int) -> list[int]:
    ids = [factories.resident().id for _ in range(count)]
    db.session.commit()
    return ids


def _entries() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))


def _all_ids(size: int):
    return batches.id_batches(sa.select(Resident.id), Resident.id, size)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_keyset_pages_cover_every_id_once_in_order(app):
    with app.app_context():
        ids = _residents(5)
        assert list(_all_ids(2)) == [ids[0:2], ids[2:4], ids[4:5]]


def test_each_batch_commits_so_a_crash_loses_one_batch_and_a_rerun_continues(app):
    with app.app_context():
        ids = _residents(5)
        out = io.StringIO()
        with pytest.raises(RuntimeError):
            batches.run(batches.Summary("t"), _all_ids(2), lambda b: _credit(b, fail_on=ids[2]), out)
        assert _entries() == 2 and out.getvalue() == ""  # the first batch stayed; the second rolled back
        summary = batches.run(batches.Summary("t"), _all_ids(2), _credit, out)
        assert _entries() == 5 and summary["credited"] == 3 and summary.batches == 3


@pytest.mark.parametrize("stop", ["a batch fails", "the caller stops between batches"])
def test_the_batches_iterator_is_closed_however_the_run_ends(app, stop):
    """A generator of batches (the registry sync's owns a reader process) is cleaned up when the run
    ends, not whenever the traceback holding it is let go."""
    closed = []

    def pages():
        try:
            yield from ([1], [2], [3])
        finally:
            closed.append(True)

    def work(batch):
        if batch == [2] and stop == "a batch fails":
            raise RuntimeError("crash in the second batch")
        return {"done": 1}

    source = pages()  # held here: only each_batch's own close can end it before the test does
    with app.app_context():
        running = batches.each_batch(batches.Summary("t"), source, work)
        next(running)
        if stop == "a batch fails":
            with pytest.raises(RuntimeError):
                next(running)
        else:
            running.close()
    assert closed == [True]


def test_a_dry_run_computes_the_same_summary_and_writes_nothing(app):
    with app.app_context():
        _residents(3)
        dry = batches.run(
            batches.Summary("t", dry_run=True, fields={"year": 2027}), _all_ids(2), _credit, io.StringIO()
        )
        assert _entries() == 0
        real = batches.run(batches.Summary("t", fields={"year": 2027}), _all_ids(2), _credit, io.StringIO())
        assert dry.counts == real.counts == {"credited": 3, "amount_fen": 300} and _entries() == 3


def test_the_output_is_one_json_line_and_progress_only_on_a_terminal(app):
    with app.app_context():
        _residents(3)
        piped = io.StringIO()
        batches.run(batches.Summary("interest credit", fields={"year": 2027}), _all_ids(2), _credit, piped)
        lines = piped.getvalue().splitlines()
        assert len(lines) == 1
        line = json.loads(lines[0])
        assert line["command"] == "interest credit" and line["dry_run"] is False and line["year"] == 2027
        assert (line["batches"], line["credited"], line["amount_fen"]) == (2, 3, 300)
        terminal = Terminal()
        batches.run(batches.Summary("interest credit", dry_run=True), _all_ids(2), _credit, terminal)
        shown = terminal.getvalue()
        assert "\rinterest credit: batch 1, amount_fen 0, credited 0" in shown
        assert json.loads(shown.splitlines()[-1])["batches"] == 2


def _command(calls: list):
    @click.command()
    @batches.batch_command("test_batch_helper")
    def command(dry_run: bool, batch_size: int) -> None:
        calls.append((dry_run, batch_size))

    return command


def _last_success() -> float | None:
    return REGISTRY.get_sample_value("batch_job_last_success_timestamp_seconds", {"job": "test_batch_helper"})


def test_every_batch_command_gets_dry_run_and_only_real_runs_count_as_success():
    calls: list = []
    assert CliRunner().invoke(_command(calls), ["--dry-run", "--batch-size", "7"]).exit_code == 0
    assert calls == [(True, 7)] and _last_success() is None
    assert CliRunner().invoke(_command(calls), []).exit_code == 0
    assert calls[-1] == (False, batches.DEFAULT_BATCH_SIZE) and _last_success() is not None


@pytest.mark.postgres_only
def test_no_row_lock_is_held_between_batches(pg_app):
    with pg_app.app_context():
        ids = _residents(4)
        running = batches.each_batch(batches.Summary("t"), _all_ids(2), lambda b: _lock_and_credit(b))
        next(running)  # paused after the first batch
        with db.engine.connect() as other:
            locked = other.execute(
                sa.text("SELECT id FROM residents WHERE id = :id FOR UPDATE NOWAIT"), {"id": ids[0]}
            ).scalar_one()
            other.rollback()
        assert locked == ids[0]
        assert [s.batches for s in running] == [2]


def _lock_and_credit(ids: list[int]) -> dict[str, int]:
    db.session.execute(sa.select(Resident.id).where(Resident.id.in_(ids)).with_for_update()).all()
    return _credit(ids)
